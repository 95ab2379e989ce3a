package dev.optc.compiler.diag;

import java.util.ArrayList;
import java.util.List;

/**
 * The text of one {@code .opt} file and where its lines start, so that a {@link Span} can be shown as
 * {@code file:line:col} with the source line and a caret.
 *
 * @param name the name shown in diagnostics (a path as the user typed it, or a library name)
 * @param text the whole file
 */
public record SourceFile(String name, String text, List<Integer> lineStarts) {

  public SourceFile {
    lineStarts = List.copyOf(lineStarts);
  }

  /**
   * A source file from its text. A leading UTF-8 byte order mark (U+FEFF, as some Windows editors
   * write) is dropped; lines end at LF, CRLF or a lone CR (classic Mac OS), so positions are right
   * whichever an editor wrote.
   */
  public static SourceFile of(String name, String text) {
    if (text.startsWith("\uFEFF")) {
      text = text.substring(1);
    }
    var starts = new ArrayList<Integer>();
    starts.add(0);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n' || c == '\r' && (i + 1 == text.length() || text.charAt(i + 1) != '\n')) {
        starts.add(i + 1);
      }
    }
    return new SourceFile(name, text, starts);
  }

  /** The file's base name without the {@code .opt} extension: the default optimizer name. */
  public String baseName() {
    var base = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
    return base.endsWith(".opt") ? base.substring(0, base.length() - 4) : base;
  }

  /** 1-based line of a 0-based character offset. */
  public int lineOf(int offset) {
    int lo = 0;
    int hi = lineStarts.size() - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (lineStarts.get(mid) <= offset) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo + 1;
  }

  /** 1-based column of a 0-based character offset. */
  public int columnOf(int offset) {
    return offset - lineStarts.get(lineOf(offset) - 1) + 1;
  }

  /** The text of a 1-based line, without its line terminator. */
  public String line(int line) {
    int start = lineStarts.get(line - 1);
    int end = line < lineStarts.size() ? lineStarts.get(line) - 1 : text.length();
    if (end > start && end < text.length() && text.charAt(end) == '\n' && text.charAt(end - 1) == '\r') {
      end--;
    }
    return text.substring(start, Math.max(start, end));
  }

  /** A span of {@code [start, end)} in this file. */
  public Span span(int start, int end) {
    return new Span(this, start, Math.max(start, end));
  }
}
