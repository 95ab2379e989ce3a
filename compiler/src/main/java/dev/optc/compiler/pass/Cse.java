package dev.optc.compiler.pass;

import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.Rewriter;

/**
 * Common-subexpression elimination. The factory already interns identical nodes; this pass also puts
 * the operands of commutative operations in one order (by id), so that {@code a*b} and {@code b*a}
 * become one node. Swapping operands of these operations is exact in IEEE arithmetic.
 */
public final class Cse implements Pass {
  @Override
  public String name() {
    return "cse";
  }

  @Override
  public IrProgram run(IrProgram p) {
    var f = p.factory();
    return p.mapRoots(new Rewriter(f, n -> n instanceof Node.Binary b && b.op().commutative()
        && b.a().id() > b.b().id() ? f.binary(b.op(), b.b(), b.a()) : n));
  }
}
