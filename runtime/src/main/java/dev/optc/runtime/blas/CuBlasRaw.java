package dev.optc.runtime.blas;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.optc.runtime.device.Downcalls;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Raw FFM bindings to cuBLAS, {@code libcublas.so} (CUDA toolkit, or the {@code nvidia-cublas} wheel):
 * {@code cublasStatus_t}, {@code int}, {@code cublasOperation_t} and {@code libraryPropertyType} →
 * {@code JAVA_INT}; {@code cublasHandle_t}, {@code cudaStream_t} (the driver's {@code CUstream}) and
 * pointers, device pointers included → {@code ADDRESS}. Symbols are the {@code _v2} ones {@code
 * cublas_v2.h} maps the plain names to.
 *
 * <p>Where the library is: {@code $OPTC_CUBLAS} if set (that file, and nothing else, so a wrong value is
 * an error, not a silent fallback; the way to use a wheel's {@code nvidia/cu13/lib/libcublas.so.13}),
 * else {@code libcublas.so.13}, {@code .so.12}, {@code .so.11} in {@code $CUDA_HOME/lib64} and
 * {@code /usr/local/cuda/lib64}, then through the dynamic loader's own search. Loading needs no GPU
 * (its {@code libcublasLt} is found beside it); making a handle does.
 */
public final class CuBlasRaw {

  public static final int CUBLAS_STATUS_SUCCESS = 0;
  public static final int CUBLAS_OP_N = 0;
  public static final int CUBLAS_OP_T = 1;
  /** {@code libraryPropertyType} keys for {@link #cublasGetProperty}. */
  public static final int MAJOR_VERSION = 0;
  public static final int MINOR_VERSION = 1;
  public static final int PATCH_LEVEL = 2;

  /** The environment variable that names the library file to use. */
  public static final String ENV_OVERRIDE = "OPTC_CUBLAS";

  static final List<String> NAMES = List.of("libcublas.so.13", "libcublas.so.12", "libcublas.so.11");
  static final String INSTALL_HINT = "install the CUDA toolkit's cuBLAS (or 'pip install nvidia-cublas') and set "
      + ENV_OVERRIDE + " to the path of libcublas.so";

  private static final Downcalls CUBLAS;

  /** The library found, and how messages name it; or why there is none. */
  record Search(SymbolLookup lookup, String location, String failure) {}

  static {
    Downcalls cublas;
    try {
      var search = search(System.getenv(), Downcalls::tryLoad);
      cublas = new Downcalls(search.lookup(), search.location(), search.failure());
    } catch (IllegalCallerException e) {
      cublas = new Downcalls(null, NAMES.getFirst(), "cuBLAS is not available: " + Downcalls.NATIVE_ACCESS_DENIED);
    }
    CUBLAS = cublas;
  }

  /**
   * Searches as described above, {@code env} standing in for the environment (so tests can try an
   * override); {@code load} gives null for a name or file that does not load.
   */
  static Search search(Map<String, String> env, Function<String, SymbolLookup> load) {
    var override = env.getOrDefault(ENV_OVERRIDE, "").strip();
    if (!override.isEmpty()) {
      if (!Files.isRegularFile(Path.of(override))) {
        return new Search(null, override, "cuBLAS is not available: " + ENV_OVERRIDE + "=" + override
            + " names no file; set it to the path of libcublas.so (e.g. /usr/local/cuda/lib64/libcublas.so.13)"
            + " or unset it to search the usual places");
      }
      var lib = load.apply(override);
      return lib != null ? new Search(lib, override, null) : new Search(null, override, "cuBLAS is not available: "
          + ENV_OVERRIDE + "=" + override + " could not be loaded (is libcublasLt beside it?)");
    }
    var candidates = new ArrayList<String>();
    for (var dir : new String[] {env.get("CUDA_HOME"), "/usr/local/cuda"}) {
      if (dir != null && !dir.isBlank()) {
        NAMES.forEach(name -> candidates.add(Path.of(dir.strip(), "lib64", name).toString()));
      }
    }
    candidates.removeIf(path -> !Files.isRegularFile(Path.of(path)));
    candidates.addAll(NAMES); // bare names: the loader's own search
    for (var candidate : candidates) {
      var lib = load.apply(candidate);
      if (lib != null) {
        return new Search(lib, candidate, null);
      }
    }
    return new Search(null, NAMES.getFirst(), "cuBLAS is not available: no " + String.join(", ", NAMES)
        + " in $CUDA_HOME/lib64, /usr/local/cuda/lib64 or on the loader's path; " + INSTALL_HINT);
  }

  /** Why the library could not be loaded, or empty when it was. */
  public static Optional<String> loadFailure() {
    return CUBLAS.loadFailure();
  }

  /** The C name of a {@code cublasStatus_t}, from {@code cublas_api.h}. */
  static String statusName(int status) {
    return switch (status) {
      case 0 -> "CUBLAS_STATUS_SUCCESS";
      case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
      case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
      case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
      case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
      case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
      case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
      case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
      case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
      case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
      default -> "unknown cuBLAS status";
    };
  }

  private static final MethodHandle GET_PROPERTY = CUBLAS.bind("cublasGetProperty", JAVA_INT, JAVA_INT, ADDRESS);

  /** {@code cublasStatus_t cublasGetProperty(libraryPropertyType type, int *value)}: needs no GPU. */
  public static int cublasGetProperty(int type, MemorySegment value) {
    try {
      return (int) GET_PROPERTY.invokeExact(type, value);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CREATE = CUBLAS.bind("cublasCreate_v2", JAVA_INT, ADDRESS);

  /** {@code cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)}: on the thread's current context. */
  public static int cublasCreate_v2(MemorySegment handle) {
    try {
      return (int) CREATE.invokeExact(handle);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle DESTROY = CUBLAS.bind("cublasDestroy_v2", JAVA_INT, ADDRESS);

  /** {@code cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)} */
  public static int cublasDestroy_v2(MemorySegment handle) {
    try {
      return (int) DESTROY.invokeExact(handle);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle SET_STREAM = CUBLAS.bind("cublasSetStream_v2", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId)} */
  public static int cublasSetStream_v2(MemorySegment handle, MemorySegment stream) {
    try {
      return (int) SET_STREAM.invokeExact(handle, stream);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle SGEMM = CUBLAS.bind("cublasSgemm_v2", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT,
      JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT);

  /**
   * {@code cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t
   * transb, int m, int n, int k, const float *alpha, const float *A, int lda, const float *B, int ldb, const
   * float *beta, float *C, int ldc)}: column-major; alpha and beta in host memory (the default pointer
   * mode), A, B, C device pointers.
   */
  public static int cublasSgemm_v2(MemorySegment handle, int transA, int transB, int m, int n, int k,
      MemorySegment alpha, MemorySegment a, int lda, MemorySegment b, int ldb, MemorySegment beta, MemorySegment c,
      int ldc) {
    try {
      return (int) SGEMM.invokeExact(handle, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private CuBlasRaw() {}
}
