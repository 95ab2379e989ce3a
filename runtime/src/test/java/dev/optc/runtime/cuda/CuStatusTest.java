package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashSet;
import org.junit.jupiter.api.Test;

/** No GPU or NVRTC needed: the status tables and the message format. */
class CuStatusTest {

  @Test
  void namesTheDriverCodesOfCudaH() {
    assertEquals("CUDA_SUCCESS", CuStatus.nameOf(0));
    assertEquals("CUDA_ERROR_INVALID_VALUE", CuStatus.nameOf(1));
    assertEquals("CUDA_ERROR_OUT_OF_MEMORY", CuStatus.nameOf(2));
    assertEquals("CUDA_ERROR_NOT_INITIALIZED", CuStatus.nameOf(3));
    assertEquals("CUDA_ERROR_STUB_LIBRARY", CuStatus.nameOf(34));
    assertEquals("CUDA_ERROR_NO_DEVICE", CuStatus.nameOf(100));
    assertEquals("CUDA_ERROR_INVALID_PTX", CuStatus.nameOf(218));
    assertEquals("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", CuStatus.nameOf(222));
    assertEquals("CUDA_ERROR_NOT_FOUND", CuStatus.nameOf(500));
    assertEquals("CUDA_ERROR_ILLEGAL_ADDRESS", CuStatus.nameOf(700));
    assertEquals("CUDA_ERROR_LAUNCH_FAILED", CuStatus.nameOf(719));
    assertEquals("CUDA_ERROR_SYSTEM_DRIVER_MISMATCH", CuStatus.nameOf(803));
    assertEquals("CUDA_ERROR_UNKNOWN", CuStatus.nameOf(999));
    // Neither the table nor any driver knows it.
    assertEquals("unknown CUDA status", CuStatus.nameOf(123_456));
    assertEquals(CuStatus.CUDA_ERROR_OUT_OF_MEMORY, CuStatus.of(2).orElseThrow());
  }

  @Test
  void codesAreUnique() {
    var codes = new HashSet<Integer>();
    Arrays.stream(CuStatus.values()).forEach(s -> assertTrue(codes.add(s.code()), "duplicate " + s));
    assertEquals(101, CuStatus.values().length, "every CUresult of CUDA 13.0's cuda.h");
    var nvrtc = new HashSet<Integer>();
    Arrays.stream(NvrtcStatus.values()).forEach(s -> assertTrue(nvrtc.add(s.code()), "duplicate " + s));
  }

  @Test
  void namesEveryNvrtcResultFromZeroToSeventeen() {
    for (int code = 0; code <= 17; code++) {
      assertTrue(NvrtcStatus.of(code).isPresent(), "code " + code);
    }
    assertEquals("NVRTC_ERROR_COMPILATION", NvrtcStatus.nameOf(6));
    assertEquals("NVRTC_ERROR_INVALID_OPTION", NvrtcStatus.nameOf(5));
    assertEquals("NVRTC_ERROR_BUILTIN_OPERATION_FAILURE", NvrtcStatus.nameOf(7));
    assertEquals("unknown NVRTC status", NvrtcStatus.nameOf(99));
  }

  @Test
  void exceptionNamesCallStatusAndWhatWasBeingDone() {
    var e = new CuException("cuMemAlloc_v2", 2, "allocating 17179869184 bytes on NVIDIA H100");
    assertEquals("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2) while allocating 17179869184 bytes on"
        + " NVIDIA H100", e.getMessage());
    assertEquals("cuMemAlloc_v2", e.call());
    assertEquals(2, e.code());
    assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.codeName());
    assertEquals(CuStatus.CUDA_ERROR_OUT_OF_MEMORY, e.status().orElseThrow());
    assertEquals("", e.log());
    assertTrue(e instanceof dev.optc.runtime.OptcException);

    var jit = new CuException("cuModuleLoadDataEx", 218, "loading a module",
        "ptxas application ptx input, line 27; error   : Unknown symbol '%r99'\n");
    assertEquals("cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (218) while loading a module; log:\n"
        + "ptxas application ptx input, line 27; error   : Unknown symbol '%r99'", jit.getMessage());
    assertEquals("cuModuleLoadDataEx failed: CUDA_ERROR_INVALID_PTX (218) while loading a module; the log is empty",
        new CuException("cuModuleLoadDataEx", 218, "loading a module", "").getMessage());
  }

  @Test
  void nvrtcExceptionUsesNvrtcNamesAndCarriesTheLog() {
    var e = new NvrtcException("nvrtcCompileProgram", 6, "compiling k.cu with []", "k.cu(3): error: oops\n");
    assertEquals("nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (6) while compiling k.cu with []; log:\n"
        + "k.cu(3): error: oops", e.getMessage());
    assertEquals("NVRTC_ERROR_COMPILATION", e.codeName());
    assertEquals(NvrtcStatus.NVRTC_ERROR_COMPILATION, e.nvrtcStatus().orElseThrow());
    assertTrue(e.status().isEmpty(), "6 is no driver status here");
    assertEquals("k.cu(3): error: oops\n", e.log());
  }
}
