package dev.optc.compiler.ir;

/** Elementwise one-argument operations. {@link #apply} is the float64 meaning used for folding. */
public enum UnaryOp {
  NEG("-"),
  NOT("not"),
  ABS("abs"),
  SIGN("sign"),
  SQRT("sqrt"),
  RSQRT("rsqrt"),
  EXP("exp"),
  LOG("log"),
  TANH("tanh"),
  SIN("sin"),
  COS("cos"),
  /** Not in DSL.md §7: added for schedules (step decay, warm restarts); see docs/language.md. */
  FLOOR("floor");

  private final String symbol;

  UnaryOp(String symbol) {
    this.symbol = symbol;
  }

  public String symbol() {
    return symbol;
  }

  public double apply(double x) {
    return switch (this) {
      case NEG -> -x;
      case NOT -> x == 0 ? 1 : 0;
      case ABS -> Math.abs(x);
      // sign(NaN) is 0, as OpenCL's sign() and torch.sign define it.
      case SIGN -> x > 0 ? 1 : x < 0 ? -1 : 0; // sign(-0) = +0 and sign(NaN) = 0, as torch.sign
      case SQRT -> Math.sqrt(x);
      case RSQRT -> 1 / Math.sqrt(x);
      case EXP -> Math.exp(x);
      case LOG -> Math.log(x);
      case TANH -> Math.tanh(x);
      case SIN -> Math.sin(x);
      case COS -> Math.cos(x);
      case FLOOR -> Math.floor(x);
    };
  }
}
