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
   * Whether {@code buffer} has memory. A state in the plan's {@link dev.optc.compiler.plan.Guards#flagStates
   * flag states} has none until {@link #allocate}: no kernel touches it while its flag is off, and kernels get a
   * placeholder they never dereference. Reading or writing an unallocated state through the engine throws;
   * the {@link Optimizer} answers its init value instead.
   */
  default boolean allocated(String buffer) {
    return true;
  }

  /**
   * Gives flag state {@code state} its memory, zeroed, for every tensor (the caller then writes its init
   * values); nothing where it has memory already. Between steps only.
   */
  default void allocate(String state) {}

  /**
   * Bytes of memory {@code buffer}'s arena holds now: 0 for a state not yet {@link #allocate allocated}; a
   * quantized state's codes, block absmax values and float32 values of small tensors together.
   */
  long allocatedBytes(String buffer);

  /**
   * One tensor's quantized state as stored: its code bytes ({@code QuantMap}: q8 one per element, q4 two per
   * byte, even elements low) and one float32 absmax per block.
   */
  record Quantized(byte[] codes, float[] absmax) {
    /** Refuses values that are not one tensor's quantized state of {@code map} in {@code layout}. */
    public void check(dev.optc.compiler.ir.QuantMap map, String state, Layout layout, int tensor) {
      var s = layout.segments().get(tensor);
      if (!s.quantized() || codes.length != map.codeBytes(s.numel()) || absmax.length != map.blocks(s.numel())) {
        throw new OptcException("state '" + state + "' of tensor '" + layout.tensors().get(tensor).name() + "' holds "
            + map.codeBytes(s.numel()) + " code bytes and " + map.blocks(s.numel()) + " block absmax values"
            + (s.quantized() ? "" : " only at or above the quantization threshold") + ", not " + codes.length
            + " and " + absmax.length);
      }
    }
  }

  /**
   * The map {@code state} is stored with, or empty where it is not quantized ({@code as q8}, {@code as q4}) on
   * this engine. {@link #read} and {@link #write} of a quantized state read its codes back and quantize.
   */
  default Optional<dev.optc.compiler.ir.QuantMap> quantized(String state) {
    return Optional.empty();
  }

  /** A quantized state's codes and absmax values for one tensor; null where that tensor keeps float32. */
  default Quantized readQuantized(String state, int tensor) {
    throw new OptcException("state '" + state + "' is not quantized");
  }

  /** Puts back what {@link #readQuantized} gave, bit for bit. */
  default void writeQuantized(String state, int tensor, Quantized values) {
    throw new OptcException("state '" + state + "' is not quantized");
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

  /**
   * Starts (clearing) or stops timing each phase of the steps that follow, for benchmarks that split a step (a
   * matrix program's products against its element passes). Only the java engine times phases; the others ignore
   * this and give no times.
   */
  default void timePhases(boolean on) {}

  /** Nanoseconds each phase took since timing was switched on, by phase index; empty where phases are not timed. */
  default Optional<long[]> phaseNanos() {
    return Optional.empty();
  }

  @Override
  void close();
}
