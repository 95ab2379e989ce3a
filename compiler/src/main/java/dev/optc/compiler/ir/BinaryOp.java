package dev.optc.compiler.ir;

/** Elementwise two-argument operations. {@link #apply} is the float64 meaning used for folding. */
public enum BinaryOp {
  ADD("+", true),
  SUB("-", false),
  MUL("*", true),
  DIV("/", false),
  POW("^", false),
  MIN("min", true),
  MAX("max", true),
  LT("<", false),
  LE("<=", false),
  GT(">", false),
  GE(">=", false),
  EQ("==", true),
  NE("!=", true),
  AND("and", true),
  OR("or", true);

  private final String symbol;
  private final boolean commutative;

  BinaryOp(String symbol, boolean commutative) {
    this.symbol = symbol;
    this.commutative = commutative;
  }

  public String symbol() {
    return symbol;
  }

  /** a op b == b op a for every pair of floats, NaN and signed zeros included. */
  public boolean commutative() {
    return commutative;
  }

  public boolean isComparison() {
    return switch (this) {
      case LT, LE, GT, GE, EQ, NE -> true;
      case ADD, SUB, MUL, DIV, POW, MIN, MAX, AND, OR -> false;
    };
  }

  public double apply(double a, double b) {
    return switch (this) {
      case ADD -> a + b;
      case SUB -> a - b;
      case MUL -> a * b;
      case DIV -> a / b;
      case POW -> Math.pow(a, b);
      // NaN-propagating, like torch.minimum / torch.maximum.
      case MIN -> Math.min(a, b);
      case MAX -> Math.max(a, b);
      case LT -> a < b ? 1 : 0;
      case LE -> a <= b ? 1 : 0;
      case GT -> a > b ? 1 : 0;
      case GE -> a >= b ? 1 : 0;
      case EQ -> a == b ? 1 : 0;
      case NE -> a != b ? 1 : 0;
      case AND -> a != 0 && b != 0 ? 1 : 0;
      case OR -> a != 0 || b != 0 ? 1 : 0;
    };
  }
}
