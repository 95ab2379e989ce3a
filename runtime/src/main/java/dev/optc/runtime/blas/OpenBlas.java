package dev.optc.runtime.blas;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.optc.runtime.OptcException;
import java.lang.foreign.MemorySegment;

/**
 * GEMM on host memory through OpenBLAS: the Java backend's products. Matrices are native
 * {@link MemorySegment}s (a heap segment cannot be handed to C without pinning, which would stall the
 * garbage collector for a whole product), row-major and contiguous as {@link Gemm} describes.
 *
 * <p>OpenBLAS runs each call on its own thread pool, sized at load time to the machine's cores;
 * {@link #setThreads} changes it for the whole process (OpenBLAS has no per-call setting), so a caller
 * that already runs products in parallel can ask for one thread each.
 */
public final class OpenBlas implements Sgemm<MemorySegment> {

  private static final OpenBlas INSTANCE = new OpenBlas();

  private OpenBlas() {}

  /**
   * The library, loaded.
   *
   * @throws OptcException with {@link #unavailableReason()} where there is no OpenBLAS
   */
  public static OpenBlas get() {
    if (!isAvailable()) {
      throw new OptcException(unavailableReason());
    }
    return INSTANCE;
  }

  /** Whether {@code libopenblas.so.0} loaded. */
  public static boolean isAvailable() {
    return OpenBlasRaw.loadFailure().isEmpty();
  }

  /**
   * One line: why there is no OpenBLAS and what to install (e.g. {@code OpenBLAS is not available:
   * libopenblas.so.0 not found; install OpenBLAS: 'apt-get install libopenblas0'}), or the version found.
   */
  public static String unavailableReason() {
    return OpenBlasRaw.loadFailure().orElseGet(() -> "OpenBLAS is available: " + INSTANCE.describe());
  }

  @Override
  public void sgemm(Gemm gemm, float alpha, MemorySegment a, MemorySegment b, float beta, MemorySegment c) {
    check("A", a, gemm.aElements(), gemm);
    check("B", b, gemm.bElements(), gemm);
    check("C", c, gemm.cElements(), gemm);
    if (c.isReadOnly()) {
      throw new IllegalArgumentException("C of " + gemm + " is a read-only segment");
    }
    OpenBlasRaw.cblas_sgemm(OpenBlasRaw.CBLAS_ROW_MAJOR, op(gemm.transA()), op(gemm.transB()),
        gemm.m(), gemm.n(), gemm.k(), alpha, a, gemm.lda(), b, gemm.ldb(), beta, c, gemm.ldc());
  }

  /**
   * {@code C = op(A)·op(A)ᵀ} (n × n), op(A) being n × k: A stored n × k, or k × n when {@code transpose} (then C =
   * AᵀA). Half of sgemm's work (BLAS's syrk fills one triangle); the other is copied, so C is exactly symmetric.
   */
  public void gram(int n, int k, boolean transpose, MemorySegment a, MemorySegment c) {
    if (n < 1 || k < 1) {
      throw new IllegalArgumentException("a Gram matrix needs n, k >= 1, not " + n + ", " + k);
    }
    var shape = "(" + (transpose ? k + "x" + n + ")ᵀ" : n + "x" + k + ")") + " Gram → " + n + "x" + n;
    if (a.byteSize() < (long) Float.BYTES * n * k) {
      throw new IllegalArgumentException("A of " + shape + " needs " + (long) n * k + " floats, the segment holds "
          + a.byteSize() / Float.BYTES);
    }
    if (c.byteSize() < (long) Float.BYTES * n * n || c.isReadOnly()) {
      throw new IllegalArgumentException("C of " + shape + " needs " + (long) n * n + " writable floats");
    }
    OpenBlasRaw.cblas_ssyrk(OpenBlasRaw.CBLAS_ROW_MAJOR, OpenBlasRaw.CBLAS_UPPER, op(transpose), n, k, 1f, a,
        transpose ? n : k, 0f, c, n);
    mirrorUpper(c, n);
  }

  /** Square tiles of the mirror: two of them fit in a core's L1 cache. */
  private static final int TILE = 64;

  /**
   * Copies the upper triangle of the row-major n × n matrix {@code c} onto its lower one, tile by tile: a tile of
   * rows of the upper part is read contiguously and written transposed, so neither side walks memory by columns
   * (element by element that took as long as a fifth of the products at Muon's 768 × 768 Gram matrices).
   */
  static void mirrorUpper(MemorySegment c, int n) {
    var tile = new float[TILE * TILE];
    var row = new float[TILE];
    for (int ib = 0; ib < n; ib += TILE) {
      int ih = Math.min(TILE, n - ib);
      for (int jb = 0; jb <= ib; jb += TILE) {
        int jh = Math.min(TILE, n - jb);
        // Upper rows jb.. (columns ib..): the entries (j, i) with j < i that land at (i, j).
        for (int j = 0; j < jh; j++) {
          MemorySegment.copy(c, JAVA_FLOAT, (long) Float.BYTES * ((long) (jb + j) * n + ib), tile, j * TILE, ih);
        }
        for (int i = 0; i < ih; i++) {
          int lim = jb == ib ? i : jh; // on the diagonal tile, only below the diagonal
          for (int j = 0; j < lim; j++) {
            row[j] = tile[j * TILE + i];
          }
          MemorySegment.copy(row, 0, c, JAVA_FLOAT, (long) Float.BYTES * ((long) (ib + i) * n + jb), lim);
        }
      }
    }
  }

  private static int op(boolean transpose) {
    return transpose ? OpenBlasRaw.CBLAS_TRANS : OpenBlasRaw.CBLAS_NO_TRANS;
  }

  /** The threads each call uses. */
  public int threads() {
    return OpenBlasRaw.openblas_get_num_threads();
  }

  /** Sets the threads every later call uses, process-wide; at least 1. */
  public void setThreads(int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("OpenBLAS needs at least one thread, not " + threads);
    }
    OpenBlasRaw.openblas_set_num_threads(threads);
  }

  /**
   * OpenBLAS's own description of its build, e.g. {@code OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen
   * MAX_THREADS=64}.
   */
  public String config() {
    return OpenBlasRaw.openblas_get_config().reinterpret(Long.MAX_VALUE).getString(0).strip();
  }

  @Override
  public String describe() {
    // The config starts with the name and version: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen ...".
    var words = config().split(" ");
    var name = words.length > 1 ? words[0] + " " + words[1] : config();
    var core = OpenBlasRaw.openblas_get_corename().reinterpret(Long.MAX_VALUE).getString(0);
    int threads = threads();
    return name + " (" + core + ", " + threads + (threads == 1 ? " thread)" : " threads)");
  }

  /** Checks what OpenBLAS cannot: that {@code matrix} is native, float-aligned and holds {@code floats}. */
  static void check(String name, MemorySegment matrix, long floats, Gemm gemm) {
    if (!matrix.isNative()) {
      throw new IllegalArgumentException(name + " of " + gemm + " is a heap segment; OpenBLAS needs native memory");
    }
    if (matrix.address() % JAVA_FLOAT.byteAlignment() != 0) {
      throw new IllegalArgumentException(name + " of " + gemm + " is not aligned to a float");
    }
    if (matrix.byteSize() < floats * Float.BYTES) {
      throw new IllegalArgumentException(name + " of " + gemm + " needs " + floats + " floats, the segment holds "
          + matrix.byteSize() / Float.BYTES);
    }
  }
}
