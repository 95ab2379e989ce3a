package dev.optc.compiler.diag;

/**
 * A range {@code [start, end)} of characters in a source file. Every AST node and diagnostic has one.
 * Equality is by file identity and offsets; the file's text is not compared.
 */
public record Span(SourceFile file, int start, int end) {

  public Span {
    if (start < 0 || end < start) {
      throw new IllegalArgumentException("bad span " + start + ".." + end);
    }
  }

  public int line() {
    return file.lineOf(start);
  }

  public int column() {
    return file.columnOf(start);
  }

  /** The smallest span covering both. */
  public Span to(Span other) {
    return new Span(file, Math.min(start, other.start), Math.max(end, other.end));
  }

  public String text() {
    return file.text().substring(start, Math.min(end, file.text().length()));
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Span s && s.file == file && s.start == start && s.end == end;
  }

  @Override
  public int hashCode() {
    return 31 * (31 * System.identityHashCode(file) + start) + end;
  }

  @Override
  public String toString() {
    return file.name() + ":" + line() + ":" + column();
  }
}
