package dev.optc.compiler.ir;

import dev.optc.compiler.diag.InternalCompilerError;
import java.util.ArrayList;
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
  private final Map<Key, Node> interned = new HashMap<>();
  /** Every node made, by id: ownership is one lookup, not a key rebuilt per input. */
  private final List<Node> byId = new ArrayList<>();

  /**
   * What makes two nodes equal: the operation ({@code tag} and {@code detail}: an operator, a name) and
   * the ids of the inputs (or a literal's bits, a slot). Flat, so that a program of a million nodes keeps
   * one small object per node here rather than a list of boxed numbers.
   */
  private record Key(int tag, Object detail, long a, int b, int c) {}

  private Node intern(Key key, IntFunction<Node> make) {
    var existing = interned.get(key);
    if (existing != null) {
      return existing;
    }
    var node = make.apply(byId.size());
    interned.put(key, node);
    byId.add(node);
    return node;
  }

  /** How many distinct nodes this factory has made (for tests and debug output). */
  public int size() {
    return byId.size();
  }

  public Node constant(double value) {
    // Keyed by bits so that -0.0 and 0.0 stay apart; every NaN is one canonical NaN.
    double v = Double.isNaN(value) ? Double.NaN : value;
    return intern(new Key(0, null, Double.doubleToRawLongBits(v), 0, 0), id -> new Node.Const(id, v));
  }

  public Node hyper(String name) {
    return intern(new Key(1, name, 0, 0, 0), id -> new Node.Hyper(id, name));
  }

  public Node step() {
    return intern(new Key(2, null, 0, 0, 0), Node.Step::new);
  }

  public Node size(Node.SizeKind which) {
    return intern(new Key(3, which, 0, 0, 0), id -> new Node.Size(id, which));
  }

  public Node load(String buffer, Kind kind) {
    if (kind == Kind.CONST) {
      throw new InternalCompilerError("a buffer cannot be constant: " + buffer);
    }
    var node = intern(new Key(4, buffer, 0, 0, 0), id -> new Node.Load(id, buffer, kind));
    if (node.kind() != kind) {
      throw new InternalCompilerError("buffer " + buffer + " loaded as " + kind + " and " + node.kind());
    }
    return node;
  }

  public Node uniform(int slot) {
    if (slot < 0) {
      throw new InternalCompilerError("negative uniform slot " + slot);
    }
    return intern(new Key(5, null, slot, 0, 0), id -> new Node.Uniform(id, slot));
  }

  public Node unary(UnaryOp op, Node x) {
    own(x);
    return intern(new Key(6, op, x.id(), 0, 0), id -> new Node.Unary(id, op, x, x.kind()));
  }

  public Node binary(BinaryOp op, Node a, Node b) {
    own(a);
    own(b);
    return intern(new Key(7, op, a.id(), b.id(), 0),
        id -> new Node.Binary(id, op, a, b, a.kind().join(b.kind())));
  }

  public Node select(Node cond, Node a, Node b) {
    own(cond);
    own(a);
    own(b);
    return intern(new Key(8, null, cond.id(), a.id(), b.id()),
        id -> new Node.Select(id, cond, a, b, cond.kind().join(a.kind()).join(b.kind())));
  }

  public Node reduce(ReduceOp op, Node x) {
    own(x);
    if (x.kind().isUniform()) {
      throw new InternalCompilerError("reduction " + op + " of a " + x.kind() + " value");
    }
    return intern(new Key(9, op, x.id(), 0, 0), id -> new Node.Reduce(id, op, x, op.resultKind()));
  }

  /**
   * {@code op(a)·op(b)} ({@link Node.Product}): both operands matrices (elem, rr or cc) whose inner sides
   * agree; the checker reports anything else with both shapes named.
   */
  public Node product(Node a, boolean transA, Node b, boolean transB) {
    own(a);
    own(b);
    var sa = Node.Product.sides(a.kind(), transA);
    var sb = Node.Product.sides(b.kind(), transB);
    var kind = Node.Product.kindOf(sa[0], sb[1]);
    if (!sa[1].equals(sb[0]) || kind == null) {
      throw new InternalCompilerError("product of " + String.join("×", sa) + " and " + String.join("×", sb));
    }
    int flags = (transA ? 1 : 0) | (transB ? 2 : 0);
    return intern(new Key(10, flags, a.id(), b.id(), 0), id -> new Node.Product(id, a, transA, b, transB, kind));
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
      case Node.Product p -> product(inputs.get(0), p.transA(), inputs.get(1), p.transB());
    };
  }

  private void own(Node n) {
    if (n.id() < 0 || n.id() >= byId.size() || byId.get(n.id()) != n) {
      throw new InternalCompilerError("node #" + n.id() + " was made by another factory");
    }
  }
}
