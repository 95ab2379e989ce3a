package dev.optc.compiler.ir;

import dev.optc.compiler.diag.InternalCompilerError;
import java.util.HashSet;

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
    for (var n : Graph.topological(p.roots())) {
      switch (n) {
        case Node.Const c -> { }
        case Node.Hyper h -> check(p.hypers().stream().anyMatch(x -> x.name().equals(h.name())),
            "unknown hyper " + h.name());
        case Node.Step s -> { }
        case Node.Size s -> { }
        case Node.Uniform u -> check(u.slot() < p.hoisted().size(), "uniform slot out of range: u" + u.slot());
        case Node.Load l -> {
          check(buffers.contains(l.buffer()), "load of unknown buffer " + l.buffer());
          var expected = switch (l.buffer()) {
            case "w", "g" -> Kind.ELEM;
            default -> p.state(l.buffer()).shape().kind();
          };
          check(l.kind() == expected, "load " + l.buffer() + " has kind " + l.kind());
        }
        case Node.Unary u -> check(u.kind() == u.x().kind(), "unary kind");
        case Node.Binary b -> check(b.kind() == b.a().kind().join(b.b().kind()), "binary kind");
        case Node.Select s -> check(s.kind() == s.cond().kind().join(s.a().kind()).join(s.b().kind()),
            "select kind");
        case Node.Reduce r -> check(!r.x().kind().isUniform() && r.kind() == r.op().resultKind(),
            "reduce kind");
      }
    }
    for (var h : p.hypers()) {
      check(h.defaultValue().kind() == Kind.CONST || isHostUniform(h.defaultValue()),
          "hyper default not constant: " + h.name());
    }
    for (var s : p.states()) {
      check(isHostUniform(s.init()), "state init not host-uniform: " + s.name());
    }
    for (var o : p.outputs()) {
      var kind = o.buffer().equals("w") ? Kind.ELEM : p.state(o.buffer()).shape().kind();
      check(kind.accepts(o.value().kind()), "store of " + o.value().kind() + " into " + o.buffer());
    }
    for (var m : p.metrics()) {
      check(m.value().kind().isUniform(), "metric " + m.name() + " is " + m.value().kind());
    }
    for (var u : p.hoisted()) {
      check(isHostUniform(u) && !(u instanceof Node.Const), "hoisted value is not a host uniform");
    }
  }

  /** Computable on the host before the step: only literals, hypers, t and sizes. */
  public static boolean isHostUniform(Node n) {
    return !Graph.dependsOn(n, x -> x instanceof Node.Load || x instanceof Node.Reduce
        || x instanceof Node.Uniform);
  }

  private static void check(boolean ok, String what) {
    if (!ok) {
      throw new InternalCompilerError("IR verification failed: " + what);
    }
  }
}
