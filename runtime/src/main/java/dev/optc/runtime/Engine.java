package dev.optc.runtime;

import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A compiled program bound to the buffers of one {@link Layout} on one device. The {@link Optimizer}
 * drives it; backends implement it.
 */
public interface Engine extends AutoCloseable {

  /** The plan this engine runs: the one its caller made (see {@link Backend#open}). */
  dev.optc.compiler.plan.Plan plan();

  /** Copies one tensor's values of buffer {@code w}, {@code g} or a state into the engine. */
  void write(String buffer, int tensor, float[] values);

  /** Copies one tensor's values of a buffer out of the engine. */
  void read(String buffer, int tensor, float[] out);

  /**
   * The whole arena of {@code buffer} ({@code w}, {@code g}, a state) as float32 memory a caller may read
   * and write between steps, without copies: the Java engine's arenas (heap or native, see {@link Arenas}),
   * OpenCL's {@code w} and {@code g} on a CPU device with native arenas. Empty where the arena is device
   * memory (CUDA, a GPU: adopt device buffers instead) or float64 arrays ({@code java64}).
   */
  default Optional<MemorySegment> arena(String buffer) {
    return Optional.empty();
  }

  /**
   * Runs every phase of one step.
   *
   * @param uniforms hoisted uniforms per tensor (index = tensor, then slot)
   * @param wantReductions whether the caller needs the reduction results (for metrics); a device backend
   *     then copies them back
   * @return the results of the plan's reductions (group sums already combined), or null when not wanted
   */
  double[][] step(double[][] uniforms, boolean wantReductions);

  @Override
  void close();
}
