package dev.optc.compiler.ir;

import java.util.List;

/**
 * A value of the IR: an SSA expression DAG. Nodes are made only by {@link NodeFactory}, which interns
 * them, so two equal expressions are one object and children are compared by identity (Halide's
 * {@code same_as}). Every record here overrides {@code equals}/{@code hashCode} with identity so that
 * hashing never walks down a shared DAG.
 */
public sealed interface Node {

  /** Unique within its factory, increasing in creation order: a stable order for printing and codegen. */
  int id();

  Kind kind();

  List<Node> inputs();

  /** A literal; folded constants too. Kept in float64; rounded to f32 where it meets per-element code. */
  record Const(int id, double value) implements Node {
    @Override public Kind kind() { return Kind.CONST; }
    @Override public List<Node> inputs() { return List.of(); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  /** A hyperparameter's value for the tensor's group at this step. */
  record Hyper(int id, String name) implements Node {
    @Override public Kind kind() { return Kind.UNIFORM; }
    @Override public List<Node> inputs() { return List.of(); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  /** The step number {@code t}: 1 on the first step. */
  record Step(int id) implements Node {
    @Override public Kind kind() { return Kind.UNIFORM; }
    @Override public List<Node> inputs() { return List.of(); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  /** {@code numel}, {@code rows} or {@code cols} of the tensor. */
  record Size(int id, SizeKind which) implements Node {
    @Override public Kind kind() { return Kind.UNIFORM; }
    @Override public List<Node> inputs() { return List.of(); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  /** Which size a {@link Size} node reads. */
  enum SizeKind {
    NUMEL,
    ROWS,
    COLS
  }

  /**
   * The value a buffer held when the step began: {@code w}, {@code g} or a state by name. Its kind is
   * the buffer's shape.
   */
  record Load(int id, String buffer, Kind kind) implements Node {
    @Override public List<Node> inputs() { return List.of(); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  /**
   * A uniform computed on the host once per tensor per step (after hoisting): slot {@code slot} of
   * {@link IrProgram#hoisted()}. Per-element code reads it as a kernel argument.
   */
  record Uniform(int id, int slot) implements Node {
    @Override public Kind kind() { return Kind.UNIFORM; }
    @Override public List<Node> inputs() { return List.of(); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  record Unary(int id, UnaryOp op, Node x, Kind kind) implements Node {
    @Override public List<Node> inputs() { return List.of(x); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  record Binary(int id, BinaryOp op, Node a, Node b, Kind kind) implements Node {
    @Override public List<Node> inputs() { return List.of(a, b); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  /** {@code cond ? a : b}, where any nonzero (NaN included) condition is true. */
  record Select(int id, Node cond, Node a, Node b, Kind kind) implements Node {
    @Override public List<Node> inputs() { return List.of(cond, a, b); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  record Reduce(int id, ReduceOp op, Node x, Kind kind) implements Node {
    @Override public List<Node> inputs() { return List.of(x); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }
  }

  /**
   * The matrix product {@code op(a)·op(b)} of the tensor's matrix views (DSL.md §11), {@code op} transposing
   * where {@code transA}/{@code transB} ({@code tr}). Its kind follows the shapes: {@code mm(elem, tr(elem))}
   * is {@link Kind#RR}, {@code mm(rr, elem)} elem, {@code mm(tr(elem), elem)} {@link Kind#CC}, and so on. A
   * product is a phase boundary: it runs on a BLAS between the passes that compute its operands and the ones
   * that read it.
   */
  record Product(int id, Node a, boolean transA, Node b, boolean transB, Kind kind) implements Node {
    @Override public List<Node> inputs() { return List.of(a, b); }
    @Override public boolean equals(Object o) { return this == o; }
    @Override public int hashCode() { return id; }

    /** The symbolic sides of an operand of kind {@code k} as stored ({@code "rows"}/{@code "cols"}), then transposed. */
    public static String[] sides(Kind k, boolean transposed) {
      var s = switch (k) {
        case ELEM -> new String[] {"rows", "cols"};
        case RR -> new String[] {"rows", "rows"};
        case CC -> new String[] {"cols", "cols"};
        default -> throw new IllegalArgumentException("a " + k.label() + " value is not a matrix");
      };
      return transposed ? new String[] {s[1], s[0]} : s;
    }

    /** The kind of an {@code m × n} product, or null where no kind has that shape (cols × rows). */
    public static Kind kindOf(String m, String n) {
      return m.equals("rows") ? (n.equals("rows") ? Kind.RR : Kind.ELEM) : n.equals("cols") ? Kind.CC : null;
    }
  }
}
