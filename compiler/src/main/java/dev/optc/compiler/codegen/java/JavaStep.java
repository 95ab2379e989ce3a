package dev.optc.compiler.codegen.java;

/**
 * What a generated Java class implements: the phases of one optimizer step over the flat buffers of a
 * parameter group. {@code A} is {@code MemorySegment} for the float32 reference (float32 values, on the
 * heap or in native memory: the engine decides) and {@code double[]} for the float64 one.
 *
 * <p>Buffers, in this order: {@code w}, {@code g}, then each state in declaration order, then the
 * plan's temporaries. Element buffers are indexed by {@link Segment#offset()}, row states by
 * {@link Segment#rowOffset()}, column states by {@link Segment#colOffset()}, scalar states by
 * {@link Segment#index()}: element {@code e} of the group is element {@code e} of its buffer. Where a
 * buffer starts in memory is the engine's business (it staggers them; see {@code JavaEngine}).
 */
public interface JavaStep<A> {
  int phases();

  /**
   * Whether {@code phase} may run as several element ranges of one tensor at once: it has no
   * reductions and writes only per-element buffers. Otherwise a call must cover the whole tensor.
   */
  boolean chunkable(int phase);

  /**
   * Runs {@code phase} over elements {@code [lo, hi)} of tensor {@code s}.
   *
   * @param uniforms the hoisted uniforms of this tensor for this step, in slot order
   * @param reduced one array per reduction of the plan: per-tensor results at {@code s.index()},
   *     row sums at {@code s.rowOffset() + r}, column sums at {@code s.colOffset() + c}. Phases write the
   *     reductions they compute and read those of earlier phases
   */
  void run(int phase, Segment s, A[] buffers, double[] uniforms, double[][] reduced, int lo, int hi);

  /** Where one tensor lives in the group's flat buffers. */
  record Segment(int index, int offset, int numel, int rows, int cols, int rowOffset, int colOffset) {
    public Segment {
      if (numel != rows * cols || numel < 0) {
        throw new IllegalArgumentException("segment " + index + ": " + rows + "x" + cols + " != " + numel);
      }
    }
  }
}
