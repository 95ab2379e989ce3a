package dev.optc.runtime;

import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;

/** A place optimizers run: the Java reference on the CPU, OpenCL and CUDA devices. */
public interface Backend {

  /** The name used on the command line, e.g. {@code java}. */
  String name();

  /**
   * An engine running {@code plan} (made once, by the caller, from {@code program}'s IR) over the
   * tensors of {@code layout}. The caller reads reduction slots and phases from the same plan object.
   */
  Engine open(OptProgram program, Plan plan, Layout layout);

  /** {@link #open(OptProgram, Plan, Layout)} with a plan made here at {@code fusion}. */
  default Engine open(OptProgram program, Layout layout, Fusion fusion) {
    return open(program, Planner.plan(program.ir(), fusion), layout);
  }
}
