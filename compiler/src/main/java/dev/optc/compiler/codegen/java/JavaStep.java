package dev.optc.compiler.codegen.java;

/**
 * What a generated Java class implements: the phases of one optimizer step over the flat buffers of a
 * parameter group. {@code A} is {@code float[]} for the float32 reference and {@code double[]} for the
 * float64 one.
 *
 * <p>Buffers, in this order: {@code w}, {@code g}, then each state in declaration order. Element
 * buffers are indexed by {@link Segment#offset()}, row states by {@link Segment#rowOffset()}, column
 * states by {@link Segment#colOffset()}, scalar states by {@link Segment#index()}. A per-element buffer
 * holds its data from index {@link #stagger stagger(position)} on, where position is its place in that
 * order: element {@code e} of the group is at {@code buffer[stagger(position) + e]}.
 */
public interface JavaStep<A> {
  /**
   * How many elements apart the starts of consecutive per-element buffers are staggered: 1,088 bytes in
   * float32, 17 cache lines. Without it, large arrays of equal length behave as if they start at the same
   * address modulo 4 KiB, {@code w[e]}, {@code g[e]} and the states' {@code [e]} sharing cache sets and
   * tripping the core's store-to-load alias check: measured at 64M
   * float32 parameters, AdamW's step took 68 ms unstaggered and 36-44 ms staggered on a 2-core EPYC.
   */
  int STAGGER = 272;

  /**
   * How many distinct starts there are: position k starts at {@code STAGGER * (k % STAGGERED)}. Sixteen
   * starts 1,088 bytes apart fall on sixteen different cache lines modulo 4 KiB; more buffers than that
   * share sets anyway, and without the modulus a program of 2,000 states would spend 2 GB on staggering.
   */
  int STAGGERED = 16;

  /** Where the data of the per-element buffer at {@code position} starts in its array. */
  static int stagger(int position) {
    return STAGGER * (position % STAGGERED);
  }

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
