package dev.optc.compiler.ir;

import dev.optc.compiler.diag.InternalCompilerError;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks the invariants of a whole program (MLIR-style verifier). Tests run it after every pass; a
 * failure is a compiler bug, never a user error.
 */
public final class Verifier {
  private Verifier() {}

  public static void verify(IrProgram p) {
    var buffers = new HashSet<String>();
    buffers.add("w");
    buffers.add("g");
    p.states().forEach(s -> buffers.add(s.name()));
    var hyperNames = new HashSet<String>();
    p.hypers().forEach(h -> hyperNames.add(h.name()));
    var states = new HashMap<String, IrProgram.StateInfo>();
    p.states().forEach(s -> states.put(s.name(), s));
    var topo = Graph.topological(p.roots());
    var host = hostUniform(topo);
    for (var n : topo) {
      switch (n) {
        case Node.Const c -> { }
        case Node.Hyper h -> check(hyperNames.contains(h.name()), "unknown hyper " + h.name());
        case Node.Step s -> { }
        case Node.Size s -> { }
        case Node.Uniform u -> check(u.slot() < p.hoisted().size(), "uniform slot out of range: u" + u.slot());
        case Node.Load l -> {
          check(buffers.contains(l.buffer()), "load of unknown buffer " + l.buffer());
          var expected = switch (l.buffer()) {
            case "w", "g" -> Kind.ELEM;
            default -> states.get(l.buffer()).shape().kind();
          };
          check(l.kind() == expected, "load " + l.buffer() + " has kind " + l.kind());
        }
        case Node.Unary u -> check(u.kind() == u.x().kind(), "unary kind");
        case Node.Binary b -> check(b.kind() == b.a().kind().join(b.b().kind()), "binary kind");
        case Node.Select s -> check(s.kind() == s.cond().kind().join(s.a().kind()).join(s.b().kind()),
            "select kind");
        case Node.Reduce r -> check(!r.x().kind().isUniform() && r.kind() == r.op().resultKind()
            && (!r.x().kind().isGram() || r.kind().isUniform()), "reduce kind");
        case Node.Product m -> {
          var a = Node.Product.sides(m.a().kind(), m.transA());
          var b = Node.Product.sides(m.b().kind(), m.transB());
          check(a[1].equals(b[0]) && m.kind() == Node.Product.kindOf(a[0], b[1]), "product kind");
        }
      }
    }
    for (var h : p.hypers()) {
      check(h.defaultValue().kind() == Kind.CONST || host.contains(h.defaultValue()),
          "hyper default not constant: " + h.name());
    }
    for (var s : p.states()) {
      check(host.contains(s.init()) || s.initFromWeights() && s.shape() == Shape.ELEM,
          "state init neither host-uniform nor w: " + s.name());
    }
    if (!p.evaluate().equals("w")) {
      check(states.containsKey(p.evaluate()) && states.get(p.evaluate()).shape() == Shape.ELEM
          && !states.get(p.evaluate()).input(), "evaluate names no elem state: " + p.evaluate());
    }
    for (var o : p.outputs()) {
      var kind = o.buffer().equals("w") ? Kind.ELEM : states.get(o.buffer()).shape().kind();
      check(kind.accepts(o.value().kind()), "store of " + o.value().kind() + " into " + o.buffer());
    }
    for (var m : p.metrics()) {
      check(m.value().kind().isUniform(), "metric " + m.name() + " is " + m.value().kind());
    }
    for (var u : p.hoisted()) {
      check(host.contains(u) && !(u instanceof Node.Const), "hoisted value is not a host uniform");
    }
  }

  /** Computable on the host before the step: only literals, hypers, t and sizes. */
  public static boolean isHostUniform(Node n) {
    return !Graph.dependsOn(n, x -> !isHostOperation(x));
  }

  /**
   * The nodes of {@code topological} (children before parents, as {@link Graph#topological} gives) that
   * are {@linkplain #isHostUniform host uniforms}: one bottom-up pass, where asking {@link #isHostUniform}
   * of each node would walk every shared subexpression again (quadratic on a long chain).
   */
  public static Set<Node> hostUniform(List<Node> topological) {
    var host = new HashSet<Node>();
    for (var n : topological) {
      if (isHostOperation(n) && host.containsAll(n.inputs())) {
        host.add(n);
      }
    }
    return host;
  }

  /** Whether {@code n} itself (not its inputs) can be computed on the host. */
  private static boolean isHostOperation(Node n) {
    return switch (n) {
      case Node.Load l -> false;
      case Node.Reduce r -> false;
      case Node.Product m -> false;
      case Node.Uniform u -> false;
      case Node.Const c -> true;
      case Node.Hyper h -> true;
      case Node.Step s -> true;
      case Node.Size s -> true;
      case Node.Unary u -> true;
      case Node.Binary b -> true;
      case Node.Select s -> true;
    };
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new InternalCompilerError("IR verification failed: " + what);
    }
  }
}
