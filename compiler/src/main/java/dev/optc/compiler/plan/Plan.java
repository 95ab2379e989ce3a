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

  /**
   * Whether a phase can use {@code n} without computing it: a literal, a hoisted uniform, or the result
   * of a reduction accumulated in an earlier phase.
   */
  public boolean available(Phase phase, Node n) {
    return n instanceof Node.Const || n instanceof Node.Uniform
        || (n instanceof Node.Reduce r && phaseOf(r) < phase.index());
  }

  /** The phase that accumulates reduction {@code r}. */
  public int phaseOf(Node.Reduce r) {
    for (var p : phases) {
      if (p.reductions().contains(r)) {
        return p.index();
      }
    }
    throw new IllegalArgumentException("reduction #" + r.id() + " is not in the plan");
  }

  /**
   * Every node a phase evaluates or reads, in topological order: the closure of its stores' values and
   * its reductions' arguments, stopping at {@link #available} nodes (which are included, literals not).
   */
  public List<Node> needed(Phase phase) {
    var roots = new java.util.ArrayList<Node>();
    phase.stores().forEach(o -> roots.add(o.value()));
    phase.reductions().forEach(r -> roots.add(r.x()));
    var seen = new java.util.HashSet<Node>();
    var stack = new java.util.ArrayDeque<>(roots);
    while (!stack.isEmpty()) {
      var n = stack.pop();
      if (seen.add(n) && !available(phase, n)) {
        stack.addAll(n.inputs());
      }
    }
    return seen.stream().filter(n -> !(n instanceof Node.Const))
        .sorted((a, b) -> Integer.compare(a.id(), b.id())).toList();
  }

  public int reductionSlot(Node.Reduce r) {
    int i = reductions.indexOf(r);
    if (i < 0) {
      throw new IllegalArgumentException("reduction #" + r.id() + " is not in the plan");
    }
    return i;
  }
}
