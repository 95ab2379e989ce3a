package dev.optc.compiler.ir;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The IR as text: declarations, then every node once in topological order as {@code %N = op args : kind},
 * then what the step stores. Numbering is by position, so the text is stable whatever ids a factory gave.
 */
public final class IrPrinter {
  private IrPrinter() {}

  public static String print(IrProgram p) {
    var sb = new StringBuilder();
    var names = new HashMap<Node, String>();
    int numbered = 0;
    sb.append("optimizer ").append(p.name()).append('\n');
    for (var n : Graph.topological(p.roots())) {
      var text = describe(n, names);
      if (n instanceof Node.Const || n instanceof Node.Hyper || n instanceof Node.Step
          || n instanceof Node.Size || n instanceof Node.Uniform) {
        names.put(n, text);
        continue;
      }
      var name = "%" + numbered++;
      names.put(n, name);
      sb.append(name).append(" = ").append(text).append(" : ").append(n.kind().label()).append('\n');
    }
    for (var h : p.hypers()) {
      sb.append("hyper ").append(h.name()).append(" = ").append(names.get(h.defaultValue())).append('\n');
    }
    for (var s : p.states()) {
      sb.append("state ").append(s.name()).append(" : ").append(s.shape().label()).append(" as ")
          .append(s.dtype().label()).append(" = ").append(names.get(s.init())).append('\n');
    }
    if (!p.evaluate().equals("w")) {
      sb.append("evaluate ").append(p.evaluate()).append('\n');
    }
    for (int i = 0; i < p.hoisted().size(); i++) {
      sb.append("uniform u").append(i).append(" = ").append(names.get(p.hoisted().get(i))).append('\n');
    }
    for (var b : p.bindings()) {
      sb.append("bind ").append(b.target()).append(" = ").append(names.get(b.value())).append('\n');
    }
    for (var o : p.outputs()) {
      sb.append("store ").append(o.buffer()).append(" = ").append(names.get(o.value())).append('\n');
    }
    for (var m : p.metrics()) {
      sb.append("metric ").append(m.name()).append(" = ").append(names.get(m.value())).append('\n');
    }
    return sb.toString();
  }

  private static String describe(Node n, Map<Node, String> names) {
    return switch (n) {
      case Node.Const c -> formatConst(c.value());
      case Node.Hyper h -> h.name();
      case Node.Step s -> "t";
      case Node.Size s -> s.which().name().toLowerCase(java.util.Locale.ROOT);
      case Node.Uniform u -> "u" + u.slot();
      case Node.Load l -> "load " + l.buffer();
      case Node.Unary u -> u.op().symbol() + " " + names.get(u.x());
      case Node.Binary b -> b.op().symbol() + " " + names.get(b.a()) + " " + names.get(b.b());
      case Node.Select s -> "select " + String.join(" ", List.of(names.get(s.cond()),
          names.get(s.a()), names.get(s.b())));
      case Node.Reduce r -> r.op().symbol() + " " + names.get(r.x());
      case Node.Product m -> "mm " + names.get(m.a()) + (m.transA() ? "ᵀ" : "") + " " + names.get(m.b())
          + (m.transB() ? "ᵀ" : "");
    };
  }

  /** Shortest decimal that reads back as the same double. */
  public static String formatConst(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return (v == 0 && 1 / v < 0) ? "-0" : Long.toString((long) v);
    }
    return Double.toString(v);
  }
}
