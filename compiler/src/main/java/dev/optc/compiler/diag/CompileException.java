package dev.optc.compiler.diag;

import java.util.List;

/** The user's program has errors; {@link #diagnostics()} holds all of them (and any warnings). */
public final class CompileException extends Exception {
  private static final long serialVersionUID = 1L;
  private final transient List<Diagnostic> diagnostics;

  public CompileException(List<Diagnostic> diagnostics) {
    super(diagnostics.stream().filter(Diagnostic::isError).findFirst().map(Diagnostic::toString)
        .orElse("compile error"));
    this.diagnostics = List.copyOf(diagnostics);
  }

  public List<Diagnostic> diagnostics() {
    return diagnostics;
  }

  /** Every diagnostic rendered as DSL.md §9 shows them. */
  public String render() {
    var sb = new StringBuilder();
    diagnostics.forEach(d -> sb.append(d.render(false)));
    return sb.toString();
  }
}
