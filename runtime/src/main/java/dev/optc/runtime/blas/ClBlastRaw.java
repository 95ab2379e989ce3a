package dev.optc.runtime.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.optc.runtime.device.Downcalls;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;

/**
 * Raw FFM bindings to CLBlast, {@code libclblast.so.1} (Debian's {@code libclblast1}), through its C API
 * ({@code clblast_c.h}): {@code CLBlastStatusCode} and the layout and transpose enums → {@code JAVA_INT};
 * {@code size_t} → {@code JAVA_LONG}; {@code float} → {@code JAVA_FLOAT}; {@code cl_mem}, the
 * {@code cl_command_queue *} and {@code cl_event *} → {@code ADDRESS}. CLBlast runs on any OpenCL
 * device, PoCL's CPU device included, and tunes its kernels per device from a database shipped inside
 * the library.
 */
public final class ClBlastRaw {

  public static final int CLBLAST_SUCCESS = 0;
  public static final int CLBLAST_LAYOUT_ROW_MAJOR = 101;
  public static final int CLBLAST_TRANSPOSE_NO = 111;
  public static final int CLBLAST_TRANSPOSE_YES = 112;

  static final String LIBRARY = "libclblast.so.1";
  static final String INSTALL_HINT = "install CLBlast: 'apt-get install libclblast1'";

  private static final Downcalls CLBLAST = Downcalls.open("CLBlast", List.of(LIBRARY),
      LIBRARY + " not found; " + INSTALL_HINT);

  /** Why the library could not be loaded, or empty when it was. */
  public static Optional<String> loadFailure() {
    return CLBLAST.loadFailure();
  }

  private static final MethodHandle SGEMM = CLBLAST.bind("CLBlastSgemm", JAVA_INT,
      JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_FLOAT,
      ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_FLOAT, ADDRESS, JAVA_LONG, JAVA_LONG,
      ADDRESS, ADDRESS);

  /**
   * {@code CLBlastStatusCode CLBlastSgemm(CLBlastLayout layout, CLBlastTranspose a_transpose,
   * CLBlastTranspose b_transpose, size_t m, size_t n, size_t k, float alpha, cl_mem a_buffer, size_t
   * a_offset, size_t a_ld, cl_mem b_buffer, size_t b_offset, size_t b_ld, float beta, cl_mem c_buffer,
   * size_t c_offset, size_t c_ld, cl_command_queue *queue, cl_event *event)}: offsets in elements;
   * {@code event} may be NULL.
   */
  public static int CLBlastSgemm(int layout, int transA, int transB, long m, long n, long k, float alpha,
      MemorySegment a, long aOffset, long lda, MemorySegment b, long bOffset, long ldb, float beta,
      MemorySegment c, long cOffset, long ldc, MemorySegment queue, MemorySegment event) {
    try {
      return (int) SGEMM.invokeExact(layout, transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb,
          beta, c, cOffset, ldc, queue, event);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private ClBlastRaw() {}
}
