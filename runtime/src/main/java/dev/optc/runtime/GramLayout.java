package dev.optc.runtime;

import dev.optc.compiler.codegen.java.JavaStep.Segment;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.plan.Liveness;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.blas.Gemm;
import java.util.ArrayList;
import java.util.List;

/**
 * Where the Gram matrices of a matrix-aware program live (DSL.md §11): an {@code rr} temporary holds each
 * tensor's rows × rows matrix, tensor after tensor, a {@code cc} one its cols × cols matrix. A pass over a Gram
 * matrix runs over these segments as an element pass runs over the tensors (same generated code; the segment
 * gives the offset and entry count). A tensor that can never need a Gram kind ({@link Liveness#mayNeed}: Muon's
 * orthogonalisation works on the smaller side, so a tall matrix never needs its rows × rows Gram) has an empty
 * segment there and no memory.
 *
 * <p>Also the shape of each product of the plan on a tensor ({@link #gemm}), and where an operand of each kind
 * starts ({@link #offset}).
 */
public final class GramLayout {
  private final Layout layout;
  private final List<Segment> rr;
  private final List<Segment> cc;
  private final int rrLength;
  private final int ccLength;

  private GramLayout(Layout layout, Plan plan) {
    this.layout = layout;
    var liveness = Liveness.of(plan);
    var r = new ArrayList<Segment>();
    var c = new ArrayList<Segment>();
    long ro = 0;
    long co = 0;
    boolean usesRr = plan.temps().contains(Kind.RR);
    boolean usesCc = plan.temps().contains(Kind.CC);
    for (var s : layout.segments()) {
      int rows = usesRr && s.numel() > 0 && liveness.mayNeed(Kind.RR, s.numel(), s.rows(), s.cols()) ? s.rows() : 0;
      int cols = usesCc && s.numel() > 0 && liveness.mayNeed(Kind.CC, s.numel(), s.rows(), s.cols()) ? s.cols() : 0;
      if (ro + (long) rows * rows > Integer.MAX_VALUE - 8 || co + (long) cols * cols > Integer.MAX_VALUE - 8) {
        throw new OptcException("the Gram matrices of the tensors hold more than 2^31 - 9 entries in all; split the "
            + "tensors into several optimizers");
      }
      r.add(new Segment(s.index(), (int) ro, rows * rows, rows, rows, 0, 0));
      c.add(new Segment(s.index(), (int) co, cols * cols, cols, cols, 0, 0));
      ro += (long) rows * rows;
      co += (long) cols * cols;
    }
    this.rr = List.copyOf(r);
    this.cc = List.copyOf(c);
    this.rrLength = (int) ro;
    this.ccLength = (int) co;
  }

  public static GramLayout of(Layout layout, Plan plan) {
    return new GramLayout(layout, plan);
  }

  /** The segments a phase over {@code domain} runs over: the tensors, or their Gram matrices. */
  public List<Segment> segments(Plan.Domain domain) {
    return switch (domain) {
      case RR -> rr;
      case CC -> cc;
      case ELEM, PRODUCTS -> layout.segments();
    };
  }

  /** Length of an arena of {@code kind}: a Gram kind's here, the others the {@link Layout}'s. */
  public int arenaLength(Kind kind) {
    return switch (kind) {
      case RR -> rrLength;
      case CC -> ccLength;
      default -> layout.arenaLength(kind);
    };
  }

  /** Where tensor {@code i}'s entries start in an arena of {@code kind}. */
  public int offset(Kind kind, int i) {
    return switch (kind) {
      case RR -> rr.get(i).offset();
      case CC -> cc.get(i).offset();
      default -> layout.offset(kind, i);
    };
  }

  /** Whether tensor {@code i} has entries in an arena of {@code kind} (a Gram kind it never needs has none). */
  public boolean has(Kind kind, int i) {
    return switch (kind) {
      case RR -> rr.get(i).numel() > 0;
      case CC -> cc.get(i).numel() > 0;
      default -> layout.segments().get(i).numel() > 0;
    };
  }

  /**
   * The shape of product {@code m} on tensor {@code i}: {@code op(a)} is p × q and {@code op(b)} q × r in the
   * tensor's rows and cols; empty where the tensor has no entries for an operand or the result (an empty
   * tensor, or a Gram kind it never needs).
   */
  public java.util.Optional<Gemm> gemm(Node.Product m, int i) {
    if (!has(m.a().kind(), i) || !has(m.b().kind(), i) || !has(m.kind(), i)) {
      return java.util.Optional.empty();
    }
    var s = layout.segments().get(i);
    var a = Node.Product.sides(m.a().kind(), m.transA());
    var b = Node.Product.sides(m.b().kind(), m.transB());
    return java.util.Optional.of(new Gemm(size(a[0], s), size(b[1], s), size(a[1], s), m.transA(), m.transB()));
  }

  private static int size(String side, Segment s) {
    return side.equals("rows") ? s.rows() : s.cols();
  }
}
