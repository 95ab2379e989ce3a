package dev.optc.runtime.blas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class BlasGemmTest {

  @Test
  void leadingDimensionsAreTheStoredColumnCounts() {
    var plain = Gemm.of(7, 5, 13);
    assertEquals(13, plain.lda());
    assertEquals(5, plain.ldb());
    assertEquals(5, plain.ldc());
    var both = new Gemm(7, 5, 13, true, true);
    assertEquals(7, both.lda());
    assertEquals(13, both.ldb());
    assertEquals(5, both.ldc());
    assertEquals(91, both.aElements());
    assertEquals(65, both.bElements());
    assertEquals(35, both.cElements());
    assertEquals(2.0 * 7 * 5 * 13, both.flops());
  }

  @Test
  void namesEachOperandAsStored() {
    assertEquals("768x3072 · (768x3072)ᵀ → 768x768", new Gemm(768, 768, 3072, false, true).toString());
    assertEquals("(13x7)ᵀ · 13x5 → 7x5", new Gemm(7, 5, 13, true, false).toString());
  }

  @Test
  void rejectsEmptyProducts() {
    var e = assertThrows(IllegalArgumentException.class, () -> Gemm.of(0, 5, 13));
    assertEquals("a product needs m, n, k >= 1, not 0, 5, 13", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Gemm.of(3, 5, -1));
  }
}
