package dev.optc.compiler.pass;

import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.NodeFactory;
import dev.optc.compiler.ir.Rewriter;
import dev.optc.compiler.ir.UnaryOp;
import java.util.List;

/**
 * Constant folding and algebraic simplification as a table of rules (tinygrad's symbolic.py), applied
 * bottom-up until none matches. Only rewrites that keep every float result bit-identical except for the
 * sign of a zero are allowed: {@code x*0 → 0} is not (NaN, inf), {@code x^2 → x*x} is (and it is what
 * torch computes for {@code grad*grad}). Constants fold in float64, which is also how the host evaluates
 * uniforms (DSL decision: per-tensor scalar math in float64, like torch.optim's Python-side math).
 */
public final class Simplify implements Pass {

  /** A rewrite: the replacement of a node, or null when the rule does not match. */
  record Rule(String name, RuleBody body) {}

  @FunctionalInterface
  interface RuleBody {
    Node apply(NodeFactory f, Node n);
  }

  static final List<Rule> RULES = List.of(
      new Rule("fold unary", (f, n) -> n instanceof Node.Unary u && u.x() instanceof Node.Const c
          ? f.constant(u.op().apply(c.value())) : null),
      new Rule("fold binary", (f, n) -> n instanceof Node.Binary b && b.a() instanceof Node.Const x
          && b.b() instanceof Node.Const y ? f.constant(b.op().apply(x.value(), y.value())) : null),
      new Rule("fold select", (f, n) -> n instanceof Node.Select s && s.cond() instanceof Node.Const c
          ? (c.value() != 0 || Double.isNaN(c.value()) ? s.a() : s.b()) : null),
      new Rule("select same", (f, n) -> n instanceof Node.Select s && s.a() == s.b() ? s.a() : null),
      new Rule("x+0", (f, n) -> binary(n, BinaryOp.ADD) instanceof Node.Binary b
          ? (isConst(b.b(), 0) ? b.a() : isConst(b.a(), 0) ? b.b() : null) : null),
      new Rule("x-0", (f, n) -> binary(n, BinaryOp.SUB) instanceof Node.Binary b && isConst(b.b(), 0)
          ? b.a() : null),
      new Rule("0-x", (f, n) -> binary(n, BinaryOp.SUB) instanceof Node.Binary b && isNegZero(b.a())
          ? f.unary(UnaryOp.NEG, b.b()) : null),
      new Rule("x*1", (f, n) -> binary(n, BinaryOp.MUL) instanceof Node.Binary b
          ? (isConst(b.b(), 1) ? b.a() : isConst(b.a(), 1) ? b.b() : null) : null),
      new Rule("x*-1", (f, n) -> binary(n, BinaryOp.MUL) instanceof Node.Binary b
          ? (isConst(b.b(), -1) ? f.unary(UnaryOp.NEG, b.a())
              : isConst(b.a(), -1) ? f.unary(UnaryOp.NEG, b.b()) : null) : null),
      new Rule("x/1", (f, n) -> binary(n, BinaryOp.DIV) instanceof Node.Binary b && isConst(b.b(), 1)
          ? b.a() : null),
      new Rule("x^1", (f, n) -> binary(n, BinaryOp.POW) instanceof Node.Binary b && isConst(b.b(), 1)
          ? b.a() : null),
      new Rule("x^0", (f, n) -> binary(n, BinaryOp.POW) instanceof Node.Binary b && isConst(b.b(), 0)
          ? f.constant(1) : null),
      new Rule("x^2", (f, n) -> binary(n, BinaryOp.POW) instanceof Node.Binary b && isConst(b.b(), 2)
          ? f.binary(BinaryOp.MUL, b.a(), b.a()) : null),
      new Rule("--x", (f, n) -> n instanceof Node.Unary u && u.op() == UnaryOp.NEG
          && u.x() instanceof Node.Unary v && v.op() == UnaryOp.NEG ? v.x() : null));

  private static Node binary(Node n, BinaryOp op) {
    return n instanceof Node.Binary b && b.op() == op ? b : null;
  }

  private static boolean isConst(Node n, double v) {
    return n instanceof Node.Const c && c.value() == v
        && (v != 0 || Double.doubleToRawLongBits(c.value()) == 0L);
  }

  /** -0.0 - x is exactly -x for every x, unlike 0 - x (which gives +0 for x = 0). */
  private static boolean isNegZero(Node n) {
    return n instanceof Node.Const c && Double.doubleToRawLongBits(c.value()) == Long.MIN_VALUE;
  }

  @Override
  public String name() {
    return "simplify";
  }

  @Override
  public IrProgram run(IrProgram p) {
    var f = p.factory();
    return p.mapRoots(new Rewriter(f, n -> simplify(f, n)));
  }

  static Node simplify(NodeFactory f, Node n) {
    // A rule's result is built over simplified inputs, but may itself match a rule (fold after fold).
    for (int guard = 0; guard < 64; guard++) {
      Node next = null;
      for (var rule : RULES) {
        next = rule.body().apply(f, n);
        // A value's kind is part of its meaning (a reduction sums a row value's rows entries, an elem
        // value's elements), so a rewrite may not narrow it: c ? rowsum(g) : w stays elem.
        if (next != null && next != n && next.kind() == n.kind()) {
          break;
        }
        next = null;
      }
      if (next == null) {
        return n;
      }
      n = next;
    }
    return n;
  }
}
