package dev.optc.runtime;

import static dev.optc.runtime.Fixtures.build;
import static dev.optc.runtime.Fixtures.compile;
import static dev.optc.runtime.Fixtures.noOverrides;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.codegen.java.JavaEmitter.Precision;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Fixtures.TensorSpec;
import dev.optc.runtime.java.JavaBackend;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * bf16 and f16 states (docs/language.md): the value stored is the float32 result rounded to nearest even
 * in the state's type; later statements of the same step use the unrounded float32 value.
 */
class StateDtypeTest {

  /** {@code 0.5*m} and {@code 0.5*(…)} are exact, so every rounding below is one the test can redo. */
  static final String LOWP = """
      optimizer lowp
      hyper lr = 0.5
      hyper beta = 0.5
      state m as bf16
      state h as f16
      state f
      m = beta*m + g
      h = beta*h + g
      f = beta*f + g
      w -= lr * (m + h)
      """;

  final long seed = System.nanoTime();
  final Random rnd = new Random(seed);

  @BeforeEach
  void printSeed(TestInfo info) {
    System.out.println(getClass().getSimpleName() + " " + info.getDisplayName() + ": seed " + seed);
  }

  /** bf16 round to nearest even, written independently of the code under test. */
  static float bf16(float x) {
    int bits = Float.floatToRawIntBits(x);
    int lsb = (bits >>> 16) & 1;
    return Float.intBitsToFloat((bits + 0x7FFF + lsb) & 0xFFFF0000);
  }

  static float f16(float x) {
    return Float.float16ToFloat(Float.floatToFloat16(x));
  }

  /** Gradients over many magnitudes: f16 subnormals and bf16/f16 rounding, but no f16 overflow. */
  float[] grads(int n) {
    var g = new float[n];
    for (int i = 0; i < n; i++) {
      g[i] = (float) (rnd.nextGaussian() * Math.pow(10, -9 + rnd.nextDouble() * 12.5));
    }
    return g;
  }

  @ParameterizedTest
  @EnumSource(Fusion.class)
  void storedValuesAreRoundedAndTheStepUsesTheUnroundedOnes(Fusion fusion) throws Exception {
    var p = compile("lowp", LOWP);
    var specs = List.of(new TensorSpec("a", new long[] {37, 29}, 0), new TensorSpec("b", new long[] {70001}, 0));
    var w0 = Fixtures.randomWeights(rnd, specs);
    try (var opt = build(p, new JavaBackend(Precision.F32, 4), fusion, specs, noOverrides(1), w0)) {
      // The test's own float32 model of the program.
      Map<String, float[]> w = new HashMap<>();
      Map<String, float[]> m = new HashMap<>();
      Map<String, float[]> h = new HashMap<>();
      Map<String, float[]> f = new HashMap<>();
      for (var s : specs) {
        w.put(s.name(), w0.get(s.name()).clone());
        m.put(s.name(), new float[s.numel()]);
        h.put(s.name(), new float[s.numel()]);
        f.put(s.name(), new float[s.numel()]);
      }
      for (int step = 1; step <= 6; step++) {
        for (var s : specs) {
          var g = grads(s.numel());
          opt.setGrad(s.name(), g);
          var wm = w.get(s.name());
          var mm = m.get(s.name());
          var hm = h.get(s.name());
          var fm = f.get(s.name());
          for (int i = 0; i < g.length; i++) {
            float m32 = 0.5f * mm[i] + g[i];
            float h32 = 0.5f * hm[i] + g[i];
            fm[i] = 0.5f * fm[i] + g[i];
            wm[i] = wm[i] - 0.5f * (m32 + h32);
            mm[i] = bf16(m32);
            hm[i] = f16(h32);
          }
        }
        opt.step();
        for (var s : specs) {
          var what = fusion + ", step " + step + ", tensor " + s.name() + " (seed " + seed + ")";
          var ms = opt.state("m", s.name());
          var hs = opt.state("h", s.name());
          for (int i = 0; i < ms.length; i++) {
            if ((Float.floatToRawIntBits(ms[i]) & 0xFFFF) != 0) {
              fail(what + ": bf16 state m[" + i + "] = " + ms[i] + " is not a bf16 value");
            }
            if (f16(hs[i]) != hs[i]) {
              fail(what + ": f16 state h[" + i + "] = " + hs[i] + " is not an f16 value");
            }
          }
          Fixtures.assertSameBits(m.get(s.name()), ms, what + ": m (bf16, rounded to nearest even)");
          Fixtures.assertSameBits(h.get(s.name()), hs, what + ": h (f16, rounded to nearest even)");
          Fixtures.assertSameBits(f.get(s.name()), opt.state("f", s.name()), what + ": f (f32)");
          Fixtures.assertSameBits(w.get(s.name()), opt.weights(s.name()),
              what + ": w, computed from the unrounded m and h");
        }
      }
    }
  }

  @Test
  void f16OverflowAndUnderflowFollowIeee() throws Exception {
    var p = compile("lowp", LOWP);
    float[] g = {1e5f, -7e4f, 65504f, 65520f, 1e-8f, -3e-8f, 6e-5f, 1e38f, Float.MIN_NORMAL, -0f};
    var specs = List.of(new TensorSpec("x", new long[] {g.length}, 0));
    try (var opt = build(p, specs, noOverrides(1), Map.of("x", new float[g.length]))) {
      opt.setGrad("x", g);
      opt.step();
      var h = opt.state("h", "x");
      var m = opt.state("m", "x");
      for (int i = 0; i < g.length; i++) {
        float x = 0.5f * 0f + g[i]; // what the step computes: -0 becomes +0
        assertEquals(Float.floatToIntBits(f16(x)), Float.floatToIntBits(h[i]), "h of " + g[i]);
        assertEquals(Float.floatToIntBits(bf16(x)), Float.floatToIntBits(m[i]), "m of " + g[i]);
      }
      assertTrue(Float.isInfinite(h[0]) && Float.isInfinite(h[3]), "65520 and 1e5 overflow f16");
      assertEquals(65504f, h[2]);
    }
  }

  @Test
  void theFloat64ModeDoesNotRound() throws Exception {
    var p = compile("lowp", LOWP);
    var specs = List.of(new TensorSpec("x", new long[] {257}, 0));
    var g = grads(257);
    try (var opt = build(p, new JavaBackend(Precision.F64, 1), specs, noOverrides(1),
        Map.of("x", new float[257]))) {
      opt.setGrad("x", g);
      opt.step();
      var m = opt.state("m", "x");
      int unrounded = 0;
      for (int i = 0; i < m.length; i++) {
        assertEquals(g[i], m[i], "m of the first step is g (seed " + seed + ")");
        unrounded += bf16(m[i]) != m[i] ? 1 : 0;
      }
      assertTrue(unrounded > 0, "float64 mode keeps the unrounded values (seed " + seed + ")");
    }
  }
}
