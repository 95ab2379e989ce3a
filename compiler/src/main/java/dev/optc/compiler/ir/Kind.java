package dev.optc.compiler.ir;

/**
 * How many values a node has per tensor (DSL.md §5): {@code CONST} < {@code UNIFORM} < {@code ROW},
 * {@code COL} < {@code ELEM}. An operation takes the widest kind of its operands; {@code ROW} joined
 * with {@code COL} is {@code ELEM} (an outer-product broadcast).
 *
 * <p>The Gram kinds of matrix products (DSL.md §11): {@code RR} is rows × rows ({@code mm(x, tr(x))} of an
 * elem x), {@code CC} cols × cols. They combine elementwise only with their own kind and with uniforms
 * ({@link #mixes}); a phase computes values of one of {@code ELEM}, {@code RR}, {@code CC} only.
 */
public enum Kind {
  CONST,
  UNIFORM,
  ROW,
  COL,
  ELEM,
  RR,
  CC;

  public Kind join(Kind other) {
    if (!mixes(other)) {
      throw new IllegalArgumentException("a " + label() + " value does not combine with a " + other.label() + " one");
    }
    if ((this == ROW && other == COL) || (this == COL && other == ROW)) {
      return ELEM;
    }
    return ordinal() >= other.ordinal() ? this : other;
  }

  /**
   * Whether values of this kind and {@code other} combine elementwise: anything with a uniform, the vector
   * and element kinds among themselves, a Gram kind only with itself.
   */
  public boolean mixes(Kind other) {
    if (isUniform() || other.isUniform() || this == other) {
      return true;
    }
    return !isGram() && !other.isGram();
  }

  /**
   * One value per entry of a phase's matrix: {@code ELEM}, or a Gram kind in a phase over that Gram matrix
   * (code generators index the three alike; the runtime passes the phase's own segment table).
   */
  public boolean isEntry() {
    return this == ELEM || isGram();
  }

  /** {@code RR} or {@code CC}: a Gram matrix of the tensor's matrix view. */
  public boolean isGram() {
    return this == RR || this == CC;
  }

  /** Whether a value of kind {@code value} can be stored where this kind is expected. */
  public boolean accepts(Kind value) {
    return switch (this) {
      case CONST -> value == CONST;
      case UNIFORM -> value == CONST || value == UNIFORM;
      case ROW -> value != COL && value != ELEM && !value.isGram();
      case COL -> value != ROW && value != ELEM && !value.isGram();
      case ELEM -> !value.isGram();
      case RR, CC -> value == this || value.isUniform();
    };
  }

  /** At most one value per tensor. */
  public boolean isUniform() {
    return this == CONST || this == UNIFORM;
  }

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  /** The label with its article, as a message says it: "an elem", "an rr", "a cc", "a row". */
  public String withArticle() {
    return (this == ELEM || this == RR ? "an " : "a ") + label();
  }

  /**
   * The matrix shape of a value of this kind in the tensor's sizes, e.g. {@code rows × cols} for elem; a row
   * value is a column vector of {@code rows}, a col value a row vector of {@code cols}.
   */
  public String shape() {
    return switch (this) {
      case CONST, UNIFORM -> "1 × 1";
      case ROW -> "rows × 1";
      case COL -> "1 × cols";
      case ELEM -> "rows × cols";
      case RR -> "rows × rows";
      case CC -> "cols × cols";
    };
  }
}
