package dev.optc.runtime.blas;

import static dev.optc.runtime.blas.BlasFixture.assertProduct;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.optc.runtime.opencl.ClContext;
import dev.optc.runtime.opencl.ClQueue;
import dev.optc.runtime.opencl.OpenCl;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * CLBlast on the first OpenCL device (PoCL's CPU device in CI) against the float64 reference; skips,
 * naming what to install, without OpenCL or CLBlast.
 */
class BlasClBlastTest {

  private static ClContext context;
  private static ClQueue queue;
  private static ClBlast blas;

  /** Opens CLBlast where it can run; each test then skips with the reason (a skip here would be silent). */
  @BeforeAll
  static void open() {
    var device = OpenCl.platforms().stream().flatMap(p -> p.devices().stream()).findFirst();
    if (ClBlast.isAvailable() && device.isPresent()) {
      context = ClContext.create(device.orElseThrow());
      queue = context.createQueue();
      blas = ClBlast.on(queue);
    }
  }

  @BeforeEach
  void requireDevice() {
    Assumptions.assumeTrue(ClBlast.isAvailable(), ClBlast.unavailableReason());
    Assumptions.assumeTrue(OpenCl.isAvailable(), OpenCl.unavailableReason());
    Assumptions.assumeTrue(blas != null, "OpenCL platforms " + OpenCl.platforms() + " have no device");
  }

  @AfterAll
  static void close() {
    if (context != null) {
      queue.close();
      context.close();
    }
  }

  /** Each matrix at an odd offset into a larger buffer, as tensors sit in an arena, with guards around C. */
  @ParameterizedTest(name = "{0} α={1} β={2}")
  @MethodSource("dev.optc.runtime.blas.BlasFixture#cases")
  void matchesTheFloat64Product(Gemm gemm, float alpha, float beta) {
    var operands = BlasFixture.Operands.of(gemm, beta);
    long seed = operands.seed();
    var a = operands.a();
    var b = operands.b();
    var c0 = operands.c();
    int offset = 3;
    int c = (int) gemm.cElements();
    try (var bufA = context.createBuffer((offset + gemm.aElements()) * Float.BYTES);
        var bufB = context.createBuffer((offset + gemm.bElements()) * Float.BYTES);
        var bufC = context.createBuffer((offset + c + offset) * Float.BYTES)) {
      bufA.write(queue, offset * Float.BYTES, a);
      bufB.write(queue, offset * Float.BYTES, b);
      var guarded = new float[offset + c + offset];
      Arrays.fill(guarded, -7f);
      System.arraycopy(c0, 0, guarded, offset, c);
      bufC.write(queue, 0, guarded);
      blas.sgemm(gemm, alpha, new ClMatrix(bufA, offset), new ClMatrix(bufB, offset), beta,
          new ClMatrix(bufC, offset));
      var out = bufC.readFloats(queue);
      assertProduct(gemm, alpha, a, b, beta, c0, Arrays.copyOfRange(out, offset, offset + c),
          blas.describe() + " seed " + seed);
      for (int i = 0; i < offset; i++) {
        assertEquals(-7f, out[i], "guard before C");
        assertEquals(-7f, out[offset + c + i], "guard after C");
      }
    }
  }

  @Test
  void refusesWhatWouldReadPastABuffer() {
    var gemm = Gemm.of(7, 5, 13);
    try (var buffer = context.createBuffer(91 * Float.BYTES)) {
      var e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm(gemm, 1,
          new ClMatrix(buffer, 1), ClMatrix.of(buffer), 0, ClMatrix.of(buffer)));
      assertEquals("A of 7x13 · 13x5 → 7x5 needs 91 floats from offset 1, the buffer holds 90", e.getMessage());
    }
  }

  @Test
  void refusesBuffersOfAnotherContext() {
    var gemm = Gemm.of(2, 2, 2);
    try (var other = ClContext.create(context.device());
        var foreign = other.createBuffer(16);
        var own = context.createBuffer(16)) {
      var e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm(gemm, 1,
          ClMatrix.of(own), ClMatrix.of(foreign), 0, ClMatrix.of(own)));
      assertEquals("B of 2x2 · 2x2 → 2x2 is a buffer of another context than the queue's", e.getMessage());
    }
  }
}
