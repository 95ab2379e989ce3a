package dev.optc.runtime.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** What the cuBLAS binding does without a GPU: find the library, or say why not. */
class BlasCuBlasLibraryTest {

  @Test
  void aWrongOverrideIsAnErrorNotAFallback() {
    var tried = new ArrayList<String>();
    var search = CuBlasRaw.search(Map.of(CuBlasRaw.ENV_OVERRIDE, "/nowhere/libcublas.so.13"), name -> {
      tried.add(name);
      return null;
    });
    assertNull(search.lookup());
    assertTrue(tried.isEmpty(), "nothing else is tried: " + tried);
    assertEquals("cuBLAS is not available: OPTC_CUBLAS=/nowhere/libcublas.so.13 names no file; set it to the path"
        + " of libcublas.so (e.g. /usr/local/cuda/lib64/libcublas.so.13) or unset it to search the usual places",
        search.failure());
  }

  @Test
  void withoutALibraryTheReasonSaysWhatToInstall() {
    var search = CuBlasRaw.search(Map.of(), name -> null);
    assertEquals("cuBLAS is not available: no libcublas.so.13, libcublas.so.12, libcublas.so.11 in $CUDA_HOME/lib64,"
        + " /usr/local/cuda/lib64 or on the loader's path; install the CUDA toolkit's cuBLAS (or 'pip install"
        + " nvidia-cublas') and set OPTC_CUBLAS to the path of libcublas.so", search.failure());
  }

  /** cublasGetProperty needs no GPU: where the library is, its version reads as major.minor.patch. */
  @Test
  void theVersionNeedsNoGpu() {
    Assumptions.assumeTrue(CuBlas.isAvailable(), CuBlas.unavailableReason());
    assertTrue(CuBlas.version().matches("\\d+\\.\\d+\\.\\d+"), CuBlas.version());
  }
}
