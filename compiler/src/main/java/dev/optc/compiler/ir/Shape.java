package dev.optc.compiler.ir;

import java.util.Locale;
import java.util.Optional;

/** The shape of a state (DSL.md §3): one value per element, per row, per column, or per tensor. */
public enum Shape {
  ELEM(Kind.ELEM),
  ROW(Kind.ROW),
  COL(Kind.COL),
  SCALAR(Kind.UNIFORM);

  private final Kind kind;

  Shape(Kind kind) {
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Optional<Shape> parse(String name) {
    for (var s : values()) {
      if (s.label().equals(name)) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }
}
