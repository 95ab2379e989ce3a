package dev.optc.compiler.frontend;

import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.UnaryOp;
import java.util.HashMap;
import java.util.Map;

/**
 * The float64 values of constant expressions as the checker builds them: literals and operations over
 * literals only, folded the way {@code Simplify} folds them later ({@link UnaryOp#apply}, {@link
 * BinaryOp#apply}), so the checker can reject a constant that folds to inf or NaN with the span the
 * user wrote. Memoized per node: nodes are interned, and the checker asks bottom-up.
 */
final class Constants {
  private final Map<Node, Double> memo = new HashMap<>();

  /** The value of {@code n} if it depends on literals only, else null. */
  Double valueOf(Node n) {
    if (n == null) {
      return null;
    }
    if (memo.containsKey(n)) {
      return memo.get(n);
    }
    Double v = switch (n) {
      case Node.Const c -> c.value();
      case Node.Unary u -> valueOf(u.x()) instanceof Double x ? u.op().apply(x) : null;
      case Node.Binary b -> valueOf(b.a()) instanceof Double x && valueOf(b.b()) instanceof Double y
          ? b.op().apply(x, y) : null;
      case Node.Select s -> valueOf(s.cond()) instanceof Double c
          ? (c != 0 || Double.isNaN(c) ? valueOf(s.a()) : valueOf(s.b())) : null;
      case Node.Hyper h -> null;
      case Node.Step s -> null;
      case Node.Size s -> null;
      case Node.Uniform u -> null;
      case Node.Load l -> null;
      case Node.Reduce r -> null;
      case Node.Product m -> null;
    };
    memo.put(n, v);
    return v;
  }

  /**
   * What is wrong with constant {@code v}: inf or NaN, or (when {@code range} counts) a finite value past
   * float32's range ({@code 1.00e+76, past float32's range}); null when nothing is.
   */
  static String problem(double v, boolean range) {
    if (Double.isNaN(v)) {
      return "undefined (NaN)";
    }
    if (Double.isInfinite(v)) {
      return v > 0 ? "+inf" : "-inf";
    }
    return range && Math.abs(v) > Float.MAX_VALUE ? String.format("%.3g", v) + ", past float32's range" : null;
  }

  /** Why constant {@code n} (of value {@code v}) came out so, from its last operation. */
  static String why(Node n, double v) {
    if (Double.isFinite(v)) {
      return "the largest float32 is about 3.4e38; per-tensor and per-element values are float32";
    }
    return switch (n) {
      case Node.Binary b when b.op() == BinaryOp.DIV && b.b() instanceof Node.Const c && c.value() == 0 ->
          "it divides by zero; write the value meant, or add a small eps to the divisor";
      case Node.Binary b when b.op() == BinaryOp.POW -> "the power overflows; the largest float32 is about 3.4e38";
      case Node.Unary u when u.op() == UnaryOp.LOG -> "log is defined for values above 0 only";
      case Node.Unary u when u.op() == UnaryOp.SQRT || u.op() == UnaryOp.RSQRT ->
          u.op().symbol() + " is defined for values " + (u.op() == UnaryOp.SQRT ? "of 0 and above" : "above 0")
              + " only";
      case Node.Unary u when u.op() == UnaryOp.EXP -> "exp overflows above about 88.7 in float32";
      default -> "constants must be finite numbers within float32's range (about 3.4e38)";
    };
  }

  /** Whether a numeric literal's digits (before any exponent) are not all zero. */
  static boolean hasNonZeroDigit(String literal) {
    for (int i = 0; i < literal.length(); i++) {
      char c = literal.charAt(i);
      if (c == 'e' || c == 'E') {
        return false;
      }
      if (c >= '1' && c <= '9') {
        return true;
      }
    }
    return false;
  }
}
