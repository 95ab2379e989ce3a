package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.io.Npy;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Quantized states ({@code as q8}, {@code as q4}) against the independent float64 NumPy reference of
 * tools/golden/make_quant_golden.py: 8-bit and 4-bit AdamW (the library's {@code adamw8bit}, {@code adamw4bit})
 * over 8 steps on three tensors (4,097 elements: a last block of one; 64×64: exactly the threshold; 3×11: below
 * it, float32 states), every backend that runs quantized states (java, java-interpreted, OpenCL), at every
 * fusion level.
 */
class QuantizedStatesTest {
  static final Path DIR = Path.of("src/test/resources/quant/adamw");

  @TempDir
  Path tmp;

  record Named(String name, Supplier<Backend> backend, Fusion fusion) {
    @Override
    public String toString() {
      return name + " at fusion " + fusion.name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  static Stream<Arguments> backends() {
    return Stream.of(Fusion.values()).flatMap(f -> Stream.of(
        new Named("java", () -> new JavaBackend(JavaEmitter.Precision.F32, 2), f),
        new Named("java-interpreted", () -> JavaBackend.interpreted(1), f),
        new Named("opencl", () -> {
          assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
          return OpenClBackend.select("");
        }, f))).map(Arguments::of);
  }

  static Properties props() throws IOException {
    var props = new Properties();
    try (Reader r = Files.newBufferedReader(DIR.resolve("case.properties"))) {
      props.load(r);
    }
    return props;
  }

  static float[] read(String file) throws IOException {
    return Npy.readFloat32(DIR.resolve(file)).data();
  }

  static long[] shape(Properties props, int t) {
    return Arrays.stream(props.getProperty("shape." + t).split(",")).mapToLong(Long::parseLong).toArray();
  }

  static Optimizer bind(String program, Backend backend, Fusion fusion, Properties props) throws Exception {
    var b = Optimizer.builder(OptProgram.load(program)).backend(backend).fusion(fusion);
    var tensors = new ArrayList<Optimizer.Tensor>();
    for (int t = 0; t < 3; t++) {
      tensors.add(new Optimizer.Tensor("t" + t, shape(props, t), read("params_" + t + ".npy")));
    }
    return b.group(Map.of(), tensors).build();
  }

  /**
   * Parameters after steps 1, 2 and 8 within 2e-6 of the float64 reference (which moves them by ~7e-3; the same
   * run with float32 states ends 4e-4 away for q8, 5e-3 for q4), the final codes equal but for near ties, the
   * absmax values within float32 rounding, and the float32 states of the small tensor within float32 error.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  void eightAndFourBitAdamWFollowTheFloat64Reference(Named named) throws Exception {
    var props = props();
    int steps = Integer.parseInt(props.getProperty("steps"));
    var saved = Arrays.stream(props.getProperty("saved_steps").split(",")).mapToInt(Integer::parseInt).toArray();
    for (var mode : List.of("q8", "q4")) {
      try (var opt = bind("adamw" + (mode.equals("q8") ? "8bit" : "4bit"), named.backend().get(), named.fusion(),
          props)) {
        var grads = new float[3][];
        for (int t = 0; t < 3; t++) {
          grads[t] = read("grads_" + t + ".npy");
        }
        double worstParam = 0;
        long codes = 0;
        long differentCodes = 0;
        int k = 0;
        for (int step = 1; step <= steps; step++) {
          for (int t = 0; t < 3; t++) {
            int n = opt.layout().segments().get(t).numel();
            opt.setGrad("t" + t, Arrays.copyOfRange(grads[t], (step - 1) * n, step * n));
          }
          opt.step();
          if (step != saved[k]) {
            continue;
          }
          for (int t = 0; t < 3; t++) {
            int n = opt.layout().segments().get(t).numel();
            var want = Arrays.copyOfRange(read(mode + "_params_" + t + ".npy"), k * n, (k + 1) * n);
            var got = opt.weights("t" + t);
            for (int i = 0; i < n; i++) {
              worstParam = Math.max(worstParam, Math.abs((double) got[i] - want[i]));
            }
          }
          k++;
        }
        assertTrue(worstParam < 2e-6, mode + ": parameters " + worstParam + " from the float64 reference");
        for (int t = 0; t < 3; t++) {
          for (var state : List.of("exp_avg", "exp_avg_sq")) {
            var scheme = props.getProperty(mode + "." + state + "." + t);
            var stored = opt.quantizedState(state, t);
            if (scheme == null) {
              assertNull(stored, "tensor " + t + " is below the threshold: float32 " + state);
              var want = read(mode + "_" + state + "_" + t + ".npy");
              var got = opt.state(state, "t" + t);
              float scale = 0;
              for (float v : want) {
                scale = Math.max(scale, Math.abs(v));
              }
              for (int i = 0; i < want.length; i++) {
                // float32 arithmetic over 8 steps against float64
                assertEquals(want[i], got[i], 2e-5 * Math.abs(want[i]) + 1e-6 * scale, state + " " + i);
              }
              continue;
            }
            var map = opt.quantization().map(state);
            assertEquals(scheme, map.toString(), state);
            var wantCodes = read(mode + "_" + state + "_codes_" + t + ".npy");
            assertEquals(wantCodes.length, stored.codes().length);
            for (int i = 0; i < wantCodes.length; i++) {
              codes++;
              differentCodes += ((int) wantCodes[i]) != (stored.codes()[i] & 0xff) ? 1 : 0;
            }
            var wantAbsmax = read(mode + "_" + state + "_absmax_" + t + ".npy");
            for (int b = 0; b < wantAbsmax.length; b++) {
              assertEquals(wantAbsmax[b], stored.absmax()[b], 2e-6 * wantAbsmax[b], state + " absmax " + b);
            }
          }
        }
        System.out.printf("%s %s: parameters within %.3g of the float64 reference, %d of %d code bytes differ%n",
            named, mode, worstParam, differentCodes, codes);
        assertTrue(differentCodes * 1000 <= codes, mode + ": " + differentCodes + " of " + codes + " code bytes differ");
      }
    }
  }

  /** The sign analysis picks the unsigned map for AdamW's second moments only, and says what it assumes. */
  @Test
  void theSecondMomentsGetTheUnsignedMaps() throws CompileException {
    var q8 = Quantization.of(OptProgram.load("adamw8bit").ir());
    assertEquals(Map.of("exp_avg", QuantMap.Q8_SIGNED, "exp_avg_sq", QuantMap.Q8_UNSIGNED, "max_exp_avg_sq",
        QuantMap.Q8_UNSIGNED), q8.maps());
    assertTrue(q8.assumptions().stream().anyMatch(a -> a.state().equals("exp_avg_sq")), q8.assumptions().toString());
    var q4 = Quantization.of(OptProgram.load("adamw4bit").ir());
    assertEquals(QuantMap.Q4_SIGNED, q4.map("exp_avg"));
    assertEquals(QuantMap.Q4_UNSIGNED, q4.map("exp_avg_sq"));
    assertEquals(Map.of("m", QuantMap.Q8_SIGNED), Quantization.of(OptProgram.load("lion8bit").ir()).maps());
  }

  /** A checkpoint keeps codes and absmax as they are: the restored optimizer continues bit for bit. */
  @Test
  void aRestoredOptimizerContinuesBitForBit() throws Exception {
    var props = props();
    var file = tmp.resolve("q.state");
    var grads = read("grads_0.npy");
    int n = 4097;
    try (var a = bind("adamw8bit", new JavaBackend(JavaEmitter.Precision.F32, 1), Fusion.FULL, props);
        var b = bind("adamw8bit", new JavaBackend(JavaEmitter.Precision.F32, 1), Fusion.FULL, props)) {
      for (int step = 0; step < 3; step++) {
        a.setGrad("t0", Arrays.copyOfRange(grads, step * n, (step + 1) * n));
        a.step();
      }
      a.save(file);
      b.restore(file);
      for (int t = 0; t < 3; t++) {
        b.setWeights("t" + t, a.weights("t" + t));
      }
      for (int step = 3; step < 8; step++) {
        var g = Arrays.copyOfRange(grads, step * n, (step + 1) * n);
        a.setGrad("t0", g);
        b.setGrad("t0", g);
        a.step();
        b.step();
      }
      assertArrayEquals(a.weights("t0"), b.weights("t0"));
      var qa = a.quantizedState("exp_avg", 0);
      var qb = b.quantizedState("exp_avg", 0);
      assertArrayEquals(qa.codes(), qb.codes());
      assertArrayEquals(qa.absmax(), qb.absmax());
    }
  }

  /** AdamW's default state: 8 bytes per parameter; q8 about 2.03, q4 about 1.06 (tensors past the threshold). */
  @Test
  void stateBytesPerParameter() throws Exception {
    int n = 1 << 20;
    for (var c : List.of(new Object[] {"adamw", 8.0}, new Object[] {"adamw8bit", 2 + 8.0 / 256},
        new Object[] {"adamw4bit", 1 + 8.0 / 128})) {
      try (var opt = Optimizer.builder(OptProgram.load((String) c[0])).backend(new JavaBackend(
          JavaEmitter.Precision.F32, 1)).params(Map.of(), List.of(new Optimizer.Param("x", n))).build()) {
        assertEquals((double) c[1], (double) opt.stateBytes() / n, 1e-12, (String) c[0]);
      }
    }
  }

  /**
   * The threshold and the per-tensor override decide which tensors keep float32 states: below {@code quantizeFrom}
   * elements or named {@code unquantized}. Such a tensor steps exactly as plain AdamW does.
   */
  @Test
  void smallAndUnquantizedTensorsKeepFloat32States() throws Exception {
    var params = List.of(new Optimizer.Param("a", 5000), new Optimizer.Param("b", 3000),
        new Optimizer.Param("c", 7000));
    var g = new float[7000];
    var r = new java.util.Random(3);
    for (int i = 0; i < g.length; i++) {
      g[i] = (float) r.nextGaussian();
    }
    var backend = new JavaBackend(JavaEmitter.Precision.F32, 1);
    try (var q = Optimizer.builder(OptProgram.load("adamw8bit")).backend(backend).quantizeFrom(2000)
        .unquantized(List.of("c")).params(Map.of(), params).build();
        var f = Optimizer.builder(OptProgram.load("adamw")).backend(backend).params(Map.of(), params).build()) {
      for (var o : List.of(q, f)) {
        for (var p : params) {
          o.setGrad(p.name(), Arrays.copyOf(g, (int) p.shape()[0]));
        }
        o.step();
        o.step();
      }
      assertTrue(q.quantizedState("exp_avg", 0) != null && q.quantizedState("exp_avg", 1) != null,
          "a and b reach the threshold of 2,000");
      assertNull(q.quantizedState("exp_avg", 2), "c is named unquantized");
      assertArrayEquals(f.weights("c"), q.weights("c"));
      assertArrayEquals(f.state("exp_avg_sq", "c"), q.state("exp_avg_sq", "c"));
      assertTrue(!Arrays.equals(f.weights("a"), q.weights("a")), "a's quantized states change its steps");
      var e = assertThrows(OptcException.class, () -> Optimizer.builder(OptProgram.load("adamw8bit"))
          .backend(backend).unquantized(List.of("nosuch")).params(Map.of(), params).build());
      assertTrue(e.getMessage().contains("nosuch"), e.getMessage());
    }
  }

  /** An unsigned map cannot hold a negative value: a hyper that would make one is refused before the step. */
  @Test
  void aHyperThatBreaksTheSignProofIsRefused() throws Exception {
    try (var opt = Optimizer.builder(OptProgram.load("adamw8bit")).backend(new JavaBackend(
        JavaEmitter.Precision.F32, 1)).params(Map.of(), List.of(new Optimizer.Param("x", 5000))).build()) {
      opt.step();
      opt.setHyper("beta2", 1.5);
      var e = assertThrows(OptcException.class, opt::step);
      assertTrue(e.getMessage().contains("exp_avg_sq") && e.getMessage().contains("unsigned"), e.getMessage());
      assertEquals(1, opt.t(), "the refused step did not count");
    }
  }
}
