package dev.optc.runtime.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.optc.runtime.device.Downcalls;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;

/**
 * Raw FFM bindings to OpenBLAS, {@code libopenblas.so.0} (Debian's {@code libopenblas0}): one
 * {@code static final} {@link MethodHandle} per C function of {@code cblas.h}, called with
 * {@code invokeExact}. Types: {@code blasint} is {@code int} in Debian's build (the 64-bit-index
 * {@code libopenblas64-0} is another soname, with other symbol names), so it and the {@code CBLAS_*}
 * enums → {@code JAVA_INT}; {@code float} → {@code JAVA_FLOAT}; pointers → {@code ADDRESS}.
 *
 * <p>{@code cblas_sgemm} returns nothing: on a bad argument OpenBLAS prints a line to stderr and returns
 * with C untouched, so {@link OpenBlas} checks every argument before calling.
 */
public final class OpenBlasRaw {

  public static final int CBLAS_ROW_MAJOR = 101;
  public static final int CBLAS_NO_TRANS = 111;
  public static final int CBLAS_TRANS = 112;
  public static final int CBLAS_UPPER = 121;

  static final String LIBRARY = "libopenblas.so.0";
  static final String INSTALL_HINT = "install OpenBLAS: 'apt-get install libopenblas0'";

  /**
   * Where Debian keeps the real library when the alternatives link {@code /usr/lib/x86_64-linux-gnu/
   * libopenblas.so.0} is missing or points at a variant that is not installed: pthread (the default),
   * OpenMP, serial.
   */
  /** Where Debian's alternatives keep it when the link on the loader's path is missing. */
  private static final List<String> CANDIDATES = List.of(LIBRARY,
      "/usr/lib/x86_64-linux-gnu/openblas-pthread/" + LIBRARY,
      "/usr/lib/x86_64-linux-gnu/openblas-openmp/" + LIBRARY,
      "/usr/lib/x86_64-linux-gnu/openblas-serial/" + LIBRARY);

  private static final Downcalls OPENBLAS = Downcalls.open("OpenBLAS", CANDIDATES,
      LIBRARY + " not found; " + INSTALL_HINT);

  /** Why the library could not be loaded, or empty when it was. */
  public static Optional<String> loadFailure() {
    return OPENBLAS.loadFailure();
  }

  private static final MethodHandle CBLAS_SGEMM = OPENBLAS.bind("cblas_sgemm", null,
      JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT,
      JAVA_FLOAT, ADDRESS, JAVA_INT);

  /**
   * {@code void cblas_sgemm(CBLAS_ORDER Order, CBLAS_TRANSPOSE TransA, CBLAS_TRANSPOSE TransB, blasint M,
   * blasint N, blasint K, float alpha, const float *A, blasint lda, const float *B, blasint ldb, float beta,
   * float *C, blasint ldc)}
   */
  public static void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
      MemorySegment a, int lda, MemorySegment b, int ldb, float beta, MemorySegment c, int ldc) {
    try {
      CBLAS_SGEMM.invokeExact(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CBLAS_SSYRK = OPENBLAS.bind("cblas_ssyrk", null,
      JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT);

  /**
   * {@code void cblas_ssyrk(CBLAS_ORDER Order, CBLAS_UPLO Uplo, CBLAS_TRANSPOSE Trans, blasint N, blasint K,
   * float alpha, const float *A, blasint lda, float beta, float *C, blasint ldc)}: one triangle of
   * {@code alpha·op(A)·op(A)ᵀ + beta·C}, op(A) being N × K.
   */
  public static void cblas_ssyrk(int order, int uplo, int trans, int n, int k, float alpha, MemorySegment a, int lda,
      float beta, MemorySegment c, int ldc) {
    try {
      CBLAS_SSYRK.invokeExact(order, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle SET_NUM_THREADS = OPENBLAS.bind("openblas_set_num_threads", null, JAVA_INT);

  /** {@code void openblas_set_num_threads(int num_threads)}: process-wide, for every later call. */
  public static void openblas_set_num_threads(int threads) {
    try {
      SET_NUM_THREADS.invokeExact(threads);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle GET_NUM_THREADS = OPENBLAS.bind("openblas_get_num_threads", JAVA_INT);

  /** {@code int openblas_get_num_threads(void)} */
  public static int openblas_get_num_threads() {
    try {
      return (int) GET_NUM_THREADS.invokeExact();
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle GET_CONFIG = OPENBLAS.bind("openblas_get_config", ADDRESS);

  /** {@code char *openblas_get_config(void)}: version and build options, a static string. */
  public static MemorySegment openblas_get_config() {
    try {
      return (MemorySegment) GET_CONFIG.invokeExact();
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle GET_CORENAME = OPENBLAS.bind("openblas_get_corename", ADDRESS);

  /** {@code char *openblas_get_corename(void)}: the kernel set chosen for this CPU, a static string. */
  public static MemorySegment openblas_get_corename() {
    try {
      return (MemorySegment) GET_CORENAME.invokeExact();
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private OpenBlasRaw() {}
}
