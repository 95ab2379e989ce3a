package dev.optc.runtime.blas;

/**
 * Single-precision GEMM on one kind of memory {@code M} (host segments, OpenCL or CUDA buffers): the one
 * operation a matrix-aware optimizer's products need, so the planner calls every backend the same way.
 */
public interface Sgemm<M> {

  /**
   * {@code C = alpha·op(A)·op(B) + beta·C}, row-major, shaped by {@code gemm}. With {@code beta = 0} C
   * is only written (NaN or garbage in it does not leak through). Device implementations enqueue the
   * product and may return before it is done; later work on the same queue or stream sees the result.
   *
   * @throws IllegalArgumentException when a matrix is smaller than the shape needs, before any native call
   * @throws BlasException when the library reports a failure
   */
  void sgemm(Gemm gemm, float alpha, M a, M b, float beta, M c);

  /** The library and where it runs, for tables and errors, e.g. {@code OpenBLAS 0.3.21 (Zen, 2 threads)}. */
  String describe();
}
