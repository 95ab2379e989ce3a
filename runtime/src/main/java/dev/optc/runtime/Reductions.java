package dev.optc.runtime;

import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.plan.Plan;

/** Host-side bookkeeping of reduction results shared by every backend. */
public final class Reductions {
  private Reductions() {}

  /** Fresh result arrays, one per reduction of the plan, sized for the layout. */
  public static double[][] allocate(Plan plan, Layout layout) {
    var red = new double[plan.reductions().size()][];
    for (int k = 0; k < red.length; k++) {
      red[k] = new double[layout.arenaLength(plan.reductions().get(k).kind())];
    }
    return red;
  }

  /**
   * Replaces each tensor's partial {@code global_sum} of {@code phase} by its group's total, summed in
   * tensor order so that the result does not depend on scheduling.
   */
  public static void combineGroups(Plan plan, Plan.Phase phase, Layout layout, double[][] red) {
    for (var r : phase.reductions()) {
      if (r.op() != ReduceOp.GLOBAL_SUM) {
        continue;
      }
      var values = red[plan.reductionSlot(r)];
      var totals = new double[layout.groups()];
      for (int i = 0; i < values.length; i++) {
        totals[layout.tensors().get(i).group()] += values[i];
      }
      for (int i = 0; i < values.length; i++) {
        values[i] = totals[layout.tensors().get(i).group()];
      }
    }
  }
}
