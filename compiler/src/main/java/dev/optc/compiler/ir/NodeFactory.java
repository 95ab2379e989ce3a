package dev.optc.compiler.ir;

import dev.optc.compiler.diag.InternalCompilerError;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The one way to make IR nodes. It interns: asking twice for the same operation on the same (identical)
 * children returns the same node, which is common-subexpression elimination for free. It also checks the
 * invariants every node must satisfy (Halide's {@code make}), and computes kinds.
 */
public final class NodeFactory {
  private final Map<List<Object>, Node> interned = new HashMap<>();
  private int nextId;

  private Node intern(List<Object> key, IntFunction<Node> make) {
    var existing = interned.get(key);
    if (existing != null) {
      return existing;
    }
    var node = make.apply(nextId++);
    interned.put(key, node);
    return node;
  }

  /** How many distinct nodes this factory has made (for tests and debug output). */
  public int size() {
    return interned.size();
  }

  public Node constant(double value) {
    // Keyed by bits so that -0.0 and 0.0 stay apart; every NaN is one canonical NaN.
    double v = Double.isNaN(value) ? Double.NaN : value;
    return intern(List.of("const", Double.doubleToRawLongBits(v)), id -> new Node.Const(id, v));
  }

  public Node hyper(String name) {
    return intern(List.of("hyper", name), id -> new Node.Hyper(id, name));
  }

  public Node step() {
    return intern(List.of("step"), Node.Step::new);
  }

  public Node size(Node.SizeKind which) {
    return intern(List.of("size", which), id -> new Node.Size(id, which));
  }

  public Node load(String buffer, Kind kind) {
    if (kind == Kind.CONST) {
      throw new InternalCompilerError("a buffer cannot be constant: " + buffer);
    }
    var key = List.<Object>of("load", buffer);
    var node = intern(key, id -> new Node.Load(id, buffer, kind));
    if (node.kind() != kind) {
      throw new InternalCompilerError("buffer " + buffer + " loaded as " + kind + " and " + node.kind());
    }
    return node;
  }

  public Node uniform(int slot) {
    if (slot < 0) {
      throw new InternalCompilerError("negative uniform slot " + slot);
    }
    return intern(List.of("uniform", slot), id -> new Node.Uniform(id, slot));
  }

  public Node unary(UnaryOp op, Node x) {
    own(x);
    return intern(List.of("unary", op, x.id()), id -> new Node.Unary(id, op, x, x.kind()));
  }

  public Node binary(BinaryOp op, Node a, Node b) {
    own(a);
    own(b);
    return intern(List.of("binary", op, a.id(), b.id()),
        id -> new Node.Binary(id, op, a, b, a.kind().join(b.kind())));
  }

  public Node select(Node cond, Node a, Node b) {
    own(cond);
    own(a);
    own(b);
    return intern(List.of("select", cond.id(), a.id(), b.id()),
        id -> new Node.Select(id, cond, a, b, cond.kind().join(a.kind()).join(b.kind())));
  }

  public Node reduce(ReduceOp op, Node x) {
    own(x);
    if (x.kind().isUniform()) {
      throw new InternalCompilerError("reduction " + op + " of a " + x.kind() + " value");
    }
    return intern(List.of("reduce", op, x.id()), id -> new Node.Reduce(id, op, x, op.resultKind()));
  }

  /** Rebuilds {@code node} with new inputs (same operation), or returns it when they are the same. */
  public Node withInputs(Node node, List<Node> inputs) {
    if (inputs.equals(node.inputs())) {
      return node;
    }
    return switch (node) {
      case Node.Const c -> c;
      case Node.Hyper h -> h;
      case Node.Step s -> s;
      case Node.Size s -> s;
      case Node.Load l -> l;
      case Node.Uniform u -> u;
      case Node.Unary u -> unary(u.op(), inputs.get(0));
      case Node.Binary b -> binary(b.op(), inputs.get(0), inputs.get(1));
      case Node.Select s -> select(inputs.get(0), inputs.get(1), inputs.get(2));
      case Node.Reduce r -> reduce(r.op(), inputs.get(0));
    };
  }

  private void own(Node n) {
    if (interned.get(keyOf(n)) != n) {
      throw new InternalCompilerError("node #" + n.id() + " was made by another factory");
    }
  }

  private static List<Object> keyOf(Node n) {
    return switch (n) {
      case Node.Const c -> List.of("const", Double.doubleToRawLongBits(c.value()));
      case Node.Hyper h -> List.of("hyper", h.name());
      case Node.Step s -> List.of("step");
      case Node.Size s -> List.of("size", s.which());
      case Node.Load l -> List.of("load", l.buffer());
      case Node.Uniform u -> List.of("uniform", u.slot());
      case Node.Unary u -> List.of("unary", u.op(), u.x().id());
      case Node.Binary b -> List.of("binary", b.op(), b.a().id(), b.b().id());
      case Node.Select s -> List.of("select", s.cond().id(), s.a().id(), s.b().id());
      case Node.Reduce r -> List.of("reduce", r.op(), r.x().id());
    };
  }
}
