package dev.optc.compiler.plan;

import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import java.util.List;

/**
 * How a program runs: a sequence of phases, each one pass over the tensors of a group (one kernel
 * launch for the whole group on a device). A phase reads buffers and the results of earlier phases'
 * reductions, computes its reductions, and performs its stores.
 *
 * @param reductions every reduction of the program, in a stable order; a reduction's index here is
 *     its slot in the reduction results that backends keep between phases
 */
public record Plan(IrProgram program, Fusion fusion, List<Phase> phases, List<Node.Reduce> reductions) {

  public Plan {
    phases = List.copyOf(phases);
    reductions = List.copyOf(reductions);
  }

  /**
   * One pass over memory.
   *
   * @param stores buffers written by this phase, with the values written
   * @param reductions reductions whose arguments this phase computes, accumulated over the tensor
   */
  public record Phase(int index, List<IrProgram.Output> stores, List<Node.Reduce> reductions) {
    public Phase {
      stores = List.copyOf(stores);
      reductions = List.copyOf(reductions);
    }
  }

  public int reductionSlot(Node.Reduce r) {
    int i = reductions.indexOf(r);
    if (i < 0) {
      throw new IllegalArgumentException("reduction #" + r.id() + " is not in the plan");
    }
    return i;
  }
}
