package dev.optc.compiler.ir;

/** A node as a DSL-like infix expression, for comments in generated code and for {@code info}. */
public final class Infix {
  private Infix() {}

  public static String print(Node n) {
    return print(n, 0);
  }

  private static String print(Node n, int depth) {
    if (depth > 12) {
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
          : u.op().symbol() + "(" + print(u.x(), depth + 1) + ")";
      case Node.Binary b -> switch (b.op()) {
        case MIN, MAX -> b.op().symbol() + "(" + print(b.a(), depth + 1) + ", " + print(b.b(), depth + 1) + ")";
        default -> wrap(b.a(), depth) + " " + b.op().symbol() + " " + wrap(b.b(), depth);
      };
      case Node.Select s -> wrap(s.cond(), depth) + " ? " + wrap(s.a(), depth) + " : " + wrap(s.b(), depth);
      case Node.Reduce r -> r.op().symbol() + "(" + print(r.x(), depth + 1) + ")";
    };
  }

  private static String wrap(Node n, int depth) {
    var s = print(n, depth + 1);
    return n instanceof Node.Binary || n instanceof Node.Select ? "(" + s + ")" : s;
  }
}
