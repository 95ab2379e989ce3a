package dev.optc.runtime.blas;

/**
 * The shape of one product {@code C = alpha·op(A)·op(B) + beta·C} on dense row-major float matrices:
 * {@code op(A)} is m × k, {@code op(B)} is k × n and C is m × n, where {@code op(X)} is X or Xᵀ. A is
 * stored as m × k (or k × m when {@code transA}), B as k × n (or n × k when {@code transB}), each
 * contiguous, so the leading dimensions follow from the shape and no caller computes them.
 *
 * <p>Every dimension is at least 1: CLBlast rejects empty products, and an optimizer never multiplies
 * an empty matrix (the language side skips empty tensors before it gets here).
 *
 * @param m rows of op(A) and of C
 * @param n columns of op(B) and of C
 * @param k columns of op(A), rows of op(B)
 * @param transA whether A is stored transposed (k × m)
 * @param transB whether B is stored transposed (n × k)
 */
public record Gemm(int m, int n, int k, boolean transA, boolean transB) {

  public Gemm {
    if (m < 1 || n < 1 || k < 1) {
      throw new IllegalArgumentException("a product needs m, n, k >= 1, not " + m + ", " + n + ", " + k);
    }
  }

  /** {@code op(A)·op(B)}, neither transposed. */
  public static Gemm of(int m, int n, int k) {
    return new Gemm(m, n, k, false, false);
  }

  /** Row stride of A as stored: its column count. */
  public int lda() {
    return transA ? m : k;
  }

  /** Row stride of B as stored: its column count. */
  public int ldb() {
    return transB ? k : n;
  }

  /** Row stride of C: n. */
  public int ldc() {
    return n;
  }

  /** Floats A holds: m·k. */
  public long aElements() {
    return (long) m * k;
  }

  /** Floats B holds: k·n. */
  public long bElements() {
    return (long) k * n;
  }

  /** Floats C holds: m·n. */
  public long cElements() {
    return (long) m * n;
  }

  /** Floating-point operations, counted as BLAS benchmarks count them: 2·m·n·k. */
  public double flops() {
    return 2.0 * m * n * k;
  }

  /**
   * The product in the notation of errors and tables, e.g. {@code 768x3072 · (768x3072)ᵀ → 768x768}:
   * each operand as stored.
   */
  @Override
  public String toString() {
    var a = transA ? "(" + k + "x" + m + ")ᵀ" : m + "x" + k;
    var b = transB ? "(" + n + "x" + k + ")ᵀ" : k + "x" + n;
    return a + " · " + b + " → " + m + "x" + n;
  }
}
