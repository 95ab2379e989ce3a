package dev.optc.compiler.ir;

/**
 * How many values a node has per tensor (DSL.md §5): {@code CONST} < {@code UNIFORM} < {@code ROW},
 * {@code COL} < {@code ELEM}. An operation takes the widest kind of its operands; {@code ROW} joined
 * with {@code COL} is {@code ELEM} (an outer-product broadcast).
 */
public enum Kind {
  CONST,
  UNIFORM,
  ROW,
  COL,
  ELEM;

  public Kind join(Kind other) {
    if ((this == ROW && other == COL) || (this == COL && other == ROW)) {
      return ELEM;
    }
    return ordinal() >= other.ordinal() ? this : other;
  }

  /** Whether a value of kind {@code value} can be stored where this kind is expected. */
  public boolean accepts(Kind value) {
    return switch (this) {
      case CONST -> value == CONST;
      case UNIFORM -> value == CONST || value == UNIFORM;
      case ROW -> value != COL && value != ELEM;
      case COL -> value != ROW && value != ELEM;
      case ELEM -> true;
    };
  }

  /** At most one value per tensor. */
  public boolean isUniform() {
    return this == CONST || this == UNIFORM;
  }

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
