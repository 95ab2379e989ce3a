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

  /**
   * Where one tensor lives in the group's flat buffers.
   *
   * <p>Quantized states ({@code as q8}, {@code as q4}; {@link dev.optc.compiler.ir.QuantMap}) keep a tensor in
   * one of two ways. At or above the bind-time threshold, as codes and block absmax values at quantized
   * element {@code qOffset + e} for element {@code e} of the tensor ({@code qOffset} is a multiple of 256, so
   * blocks of 256 and 128 start with the tensor: q8 code byte {@code qOffset + e}, q4 byte {@code (qOffset +
   * e) / 2} (even elements in the low nibble), absmax {@code (qOffset + e) / block}). Below it, as float32 at
   * {@code rawOffset + e} of the state's float32 arena ({@code qOffset} is then -1).
   */
  record Segment(int index, int offset, int numel, int rows, int cols, int rowOffset, int colOffset, int qOffset,
      int rawOffset) {
    public Segment {
      if (numel != rows * cols || numel < 0) {
        throw new IllegalArgumentException("segment " + index + ": " + rows + "x" + cols + " != " + numel);
      }
      if (qOffset < -1 || qOffset % 256 > 0 || rawOffset < 0) {
        throw new IllegalArgumentException("segment " + index + ": quantized offset " + qOffset + ", float32 offset "
            + rawOffset);
      }
    }

    /** A tensor whose quantized states (if any) are float32, at its own element offset. */
    public Segment(int index, int offset, int numel, int rows, int cols, int rowOffset, int colOffset) {
      this(index, offset, numel, rows, cols, rowOffset, colOffset, -1, offset);
    }

    /** Whether this tensor's quantized states are stored as codes (else float32). */
    public boolean quantized() {
      return qOffset >= 0;
    }
  }
}
