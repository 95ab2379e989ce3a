package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.runtime.OptcException;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/** Runs everywhere: with a GPU, without one, without even a driver. */
class CudaAvailabilityTest {

  @Test
  void devicesNeverThrowsAndTheReasonIsOneLine() {
    var devices = Cuda.devices();
    var reason = Cuda.unavailableReason();
    assertFalse(reason.isBlank());
    assertFalse(reason.contains("\n"), reason);
    assertEquals(!devices.isEmpty(), Cuda.isAvailable());
    assertTrue(reason.startsWith(devices.isEmpty() ? "CUDA is not available" : "CUDA is available"), reason);
  }

  @Test
  void withoutTheDriverLibraryEveryCallSaysSo() {
    Assumptions.assumeTrue(CuRaw.loadFailure().isPresent(), "this machine has libcuda.so.1");
    assertEquals("CUDA is not available: libcuda.so.1 not found (no NVIDIA driver)", CuRaw.loadFailure().get());
    assertTrue(Cuda.devices().isEmpty());
    assertEquals(CuRaw.loadFailure().get(), Cuda.unavailableReason());
    var e = assertThrows(OptcException.class, () -> CuRaw.cuInit(0));
    assertEquals(CuRaw.loadFailure().get(), e.getMessage());
    assertThrows(OptcException.class, () -> CuRaw.cuMemFree_v2(0));
    assertThrows(OptcException.class, () -> CuRaw.cuLaunchKernel(MemorySegment.NULL, 1, 1, 1, 1, 1, 1, 0,
        MemorySegment.NULL, MemorySegment.NULL, MemorySegment.NULL));
    assertThrows(OptcException.class, Cuda::driverVersion);
    assertFalse(CuRaw.has("cuInit"));
    // Naming a status never needs the driver.
    assertEquals("CUDA_ERROR_NO_DEVICE", CuStatus.nameOf(100));
    assertTrue(CuStatus.describe(100).isEmpty());
  }

  @Test
  void withTheDriverTheVersionedSymbolsAreExported() {
    Assumptions.assumeTrue(CuRaw.loadFailure().isEmpty(), CuRaw.loadFailure().orElse(""));
    for (var symbol : new String[] {"cuInit", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2",
        "cuMemcpyDtoD_v2", "cuMemsetD32_v2", "cuDeviceTotalMem_v2", "cuDevicePrimaryCtxRetain",
        "cuDevicePrimaryCtxRelease_v2", "cuStreamDestroy_v2", "cuEventDestroy_v2", "cuModuleLoadDataEx",
        "cuLaunchKernel", "cuGetErrorName"}) {
      assertTrue(CuRaw.has(symbol), symbol);
    }
    assertEquals("out of memory", CuStatus.describe(2).orElseThrow());
  }
}
