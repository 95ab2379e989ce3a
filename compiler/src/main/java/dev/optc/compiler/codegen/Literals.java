package dev.optc.compiler.codegen;

/**
 * Bit-exact float literals for generated code (Halide's habit): an integer-valued float as a short
 * decimal, anything else as a hexadecimal float with its decimal in a comment. Hex float literals read
 * the same in Java, C99 (OpenCL C) and C++17 (CUDA). Non-finite values differ per language.
 *
 * @param nan the language's NaN
 * @param infinity the language's +infinity (negated for -infinity)
 */
public record Literals(String nan, String infinity) {
  public static final Literals JAVA_FLOAT = new Literals("Float.NaN", "Float.POSITIVE_INFINITY");
  public static final Literals C_FLOAT = new Literals("(0.0f / 0.0f)", "(1.0f / 0.0f)");

  /** {@code v} rounded to float32, as a float literal. */
  public String f32(double v) {
    float f = (float) v;
    if (Float.isNaN(f)) {
      return nan;
    }
    if (Float.isInfinite(f)) {
      return f > 0 ? infinity : "(-" + infinity + ")";
    }
    if (f == Math.rint(f) && Math.abs(f) < 1 << 24 && !(f == 0 && 1 / f < 0)) {
      return (long) f + ".0f";
    }
    return Float.toHexString(f) + "f /* " + f + " */";
  }

  /** {@code v} as a Java double literal. */
  public static String f64(double v) {
    if (Double.isNaN(v)) {
      return "Double.NaN";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "Double.POSITIVE_INFINITY" : "Double.NEGATIVE_INFINITY";
    }
    if (v == Math.rint(v) && Math.abs(v) < 1L << 53 && !(v == 0 && 1 / v < 0)) {
      return (long) v + ".0";
    }
    return Double.toHexString(v) + " /* " + v + " */";
  }
}
