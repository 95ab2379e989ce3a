package dev.optc.runtime;

import dev.optc.compiler.plan.Fusion;

/** A place optimizers run: the Java reference on the CPU, OpenCL and CUDA devices. */
public interface Backend {

  /** The name used on the command line, e.g. {@code java}. */
  String name();

  Engine open(OptProgram program, Layout layout, Fusion fusion);
}
