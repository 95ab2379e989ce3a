package dev.optc.runtime.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.optc.runtime.OptcException;
import dev.optc.runtime.cuda.CuBuffer;
import dev.optc.runtime.cuda.CuContext;
import dev.optc.runtime.cuda.CuStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * GEMM on CUDA buffers through cuBLAS: the CUDA backend's products, on one cuBLAS handle bound to a
 * context (the CUDA runtime under cuBLAS uses the device's primary context, which is what
 * {@link CuContext#primary} retains) and a stream, so products are ordered with the backend's kernels.
 *
 * <p>cuBLAS is column-major; a row-major C = op(A)·op(B) is the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, so each
 * call swaps the operands and m with n and passes the row-major strides unchanged.
 */
public final class CuBlas implements Sgemm<CuBuffer>, AutoCloseable {

  private final CuContext context;
  private final MemorySegment handle;
  private boolean closed;

  private CuBlas(CuContext context, MemorySegment handle) {
    this.context = context;
    this.handle = handle;
  }

  /**
   * A handle on {@code context} whose products run on {@code stream} (null: the legacy default stream,
   * where {@link CuBuffer}'s copies run).
   *
   * @throws OptcException with {@link #unavailableReason()} where there is no cuBLAS; a
   *     {@link BlasException} where cuBLAS cannot start (no GPU, a driver older than the library)
   */
  public static CuBlas create(CuContext context, CuStream stream) {
    if (!isAvailable()) {
      throw new OptcException(unavailableReason());
    }
    context.makeCurrent();
    try (var arena = Arena.ofConfined()) {
      var out = arena.allocate(ADDRESS);
      check(CuBlasRaw.cublasCreate_v2(out), "cublasCreate_v2", "creating a handle on " + context.device().name());
      var blas = new CuBlas(context, out.get(ADDRESS, 0));
      if (stream != null) {
        try {
          check(CuBlasRaw.cublasSetStream_v2(blas.handle, stream.handle()), "cublasSetStream_v2",
              "binding a stream on " + context.device().name());
        } catch (RuntimeException e) {
          blas.close();
          throw e;
        }
      }
      return blas;
    }
  }

  /** Whether a cuBLAS library loaded; a GPU is another question ({@link dev.optc.runtime.cuda.Cuda}). */
  public static boolean isAvailable() {
    return CuBlasRaw.loadFailure().isEmpty();
  }

  /** One line: why there is no cuBLAS and what to do, or the version found. */
  public static String unavailableReason() {
    return CuBlasRaw.loadFailure().orElseGet(() -> "cuBLAS is available: " + version());
  }

  /** The library's version, e.g. {@code 13.1.1}; needs no GPU. */
  public static String version() {
    if (!isAvailable()) {
      throw new OptcException(unavailableReason());
    }
    try (var arena = Arena.ofConfined()) {
      var value = arena.allocate(JAVA_INT);
      var parts = new StringBuilder();
      for (int property : new int[] {CuBlasRaw.MAJOR_VERSION, CuBlasRaw.MINOR_VERSION, CuBlasRaw.PATCH_LEVEL}) {
        check(CuBlasRaw.cublasGetProperty(property, value), "cublasGetProperty", "asking cuBLAS's version");
        parts.append(parts.isEmpty() ? "" : ".").append(value.get(JAVA_INT, 0));
      }
      return parts.toString();
    }
  }

  @Override
  public void sgemm(Gemm gemm, float alpha, CuBuffer a, CuBuffer b, float beta, CuBuffer c) {
    if (closed) {
      throw new IllegalStateException("CuBlas is already closed");
    }
    check("A", a, gemm.aElements(), gemm);
    check("B", b, gemm.bElements(), gemm);
    check("C", c, gemm.cElements(), gemm);
    context.makeCurrent();
    try (var arena = Arena.ofConfined()) {
      int status = CuBlasRaw.cublasSgemm_v2(handle, op(gemm.transB()), op(gemm.transA()), gemm.n(), gemm.m(),
          gemm.k(), arena.allocateFrom(JAVA_FLOAT, alpha), MemorySegment.ofAddress(b.pointer()), gemm.ldb(),
          MemorySegment.ofAddress(a.pointer()), gemm.lda(), arena.allocateFrom(JAVA_FLOAT, beta),
          MemorySegment.ofAddress(c.pointer()), gemm.ldc());
      check(status, "cublasSgemm_v2", "multiplying " + gemm + " on " + context.device().name());
    }
  }

  private static int op(boolean transpose) {
    return transpose ? CuBlasRaw.CUBLAS_OP_T : CuBlasRaw.CUBLAS_OP_N;
  }

  private void check(String name, CuBuffer matrix, long floats, Gemm gemm) {
    if (matrix.context() != context) {
      throw new IllegalArgumentException(name + " of " + gemm + " is a buffer of another context than cuBLAS's");
    }
    if (matrix.size() < floats * Float.BYTES) {
      throw new IllegalArgumentException(name + " of " + gemm + " needs " + floats + " floats, the buffer holds "
          + matrix.size() / Float.BYTES);
    }
  }

  private static void check(int status, String call, String during) {
    if (status != CuBlasRaw.CUBLAS_STATUS_SUCCESS) {
      throw new BlasException(call, status, CuBlasRaw.statusName(status), during);
    }
  }

  @Override
  public String describe() {
    return "cuBLAS " + version() + " on " + context.device().name();
  }

  /** Destroys the handle; the context stays the caller's. Idempotent. */
  @Override
  public void close() {
    if (!closed) {
      closed = true;
      context.makeCurrent();
      check(CuBlasRaw.cublasDestroy_v2(handle), "cublasDestroy_v2", "destroying a handle on " + context.device().name());
    }
  }
}
