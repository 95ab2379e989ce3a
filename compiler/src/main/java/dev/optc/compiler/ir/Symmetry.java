package dev.optc.compiler.ir;

import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Which Gram-kind values are symmetric matrices by construction, so that a product of one with itself can run as a
 * symmetric rank-k update (BLAS syrk: half the work of a general product): {@code mm(x, tr(x))} and
 * {@code mm(tr(x), x)} are symmetric, and so is {@code mm(s, s)} of a symmetric s ({@code s·s = s·sᵀ}); elementwise
 * arithmetic of symmetric matrices and uniforms is symmetric. Newton–Schulz's A = X·Xᵀ, A·A and b·A + c·A·A all are.
 * A runtime that computes such products with syrk copies one triangle onto the other, so "symmetric" holds bit for bit
 * for what the next product reads.
 */
public final class Symmetry {
  private final Map<Node, Boolean> memo = new IdentityHashMap<>();

  /** Whether {@code m} multiplies a matrix by its own transpose: a symmetric product ({@code syrk}). */
  public boolean isGram(Node.Product m) {
    return m.a() == m.b() && (m.transA() != m.transB() || !m.transA() && symmetric(m.a()));
  }

  /** Whether {@code n} is a symmetric Gram-kind matrix by construction (a uniform counts as one). */
  public boolean symmetric(Node n) {
    if (n.kind().isUniform()) {
      return true;
    }
    if (!n.kind().isGram()) {
      return false;
    }
    var known = memo.get(n);
    if (known != null) {
      return known;
    }
    boolean s = switch (n) {
      case Node.Product m -> isGram(m);
      case Node.Unary u -> symmetric(u.x());
      case Node.Binary b -> symmetric(b.a()) && symmetric(b.b());
      case Node.Select c -> symmetric(c.cond()) && symmetric(c.a()) && symmetric(c.b());
      default -> false;
    };
    memo.put(n, s);
    return s;
  }
}
