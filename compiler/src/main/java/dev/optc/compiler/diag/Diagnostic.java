package dev.optc.compiler.diag;

import java.util.Comparator;

/**
 * One problem in a program: where, what and what to do about it.
 *
 * @param hint what to do, or null when there is nothing useful to say
 */
public record Diagnostic(DiagnosticCode code, Span span, String message, String hint) {

  public static final Comparator<Diagnostic> BY_POSITION =
      Comparator.<Diagnostic>comparingInt(d -> d.span().start())
          .thenComparing(d -> d.code().id());

  public Severity severity() {
    return code.severity();
  }

  public boolean isError() {
    return code.severity() == Severity.ERROR;
  }

  /**
   * Renders as DSL.md §9: {@code file:line:col: error: message}, the source line, a caret under the span
   * and the hint.
   *
   * @param withCode append the stable code, e.g. {@code [E010]}, to the first line
   */
  public String render(boolean withCode) {
    var file = span.file();
    int line = span.line();
    int col = span.column();
    var text = file.line(line);
    var sb = new StringBuilder();
    sb.append(file.name()).append(':').append(line).append(':').append(col).append(": ")
        .append(code.severity().label()).append(": ").append(message);
    if (withCode) {
      sb.append(" [").append(code.id()).append(']');
    }
    sb.append('\n').append("    ").append(text).append('\n').append("    ");
    // Copy tabs from the line so the caret lines up whatever the terminal's tab width.
    for (int i = 0; i < col - 1 && i < text.length(); i++) {
      sb.append(text.charAt(i) == '\t' ? '\t' : ' ');
    }
    int width = Math.max(1, Math.min(span.end() - span.start(), text.length() - (col - 1)));
    sb.append('^').append("~".repeat(Math.max(0, width - 1))).append('\n');
    if (hint != null) {
      sb.append("  hint: ").append(hint).append('\n');
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    return span + ": " + code.severity().label() + ": " + message + " [" + code.id() + "]";
  }
}
