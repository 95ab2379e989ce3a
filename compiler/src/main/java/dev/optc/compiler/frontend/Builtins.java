package dev.optc.compiler.frontend;

import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.NodeFactory;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.ir.UnaryOp;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The built-in functions of DSL.md §7 and how each lowers to IR. Functions that the IR does not have as
 * one operation are spelled out here: {@code clip(x,lo,hi) = min(max(x,lo),hi)} (torch.clamp),
 * {@code lerp(a,b,s) = a + s*(b-a)}, {@code mean = sum/n}, {@code norm = sqrt(sum(x*x))},
 * {@code rms = sqrt(sum(x*x)/n)}, {@code rowmean = rowsum/cols}, {@code colmean = colsum/rows},
 * {@code global_norm = sqrt(global_sum(x*x))}.
 */
final class Builtins {
  private Builtins() {}

  @FunctionalInterface
  interface Lowering {
    Node lower(NodeFactory f, List<Node> args);
  }

  record Function(String name, int arity, String signature, boolean reduction, Lowering lowering) {
    Node lower(NodeFactory f, List<Node> args) {
      return lowering.lower(f, args);
    }
  }

  private static final Map<String, Function> FUNCTIONS = new LinkedHashMap<>();

  private static void unary(String name, UnaryOp op) {
    FUNCTIONS.put(name, new Function(name, 1, name + "(x)", false, (f, a) -> f.unary(op, a.get(0))));
  }

  private static void binary(String name, BinaryOp op, String signature) {
    FUNCTIONS.put(name, new Function(name, 2, signature, false,
        (f, a) -> f.binary(op, a.get(0), a.get(1))));
  }

  private static void reduction(String name, Lowering lowering) {
    FUNCTIONS.put(name, new Function(name, 1, name + "(x)", true, lowering));
  }

  /** How many entries a per-tensor reduction of a value of this kind sums. */
  private static Node count(NodeFactory f, Node x) {
    return switch (x.kind()) {
      case ROW -> f.size(Node.SizeKind.ROWS);
      case COL -> f.size(Node.SizeKind.COLS);
      case ELEM, CONST, UNIFORM -> f.size(Node.SizeKind.NUMEL);
      case RR -> f.binary(BinaryOp.MUL, f.size(Node.SizeKind.ROWS), f.size(Node.SizeKind.ROWS));
      case CC -> f.binary(BinaryOp.MUL, f.size(Node.SizeKind.COLS), f.size(Node.SizeKind.COLS));
    };
  }

  private static Node square(NodeFactory f, Node x) {
    return f.binary(BinaryOp.MUL, x, x);
  }

  static {
    unary("abs", UnaryOp.ABS);
    unary("sign", UnaryOp.SIGN);
    unary("sqrt", UnaryOp.SQRT);
    unary("rsqrt", UnaryOp.RSQRT);
    unary("exp", UnaryOp.EXP);
    unary("log", UnaryOp.LOG);
    unary("tanh", UnaryOp.TANH);
    unary("sin", UnaryOp.SIN);
    unary("cos", UnaryOp.COS);
    unary("floor", UnaryOp.FLOOR);
    binary("min", BinaryOp.MIN, "min(a, b)");
    binary("max", BinaryOp.MAX, "max(a, b)");
    binary("pow", BinaryOp.POW, "pow(a, b) is a^b");
    FUNCTIONS.put("clip", new Function("clip", 3, "clip(x, lo, hi) = min(max(x, lo), hi)", false,
        (f, a) -> f.binary(BinaryOp.MIN, f.binary(BinaryOp.MAX, a.get(0), a.get(1)), a.get(2))));
    FUNCTIONS.put("lerp", new Function("lerp", 3, "lerp(a, b, s) = a + s*(b - a)", false,
        (f, a) -> f.binary(BinaryOp.ADD, a.get(0),
            f.binary(BinaryOp.MUL, a.get(2), f.binary(BinaryOp.SUB, a.get(1), a.get(0))))));
    reduction("sum", (f, a) -> f.reduce(ReduceOp.SUM, a.get(0)));
    reduction("mean", (f, a) -> f.binary(BinaryOp.DIV, f.reduce(ReduceOp.SUM, a.get(0)), count(f, a.get(0))));
    reduction("norm", (f, a) -> f.unary(UnaryOp.SQRT, f.reduce(ReduceOp.SUM, square(f, a.get(0)))));
    reduction("rms", (f, a) -> f.unary(UnaryOp.SQRT,
        f.binary(BinaryOp.DIV, f.reduce(ReduceOp.SUM, square(f, a.get(0))), count(f, a.get(0)))));
    reduction("maxabs", (f, a) -> f.reduce(ReduceOp.MAXABS, a.get(0)));
    reduction("rowsum", (f, a) -> f.reduce(ReduceOp.ROWSUM, a.get(0)));
    reduction("rowmean", (f, a) -> f.binary(BinaryOp.DIV, f.reduce(ReduceOp.ROWSUM, a.get(0)),
        f.size(Node.SizeKind.COLS)));
    reduction("colsum", (f, a) -> f.reduce(ReduceOp.COLSUM, a.get(0)));
    reduction("colmean", (f, a) -> f.binary(BinaryOp.DIV, f.reduce(ReduceOp.COLSUM, a.get(0)),
        f.size(Node.SizeKind.ROWS)));
    reduction("global_sum", (f, a) -> f.reduce(ReduceOp.GLOBAL_SUM, a.get(0)));
    reduction("global_norm", (f, a) -> f.unary(UnaryOp.SQRT,
        f.reduce(ReduceOp.GLOBAL_SUM, square(f, a.get(0)))));
  }

  static Function get(String name) {
    return FUNCTIONS.get(name);
  }

  /**
   * The matrix product and its transpose (DSL.md §11): built-in names too, but checked and lowered by the checker,
   * which reads {@code tr(x)} as an argument of {@code mm}.
   */
  static final Set<String> MATRIX = Set.of("mm", "tr");

  static boolean isFunction(String name) {
    return FUNCTIONS.containsKey(name) || MATRIX.contains(name);
  }

  static Set<String> names() {
    var all = new java.util.LinkedHashSet<>(FUNCTIONS.keySet());
    all.addAll(List.of("mm", "tr"));
    return all;
  }

  /** Unused kinds are listed so that a new kind shows up here when it is added. */
  static boolean reducible(Kind k) {
    return switch (k) {
      case CONST, UNIFORM -> false;
      case ROW, COL, ELEM, RR, CC -> true;
    };
  }

  /** Whether reduction {@code name} takes a Gram matrix: the per-tensor ones (a Gram's rows are not the tensor's). */
  static boolean reducesGram(String name) {
    return switch (name) {
      case "sum", "mean", "norm", "rms", "maxabs" -> true;
      default -> false;
    };
  }
}
