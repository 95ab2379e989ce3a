package dev.optc.runtime.blas;

import static dev.optc.runtime.blas.BlasFixture.assertProduct;
import static dev.optc.runtime.blas.BlasFixture.random;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** OpenBLAS on native segments against the float64 reference; skips, naming the package, without it. */
class BlasOpenBlasTest {

  private OpenBlas blas;

  /** Per test, not in a {@code @BeforeAll}, whose skip Surefire reports as no tests at all, without the reason. */
  @BeforeEach
  void load() {
    Assumptions.assumeTrue(OpenBlas.isAvailable(), OpenBlas.unavailableReason());
    blas = OpenBlas.get();
  }

  @ParameterizedTest(name = "{0} α={1} β={2}")
  @MethodSource("dev.optc.runtime.blas.BlasFixture#cases")
  void matchesTheFloat64Product(Gemm gemm, float alpha, float beta) {
    var operands = BlasFixture.Operands.of(gemm, beta);
    long seed = operands.seed();
    var a = operands.a();
    var b = operands.b();
    var c0 = operands.c();
    try (var arena = Arena.ofConfined()) {
      var c = arena.allocateFrom(JAVA_FLOAT, c0);
      blas.sgemm(gemm, alpha, arena.allocateFrom(JAVA_FLOAT, a), arena.allocateFrom(JAVA_FLOAT, b), beta, c);
      assertProduct(gemm, alpha, a, b, beta, c0, c.toArray(JAVA_FLOAT), blas.describe() + " seed " + seed);
    }
  }

  /** {@code gram} (syrk, one triangle copied onto the other) is the product of A with its transpose, exactly symmetric. */
  @ParameterizedTest(name = "{0}x{1} transposed={2}")
  @org.junit.jupiter.params.provider.CsvSource({"1,1,false", "7,13,false", "13,7,true", "1,9,true", "300,17,false",
      "17,300,true"})
  void gramIsTheProductWithItsTransposeAndSymmetric(int n, int k, boolean transposed) {
    var a = random(n * 31L + k, (long) n * k);
    var gemm = new Gemm(n, n, k, transposed, !transposed);
    try (var arena = Arena.ofConfined()) {
      var c = arena.allocate(JAVA_FLOAT, (long) n * n).fill((byte) 0xff);
      blas.gram(n, k, transposed, arena.allocateFrom(JAVA_FLOAT, a), c);
      var got = c.toArray(JAVA_FLOAT);
      assertProduct(gemm, 1f, a, a, 0f, new float[n * n], got, blas.describe() + " gram");
      for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++) {
          assertEquals(Float.floatToIntBits(got[j * n + i]), Float.floatToIntBits(got[i * n + j]), i + "," + j);
        }
      }
    }
  }

  @Test
  void betaZeroOverwritesInfinityToo() {
    var gemm = Gemm.of(3, 4, 5);
    try (var arena = Arena.ofConfined()) {
      var c = arena.allocate(JAVA_FLOAT, gemm.cElements());
      c.fill((byte) 0xFF); // every float a NaN with all bits set
      c.setAtIndex(JAVA_FLOAT, 0, Float.POSITIVE_INFINITY);
      var a = random(1, gemm.aElements());
      var b = random(2, gemm.bElements());
      blas.sgemm(gemm, 1f, arena.allocateFrom(JAVA_FLOAT, a), arena.allocateFrom(JAVA_FLOAT, b), 0f, c);
      assertProduct(gemm, 1f, a, b, 0f, null, c.toArray(JAVA_FLOAT), "poisoned with Inf and all-ones NaN");
    }
  }

  @Test
  void refusesWhatWouldReadPastAMatrix() {
    var gemm = new Gemm(7, 5, 13, true, false);
    try (var arena = Arena.ofConfined()) {
      var a = arena.allocate(JAVA_FLOAT, gemm.aElements() - 1);
      var b = arena.allocate(JAVA_FLOAT, gemm.bElements());
      var c = arena.allocate(JAVA_FLOAT, gemm.cElements());
      var e = assertThrows(IllegalArgumentException.class, () -> blas.sgemm(gemm, 1, a, b, 0, c));
      assertEquals("A of (13x7)ᵀ · 13x5 → 7x5 needs 91 floats, the segment holds 90", e.getMessage());
    }
  }

  @Test
  void refusesHeapSegments() {
    var gemm = Gemm.of(2, 2, 2);
    try (var arena = Arena.ofConfined()) {
      var a = arena.allocate(JAVA_FLOAT, 4);
      var e = assertThrows(IllegalArgumentException.class,
          () -> blas.sgemm(gemm, 1, a, MemorySegment.ofArray(new float[4]), 0, a));
      assertEquals("B of 2x2 · 2x2 → 2x2 is a heap segment; OpenBLAS needs native memory", e.getMessage());
    }
  }

  @Test
  void threadsCanBeSetAndAreRestored() {
    int before = blas.threads();
    try {
      blas.setThreads(1);
      assertEquals(1, blas.threads());
      assertTrue(blas.describe().matches("OpenBLAS \\d+\\.\\d+\\.\\d+.* \\(\\w+, 1 thread\\)"), blas.describe());
    } finally {
      blas.setThreads(before);
    }
    assertEquals(before, blas.threads());
    assertThrows(IllegalArgumentException.class, () -> blas.setThreads(0));
  }
}
