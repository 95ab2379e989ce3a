package dev.optc.runtime.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;

import dev.optc.runtime.OptcException;
import dev.optc.runtime.opencl.ClQueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * GEMM on OpenCL buffers through CLBlast: the OpenCL backend's products, enqueued on the backend's own
 * in-order queue, so they are ordered with its kernels without events. The first product of each shape
 * class on a device compiles CLBlast's kernels (seconds on PoCL); CLBlast caches them for the process.
 */
public final class ClBlast implements Sgemm<ClMatrix> {

  private final ClQueue queue;

  private ClBlast(ClQueue queue) {
    this.queue = queue;
  }

  /**
   * Products enqueued on {@code queue}.
   *
   * @throws OptcException with {@link #unavailableReason()} where there is no CLBlast
   */
  public static ClBlast on(ClQueue queue) {
    if (!isAvailable()) {
      throw new OptcException(unavailableReason());
    }
    return new ClBlast(queue);
  }

  /** Whether {@code libclblast.so.1} loaded. */
  public static boolean isAvailable() {
    return ClBlastRaw.loadFailure().isEmpty();
  }

  /**
   * One line: why there is no CLBlast and what to install (e.g. {@code CLBlast is not available:
   * libclblast.so.1 not found; install CLBlast: 'apt-get install libclblast1'}).
   */
  public static String unavailableReason() {
    return ClBlastRaw.loadFailure().orElse("CLBlast is available: " + ClBlastRaw.LIBRARY);
  }

  @Override
  public void sgemm(Gemm gemm, float alpha, ClMatrix a, ClMatrix b, float beta, ClMatrix c) {
    check("A", a, gemm.aElements(), gemm);
    check("B", b, gemm.bElements(), gemm);
    check("C", c, gemm.cElements(), gemm);
    try (var arena = Arena.ofConfined()) {
      var queueSlot = arena.allocateFrom(ADDRESS, queue.handle());
      int status = ClBlastRaw.CLBlastSgemm(ClBlastRaw.CLBLAST_LAYOUT_ROW_MAJOR, op(gemm.transA()),
          op(gemm.transB()), gemm.m(), gemm.n(), gemm.k(), alpha, a.buffer().handle(), a.offset(), gemm.lda(),
          b.buffer().handle(), b.offset(), gemm.ldb(), beta, c.buffer().handle(), c.offset(), gemm.ldc(),
          queueSlot, MemorySegment.NULL);
      if (status != ClBlastRaw.CLBLAST_SUCCESS) {
        throw new BlasException("CLBlastSgemm", status, ClBlastStatus.nameOf(status),
            "multiplying " + gemm + " on " + queue.context().device().name());
      }
    }
  }

  private static int op(boolean transpose) {
    return transpose ? ClBlastRaw.CLBLAST_TRANSPOSE_YES : ClBlastRaw.CLBLAST_TRANSPOSE_NO;
  }

  /** Checks what would otherwise be an OpenCL error deep inside CLBlast, or a read past the buffer. */
  private void check(String name, ClMatrix matrix, long floats, Gemm gemm) {
    if (matrix.buffer().context() != queue.context()) {
      throw new IllegalArgumentException(name + " of " + gemm + " is a buffer of another context than the queue's");
    }
    long holds = matrix.buffer().size() / Float.BYTES - matrix.offset();
    if (holds < floats) {
      throw new IllegalArgumentException(name + " of " + gemm + " needs " + floats + " floats from offset "
          + matrix.offset() + ", the buffer holds " + Math.max(holds, 0));
    }
  }

  @Override
  public String describe() {
    return "CLBlast (" + ClBlastRaw.LIBRARY + ") on " + queue.context().device().name();
  }
}
