package dev.optc.runtime;

import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;

/**
 * A place optimizers run: the Java reference on the CPU, OpenCL and CUDA devices. A device backend carries
 * the kernel config its device chose ({@code OpenClBackend.config()}, {@code CudaBackend.config()}); both
 * {@link #source} and {@link #open} read it, so what is printed is what is built.
 */
public interface Backend {

  /** The name used on the command line, e.g. {@code java}. */
  String name();

  /**
   * The source this backend builds for {@code plan} on this machine, exactly as {@link #open} builds it:
   * what {@code optc emit --backend} prints.
   */
  Source source(Plan plan);

  /**
   * An engine running {@code plan} (made once, by the caller, from {@code program}'s IR) over the
   * tensors of {@code layout}. The caller reads reduction slots and phases from the same plan object.
   */
  Engine open(OptProgram program, Plan plan, Layout layout);

  /** {@link #open(OptProgram, Plan, Layout)} with a plan made here at {@code fusion}. */
  default Engine open(OptProgram program, Layout layout, Fusion fusion) {
    return open(program, Planner.plan(program.ir(), fusion), layout);
  }

  /**
   * Generated source.
   *
   * @param path where it goes under a directory ({@code adamw.cl}, {@code dev/optc/generated/AdamwStep.java})
   * @param text the source
   */
  record Source(String path, String text) {}
}
