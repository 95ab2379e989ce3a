package dev.optc.compiler.ir;

/** A node as a DSL-like infix expression, for comments in generated code and for {@code info}. */
public final class Infix {
  public static String print(Node n) {
    return print(n, 12);
  }

  /**
   * Subexpressions deeper than {@code maxDepth} print as "…": for one-line summaries. A DAG printed as
   * a tree can still grow as 3^depth (selects over shared values), so past {@link #BUDGET} nodes the
   * rest prints as "…" too.
   */
  public static String print(Node n, int maxDepth) {
    return new Infix(maxDepth).expand(n, 0);
  }

  /** Nodes one print may expand: far above any readable comment, far below a blow-up. */
  static final int BUDGET = 200;

  private final int maxDepth;
  private int budget = BUDGET;

  private Infix(int maxDepth) {
    this.maxDepth = maxDepth;
  }

  private String expand(Node n, int depth) {
    if (depth > maxDepth || budget-- <= 0) {
      return "…";
    }
    return switch (n) {
      case Node.Const c -> IrPrinter.formatConst(c.value());
      case Node.Hyper h -> h.name();
      case Node.Step s -> "t";
      case Node.Size s -> s.which().name().toLowerCase(java.util.Locale.ROOT);
      case Node.Uniform u -> "u" + u.slot();
      case Node.Load l -> l.buffer();
      case Node.Unary u -> u.op() == UnaryOp.NEG ? "-" + wrap(u.x(), depth)
          : u.op() == UnaryOp.NOT ? "not " + wrap(u.x(), depth)
          : u.op().symbol() + "(" + expand(u.x(), depth + 1) + ")";
      case Node.Binary b -> switch (b.op()) {
        case MIN, MAX -> b.op().symbol() + "(" + expand(b.a(), depth + 1) + ", " + expand(b.b(), depth + 1) + ")";
        default -> wrap(b.a(), depth) + " " + b.op().symbol() + " " + wrap(b.b(), depth);
      };
      case Node.Select s -> wrap(s.cond(), depth) + " ? " + wrap(s.a(), depth) + " : " + wrap(s.b(), depth);
      case Node.Reduce r -> r.op().symbol() + "(" + expand(r.x(), depth + 1) + ")";
      case Node.Product m -> "mm(" + operand(m.a(), m.transA(), depth) + ", " + operand(m.b(), m.transB(), depth) + ")";
    };
  }

  private String wrap(Node n, int depth) {
    var s = expand(n, depth + 1);
    return n instanceof Node.Binary || n instanceof Node.Select ? "(" + s + ")" : s;
  }

  private String operand(Node x, boolean transposed, int depth) {
    var text = expand(x, depth + 1);
    return transposed ? "tr(" + text + ")" : text;
  }
}
