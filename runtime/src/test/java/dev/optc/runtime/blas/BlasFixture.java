package dev.optc.runtime.blas;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.provider.Arguments;

/**
 * What every BLAS test shares: the products tried, a float64 reference, and the tolerance rule.
 *
 * <p>The rule: element (i, j) may differ from the float64 result by at most
 * {@code (k + 2)·ε·(|α|·Σₚ|a_ip||b_pj| + |β|·|c_ij|)}, ε = 2⁻²³ (float32's machine epsilon). A float32 dot
 * product of length k, summed in any order or blocking, with or without FMA, is within
 * {@code γ_k·Σ|a||b|} of the exact one, γ_k = k·u/(1 − k·u) and u = ε/2 (Higham, Accuracy and Stability
 * of Numerical Algorithms, §3.1); the scaling by α and the addition of β·c add two roundings. So the bound
 * is about twice the worst case a correct BLAS reaches, and a wrong index (a transposed operand, a
 * wrong stride) misses it by orders of magnitude.
 */
final class BlasFixture {

  static final double EPS = 0x1p-23;

  /**
   * Row counts, column counts and depths that are multiples of nothing a kernel tiles by, one of each
   * side bigger than a 64-wide tile, 1×1·1×1, and one product big enough that the libraries leave their
   * small-matrix paths for the blocked one with packed copies, whose handling of β = 0 is separate code
   * (CLBlast's default switch is at m·n·k = 512³, OpenBLAS's far lower); each with every transpose
   * combination.
   */
  static List<Gemm> shapes() {
    int[][] mnk = {{1, 1, 1}, {7, 5, 13}, {65, 47, 33}, {33, 65, 129}, {130, 3, 257}, {1, 67, 9}, {520, 390, 670}};
    var shapes = new ArrayList<Gemm>();
    for (var s : mnk) {
      for (var transA : new boolean[] {false, true}) {
        for (var transB : new boolean[] {false, true}) {
          shapes.add(new Gemm(s[0], s[1], s[2], transA, transB));
        }
      }
    }
    return List.copyOf(shapes);
  }

  /**
   * Each shape with (α, β) = (1, 0) over a C poisoned with NaN (β = 0 must overwrite, not read), (0.5,
   * −1.5) and (−2, 1) over a random C (β·C must be read and added).
   */
  static Stream<Arguments> cases() {
    return shapes().stream().flatMap(g -> Stream.of(
        Arguments.of(g, 1f, 0f), Arguments.of(g, 0.5f, -1.5f), Arguments.of(g, -2f, 1f)));
  }

  /** Fresh random floats in [-1, 1). */
  /** A case's operands, drawn from a seed of its product and beta: A, B and the C it starts from. */
  record Operands(long seed, float[] a, float[] b, float[] c) {
    static Operands of(Gemm gemm, float beta) {
      long seed = gemm.hashCode() * 31L + Float.floatToIntBits(beta);
      return new Operands(seed, random(seed, gemm.aElements()), random(seed + 1, gemm.bElements()),
          initialC(gemm, beta, seed + 2));
    }
  }

  static float[] random(long seed, long n) {
    var random = new SplittableRandom(seed);
    var out = new float[Math.toIntExact(n)];
    for (int i = 0; i < out.length; i++) {
      out[i] = (float) (random.nextDouble() * 2 - 1);
    }
    return out;
  }

  /** C's starting values: NaN where β = 0 (the result must not depend on them), else random. */
  static float[] initialC(Gemm gemm, float beta, long seed) {
    if (beta == 0) {
      var c = new float[Math.toIntExact(gemm.cElements())];
      Arrays.fill(c, Float.NaN);
      return c;
    }
    return random(seed, gemm.cElements());
  }

  /**
   * Checks {@code actual} against the float64 product within the rule above; with β = 0, C's starting
   * values (NaN) are not part of the expected result.
   */
  static void assertProduct(Gemm gemm, float alpha, float[] a, float[] b, float beta, float[] c0, float[] actual,
      String context) {
    for (int i = 0; i < gemm.m(); i++) {
      for (int j = 0; j < gemm.n(); j++) {
        double sum = 0;
        double magnitude = 0;
        for (int p = 0; p < gemm.k(); p++) {
          double x = gemm.transA() ? a[p * gemm.m() + i] : a[i * gemm.k() + p];
          double y = gemm.transB() ? b[j * gemm.k() + p] : b[p * gemm.n() + j];
          sum += x * y;
          magnitude += Math.abs(x * y);
        }
        int at = i * gemm.n() + j;
        double expected = alpha * sum + (beta == 0 ? 0 : beta * (double) c0[at]);
        double bound = (gemm.k() + 2) * EPS
            * (Math.abs(alpha) * magnitude + (beta == 0 ? 0 : Math.abs(beta * (double) c0[at])));
        double error = Math.abs(actual[at] - expected);
        if (!(error <= bound)) {
          fail(context + " " + gemm + " α=" + alpha + " β=" + beta + ": C[" + i + "][" + j + "] is " + actual[at]
              + ", expected " + expected + " ± " + bound);
        }
      }
    }
  }

  private BlasFixture() {}
}
