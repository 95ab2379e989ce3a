package dev.optc.runtime.cuda;

import dev.optc.runtime.BackendComparison;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The CUDA backend against the Java reference, as {@code OpenClVsJavaTest} does for OpenCL: every library
 * optimizer and every multi-phase golden program at every fusion level, fresh random inputs, odd sizes
 * (empty, 1, primes, 2^20 + 3), two groups, 31 steps (odd, see OpenClVsJavaTest), poisoned reads. Needs
 * an NVIDIA GPU with a driver and NVRTC; skipped, saying which is missing, elsewhere.
 */
class CudaVsJavaTest {
  static CudaBackend cuda;

  @BeforeAll
  static void device() {
    Assumptions.assumeTrue(Cuda.isAvailable(), Cuda.unavailableReason());
    Assumptions.assumeTrue(Nvrtc.isAvailable(), Nvrtc.unavailableReason());
    cuda = CudaBackend.select("");
  }

  @TestFactory
  Stream<DynamicTest> libraryAtEveryFusionLevel() {
    return BackendComparison.library(cuda, 31, null);
  }

  @TestFactory
  Stream<DynamicTest> multiPhasePrograms() {
    return BackendComparison.goldenPrograms(cuda, 13);
  }
}
