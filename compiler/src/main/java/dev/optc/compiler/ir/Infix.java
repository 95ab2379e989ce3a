package dev.optc.compiler.ir;

/** A node as a DSL-like infix expression, for comments in generated code and for {@code info}. */
public final class Infix {
  private Infix() {}

  public static String print(Node n) {
    return print(n, 0, 12);
  }

  /** Subexpressions deeper than {@code maxDepth} print as "…": for one-line summaries. */
  public static String print(Node n, int maxDepth) {
    return print(n, 0, maxDepth);
  }

  private static String print(Node n, int depth, int maxDepth) {
    if (depth > maxDepth) {
      return "…";
    }
    return switch (n) {
      case Node.Const c -> IrPrinter.formatConst(c.value());
      case Node.Hyper h -> h.name();
      case Node.Step s -> "t";
      case Node.Size s -> s.which().name().toLowerCase(java.util.Locale.ROOT);
      case Node.Uniform u -> "u" + u.slot();
      case Node.Load l -> l.buffer();
      case Node.Unary u -> u.op() == UnaryOp.NEG ? "-" + wrap(u.x(), depth, maxDepth)
          : u.op() == UnaryOp.NOT ? "not " + wrap(u.x(), depth, maxDepth)
          : u.op().symbol() + "(" + print(u.x(), depth + 1, maxDepth) + ")";
      case Node.Binary b -> switch (b.op()) {
        case MIN, MAX -> b.op().symbol() + "(" + print(b.a(), depth + 1, maxDepth) + ", " + print(b.b(), depth + 1, maxDepth) + ")";
        default -> wrap(b.a(), depth, maxDepth) + " " + b.op().symbol() + " " + wrap(b.b(), depth, maxDepth);
      };
      case Node.Select s -> wrap(s.cond(), depth, maxDepth) + " ? " + wrap(s.a(), depth, maxDepth) + " : " + wrap(s.b(), depth, maxDepth);
      case Node.Reduce r -> r.op().symbol() + "(" + print(r.x(), depth + 1, maxDepth) + ")";
    };
  }

  private static String wrap(Node n, int depth, int maxDepth) {
    var s = print(n, depth + 1, maxDepth);
    return n instanceof Node.Binary || n instanceof Node.Select ? "(" + s + ")" : s;
  }
}
