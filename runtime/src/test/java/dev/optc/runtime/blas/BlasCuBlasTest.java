package dev.optc.runtime.blas;

import static dev.optc.runtime.blas.BlasFixture.assertProduct;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.optc.runtime.cuda.CuContext;
import dev.optc.runtime.cuda.CuStream;
import dev.optc.runtime.cuda.Cuda;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * cuBLAS on the first CUDA device against the float64 reference, on a stream of the backend's kind;
 * skips, saying what is missing (the library, the driver, a GPU), where it cannot run.
 */
class BlasCuBlasTest {

  private static CuContext context;
  private static CuStream stream;
  private static CuBlas blas;
  /** Why cublasCreate failed on a machine with a GPU (a driver older than the library), or null. */
  private static String createFailure;

  /** Opens cuBLAS where it can run; each test then skips with the reason (a skip here would be silent). */
  @BeforeAll
  static void open() {
    if (CuBlas.isAvailable() && Cuda.isAvailable()) {
      context = CuContext.primary(Cuda.devices().getFirst());
      stream = context.createStream();
      try {
        blas = CuBlas.create(context, stream);
      } catch (BlasException e) {
        createFailure = "cuBLAS " + CuBlas.version() + " cannot start with driver "
            + Cuda.versionString(Cuda.driverVersion()) + ": " + e.getMessage();
      }
    }
  }

  @BeforeEach
  void requireGpu() {
    Assumptions.assumeTrue(CuBlas.isAvailable(), CuBlas.unavailableReason());
    Assumptions.assumeTrue(Cuda.isAvailable(), Cuda.unavailableReason());
    Assumptions.assumeTrue(createFailure == null, createFailure);
  }

  @AfterAll
  static void close() {
    if (blas != null) {
      blas.close();
    }
    if (context != null) {
      stream.close();
      context.close();
    }
  }

  @ParameterizedTest(name = "{0} α={1} β={2}")
  @MethodSource("dev.optc.runtime.blas.BlasFixture#cases")
  void matchesTheFloat64Product(Gemm gemm, float alpha, float beta) {
    var operands = BlasFixture.Operands.of(gemm, beta);
    long seed = operands.seed();
    var a = operands.a();
    var b = operands.b();
    var c0 = operands.c();
    try (var bufA = context.allocate(gemm.aElements() * Float.BYTES);
        var bufB = context.allocate(gemm.bElements() * Float.BYTES);
        var bufC = context.allocate(gemm.cElements() * Float.BYTES)) {
      bufA.write(0, a);
      bufB.write(0, b);
      bufC.write(0, c0);
      blas.sgemm(gemm, alpha, bufA, bufB, beta, bufC);
      stream.synchronize();
      assertProduct(gemm, alpha, a, b, beta, c0, bufC.readFloats(), blas.describe() + " seed " + seed);
    }
  }

  @Test
  void refusesWhatWouldReadPastABuffer() {
    var gemm = Gemm.of(7, 5, 13);
    try (var small = context.allocate(90 * Float.BYTES); var big = context.allocate(91 * Float.BYTES)) {
      var e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm(gemm, 1, small, big, 0, big));
      assertEquals("A of 7x13 · 13x5 → 7x5 needs 91 floats, the buffer holds 90", e.getMessage());
    }
  }
}
