package dev.optc.compiler.ir;

/** Elementwise two-argument operations. {@link #apply} is the float64 meaning used for folding. */
public enum BinaryOp {
  ADD("+", true),
  SUB("-", false),
  MUL("*", true),
  DIV("/", false),
  /** Floored modulo: the result has the divisor's sign (Python's float {@code %}); {@code x % 0} is NaN. */
  MOD("%", false),
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
      case ADD, SUB, MUL, DIV, MOD, POW, MIN, MAX, AND, OR -> false;
    };
  }

  public double apply(double a, double b) {
    return switch (this) {
      case ADD -> a + b;
      case SUB -> a - b;
      case MUL -> a * b;
      case DIV -> a / b;
      case MOD -> floorMod(a, b);
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

  /**
   * {@code a} modulo {@code b}, floored: CPython's {@code float_rem} (the remainder of Java's {@code %}, which
   * is C's exact {@code fmod}, moved into the divisor's sign; a zero result takes the divisor's sign), except
   * that {@code a % 0} is NaN where Python raises (torch.remainder's float result). Every backend computes
   * exactly this; rounding the float64 result of two float32 operands to float32 gives the float32 result
   * ({@code fmod} is exact and a sum of two floats is rounded once correctly through double).
   */
  public static double floorMod(double a, double b) {
    double r = a % b;
    if (r != 0) {
      return (r < 0) != (b < 0) ? r + b : r;
    }
    return Math.copySign(0.0, b);
  }

  /** {@link #floorMod(double, double)} in float32. */
  public static float floorMod(float a, float b) {
    float r = a % b;
    if (r != 0) {
      return (r < 0) != (b < 0) ? r + b : r;
    }
    return Math.copySign(0f, b);
  }
}
