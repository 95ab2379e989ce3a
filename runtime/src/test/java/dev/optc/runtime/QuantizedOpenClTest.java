package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Quantized states ({@code as q8}, {@code as q4}) on OpenCL against the Java backend, bit for bit: the weights,
 * the codes and block absmax values, the states read back, for the library's 8-bit and 4-bit optimizers at every
 * fusion level. The tensors' sizes are multiples of nothing the kernels work in (4,097: a last block of one
 * element; 64×65; 9,000; 3×11 below the threshold and 5,003 kept unquantized, float32 states; an empty one), and
 * the devices' shapes vary: PoCL's own (one work-item per group, 16,384-element chunks), the GPU's narrow groups
 * with chunks that are no multiple of a block (rounded up by the engine) and few groups striding over them, and
 * groups wider than a block. Weights and states are read into NaN-poisoned arrays, so an element no kernel wrote shows up.
 */
class QuantizedOpenClTest {
  /** The library's quantized optimizers, and a quantized phase with row values (a nested loop in Java). */
  static final List<String> PROGRAMS = List.of("adamw8bit", "adam8bit", "lion8bit", "adamw4bit",
      resource("rows8bit.opt"));

  static String resource(String name) {
    try {
      return java.nio.file.Path.of(QuantizedOpenClTest.class.getResource("/quant/" + name).toURI()).toString();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
  /** The last is kept float32 though above the threshold ({@link Optimizer.Builder#unquantized}). */
  static final long[][] SHAPES = {{4097}, {64, 65}, {3, 11}, {0}, {9000}, {5003}};
  static final int STEPS = 5;

  static OpenClBackend device;

  @TempDir
  Path tmp;

  @BeforeAll
  static void device() {
    assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    device = OpenClBackend.select("");
  }

  record Shape(String name, OpenClBackend backend, List<Fusion> fusions) {}

  static List<Shape> shapes() {
    var base = device.config();
    var shapes = new ArrayList<Shape>();
    shapes.add(new Shape("the device's own shape", device, List.of(Fusion.values())));
    // 320-element chunks (5 groups of 64): the engine rounds them up to whole blocks; 3 groups stride over them.
    shapes.add(new Shape("64-wide groups, 320-element chunks", device.with(KernelConfig.of(Dialect.OPENCL, 64)
        .withAccumulation(base.accumulation()).withVectorWidth(4), new OpenClBackend.Grid(320, 3)),
        List.of(Fusion.values())));
    if (device.device().maxWorkGroupSize() >= 512) {
      // A span of two q8 blocks, four q4 ones.
      shapes.add(new Shape("512-wide groups", device.with(KernelConfig.of(Dialect.OPENCL, 512)
          .withAccumulation(base.accumulation()), new OpenClBackend.Grid(1024, 2)), List.of(Fusion.FULL)));
    }
    return shapes;
  }

  static Map<String, Double> hypers(String program) {
    // AMSGrad on: max_exp_avg_sq is a flag state too, allocated (codes, absmax, float32) at the first step.
    return program.startsWith("adamw") ? Map.of("amsgrad", 1.0) : Map.of();
  }

  /** One tensor of each of {@link #SHAPES}, named t0, t1, ..., with N(0, 1) weights from {@code seed}. */
  static List<Optimizer.Tensor> tensors(long seed) {
    var r = new Random(seed);
    var tensors = new ArrayList<Optimizer.Tensor>();
    for (int t = 0; t < SHAPES.length; t++) {
      int n = (int) Arrays.stream(SHAPES[t]).reduce(1, (a, b) -> a * b);
      var w = new float[n];
      for (int i = 0; i < n; i++) {
        w[i] = (float) r.nextGaussian();
      }
      tensors.add(new Optimizer.Tensor("t" + t, SHAPES[t], w));
    }
    return tensors;
  }

  static Optimizer bind(String program, Backend backend, Fusion fusion, long seed) throws Exception {
    return Optimizer.builder(OptProgram.load(program)).backend(backend).fusion(fusion)
        .unquantized(List.of("t" + (SHAPES.length - 1))).group(hypers(program), tensors(seed)).build();
  }

  /** The same gradients on every backend: step {@code step}'s for tensor {@code t}, some of them large. */
  static float[] grad(long seed, int step, int t, int n) {
    var r = new Random(seed * 31 + step * 1009L + t);
    var g = new float[n];
    for (int i = 0; i < n; i++) {
      // Blocks of very different scales, so absmax values and codes move around between steps.
      g[i] = (float) (r.nextGaussian() * ((i / 256 + step) % 3 == 0 ? 100 : 1e-3));
    }
    return g;
  }

  static void step(Optimizer opt, long seed, int step) {
    for (int t = 0; t < SHAPES.length; t++) {
      int n = opt.layout().segments().get(t).numel();
      opt.setGrad("t" + t, grad(seed, step, t, n));
    }
    opt.step();
  }

  /** Weights, every state read back and every quantized tensor's codes and absmax: equal bit for bit. */
  static void assertSame(Optimizer want, Optimizer got, String what) {
    for (int t = 0; t < SHAPES.length; t++) {
      var name = "t" + t;
      int n = want.layout().segments().get(t).numel();
      assertArrayEquals(want.weights(name), BackendComparison.poisonedRead(got, "w", name, n), what + ": w of " + name);
      for (var s : want.program().ir().states()) {
        var state = s.name();
        assertEquals(want.stateAllocated(state), got.stateAllocated(state), what + ": " + state + " allocated");
        var wq = want.quantizedState(state, t);
        var gq = got.quantizedState(state, t);
        if (wq == null) {
          assertNull(gq, what + ": " + state + " of " + name + " quantized on one backend only");
        } else {
          assertNotNull(gq, what + ": " + state + " of " + name + " quantized on one backend only");
          assertArrayEquals(wq.codes(), gq.codes(), what + ": codes of " + state + " of " + name);
          assertArrayEquals(wq.absmax(), gq.absmax(), what + ": absmax of " + state + " of " + name);
        }
        var expected = want.state(state, name);
        var values = want.stateAllocated(state) ? BackendComparison.poisonedRead(got, state, name, expected.length)
            : got.state(state, name);
        assertArrayEquals(expected, values, what + ": " + state + " of " + name);
      }
    }
  }

  @TestFactory
  Stream<DynamicTest> bitIdenticalToJava() {
    long seed = System.nanoTime();
    var tests = new ArrayList<DynamicTest>();
    for (var shape : shapes()) {
      for (var program : PROGRAMS) {
        for (var fusion : shape.fusions()) {
          var what = program + " at fusion " + fusion.label() + ", " + shape.name() + " (seed " + seed + ")";
          tests.add(DynamicTest.dynamicTest(what, () -> {
            try (var java = bind(program, new JavaBackend(JavaEmitter.Precision.F32, 2), fusion, seed);
                var cl = bind(program, shape.backend(), fusion, seed)) {
              assertEquals(java.stateBytes(), cl.stateBytes(), what + ": state bytes");
              for (int step = 1; step <= STEPS; step++) {
                step(java, seed, step);
                step(cl, seed, step);
                assertSame(java, cl, what + ", step " + step);
              }
              assertEquals(java.stateBytes(), cl.stateBytes(), what + ": state bytes");
              var maps = java.quantization().maps();
              for (var state : maps.keySet()) {
                assertEquals(java.engine().quantized(state), cl.engine().quantized(state), what + ": map of " + state);
              }
            }
          }));
        }
      }
    }
    return tests.stream();
  }

  /** Values written from the host are quantized as the Java engine quantizes them, and read back alike. */
  @Test
  void hostWritesQuantizeAsJavaDoes() throws Exception {
    long seed = 11;
    try (var java = bind("adamw4bit", new JavaBackend(JavaEmitter.Precision.F32, 1), Fusion.FULL, seed);
        var cl = bind("adamw4bit", device, Fusion.FULL, seed)) {
      for (int t = 0; t < SHAPES.length; t++) {
        int n = java.layout().segments().get(t).numel();
        var v = grad(seed, 7, t, n);
        // An all-zero block, and one of absmax 1 whose odd elements lie exactly halfway between entries 7 (0)
        // and 8 of the signed 4-bit map (the tie goes to 7), as well as random values.
        float tie = QuantMap.Q4_SIGNED.value(8) / 2;
        for (int i = 0; i < Math.min(n, 256); i++) {
          v[i] = i < 128 ? 0f : i % 2 == 0 ? 1f : tie;
        }
        java.setState("exp_avg", t, v);
        cl.setState("exp_avg", t, v);
      }
      assertSame(java, cl, "after setState");
      var e = org.junit.jupiter.api.Assertions.assertThrows(OptcException.class, () -> cl.engine().arena("exp_avg"));
      assertEquals("state 'exp_avg' is stored as q4_signed codes, not float32: read it with Optimizer.state",
          e.getMessage());
      step(java, seed, 1);
      step(cl, seed, 1);
      assertSame(java, cl, "after a step");
    }
  }

  /**
   * The kernels' codes: a state stored straight from the gradient, whose blocks hold every quotient that lies
   * exactly halfway between two entries (absmax 1, and 1.5 where the product is exact; a tie takes the lower index),
   * an all-zero block, and blocks with an infinity and a NaN (which spread to the absmax and read back as the entry
   * nearest 0's product), at both widths, on every device shape.
   */
  @TestFactory
  Stream<DynamicTest> kernelsBreakTiesAsJavaDoes() {
    var tests = new ArrayList<DynamicTest>();
    for (var dtype : List.of("q8", "q4")) {
      for (var shape : shapes()) {
        tests.add(DynamicTest.dynamicTest(dtype + ", " + shape.name(), () -> {
          var program = Fixtures.compile("ties_" + dtype, "optimizer ties_" + dtype + "\nhyper lr = 1e-3\n"
              + "state m as " + dtype + "\nm = g\nw -= lr * m\n");
          var map = dev.optc.compiler.ir.Quantization.of(program.ir()).map("m");
          var ties = new ArrayList<Float>();
          for (double mid : map.midpoints()) {
            if ((double) (float) mid == mid) {
              ties.add((float) mid);
            }
          }
          assertTrue(ties.size() >= 2, map + ": " + ties.size() + " exactly representable midpoints");
          // The ties again at absmax 1.5, whose inverse is inexact: a quotient x * (1f / 1.5f) may round past
          // its midpoint into the next bucket (the bucket method's comparisons settle it).
          var scaledTies = ties.stream().filter(t -> (double) (t * 1.5f) == t * 1.5).toList();
          assertTrue(scaledTies.size() >= 2, map + ": " + scaledTies.size() + " exact ties at absmax 1.5");
          int n = 5 * 256 + 77;
          var g = new float[n];
          for (int i = 0; i < 256; i++) {
            g[i] = i % map.block() == 0 ? 1f : ties.get(i % ties.size());
          }
          g[2 * 256 + 3] = Float.POSITIVE_INFINITY;
          g[3 * 256 + 5] = Float.NaN;
          for (int i = 3 * 256; i < n; i++) {
            g[i] = i == 3 * 256 + 5 ? Float.NaN : (i % 7) * 0.25f - 0.5f;
          }
          for (int i = 4 * 256; i < 5 * 256; i++) {
            g[i] = i % map.block() == 0 ? 1.5f : scaledTies.get(i % scaledTies.size()) * 1.5f;
          }
          var tensors = List.of(new Optimizer.Tensor("x", new long[] {n}, new float[n]));
          // Quantized however small (the threshold lowered to 1 element).
          try (var java = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 1))
                  .quantizeFrom(1).group(Map.of(), tensors).build();
              var cl = Optimizer.builder(program).backend(shape.backend()).quantizeFrom(1).group(Map.of(), tensors)
                  .build()) {
            java.setGrad("x", g);
            cl.setGrad("x", g);
            java.step();
            cl.step();
            var want = java.quantizedState("m", 0);
            var got = cl.quantizedState("m", 0);
            assertArrayEquals(want.absmax(), got.absmax(), "absmax");
            assertArrayEquals(want.codes(), got.codes(), "codes");
            assertArrayEquals(java.weights("x"), cl.weights("x"), "weights");
            for (int i : IntStream.range(1, map.block()).flatMap(i -> IntStream.of(i, 4 * 256 + i)).toArray()) {
              // Independently of Java: the tie went to the lower of the two entries.
              int code = map.bits() == 8 ? got.codes()[i] & 0xff : (got.codes()[i / 2] >> (4 * (i % 2))) & 15;
              double q = i < 256 ? g[i] : g[i] / 1.5;
              int lower = Arrays.binarySearch(map.midpoints(), q);
              assertEquals(lower, code, "element " + i + " (" + g[i] + ")");
            }
          }
        }));
      }
    }
    return tests.stream();
  }

  /**
   * A quantized state read by reductions (a row-sum kernel, a per-tensor sum, a max-abs) and stored in the
   * phase of a sum: its codes stay Java's bit for bit, since no reduction feeds them; the weights, which the
   * reductions feed, within the device tests' tolerance for reductions (their order of additions differs).
   */
  @TestFactory
  Stream<DynamicTest> reductionsOverQuantizedStates() throws Exception {
    var program = Fixtures.compile("qred", """
        optimizer qred
        hyper lr = 1e-3
        state m as q8
        state v as q4
        m = 0.9 * m + 0.1 * g
        v = 0.5 * v + 0.5 * g * rms(g)
        w -= lr * m / (rms(m) + 1e-8) + lr * 1e-2 * rowmean(v) + lr * 1e-3 * maxabs(m)
        """);
    long seed = System.nanoTime();
    var tests = new ArrayList<DynamicTest>();
    for (var shape : shapes()) {
      for (var fusion : shape.fusions()) {
        tests.add(DynamicTest.dynamicTest(fusion.label() + ", " + shape.name() + " (seed " + seed + ")", () -> {
          var tensors = tensors(seed);
          try (var java = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 1))
                  .fusion(fusion).group(Map.of(), tensors).build();
              var cl = Optimizer.builder(program).backend(shape.backend()).fusion(fusion).group(Map.of(), tensors)
                  .build()) {
            var want = new float[SHAPES.length][];
            var got = new float[SHAPES.length][];
            for (int step = 1; step <= STEPS; step++) {
              step(java, seed, step);
              step(cl, seed, step);
              for (int t = 0; t < SHAPES.length; t++) {
                var wq = java.quantizedState("m", t);
                var gq = cl.quantizedState("m", t);
                if (wq != null) {
                  assertArrayEquals(wq.codes(), gq.codes(), "codes of m, tensor " + t + ", step " + step);
                  assertArrayEquals(wq.absmax(), gq.absmax(), "absmax of m, tensor " + t + ", step " + step);
                }
                want[t] = java.weights("t" + t);
                got[t] = BackendComparison.poisonedRead(cl, "w", "t" + t, want[t].length);
              }
            }
            BackendComparison.assertClose(want, got, null, true, "weights");
          }
        }));
      }
    }
    return tests.stream();
  }

  /** A checkpoint of codes and absmax values restores on OpenCL, and the run continues bit for bit. */
  @Test
  void aRestoredOptimizerContinuesBitForBit() throws Exception {
    long seed = 5;
    var file = tmp.resolve("q8.state");
    var fromJava = tmp.resolve("q8-java.state");
    try (var a = bind("adamw8bit", device, Fusion.FULL, seed);
        var b = bind("adamw8bit", device, Fusion.FULL, seed + 1);
        var java = bind("adamw8bit", new JavaBackend(JavaEmitter.Precision.F32, 1), Fusion.FULL, seed);
        var c = bind("adamw8bit", device, Fusion.FULL, seed + 2)) {
      for (int step = 1; step <= 3; step++) {
        step(a, seed, step);
        step(java, seed, step);
      }
      a.save(file);
      java.save(fromJava);
      b.restore(file);
      c.restore(fromJava);
      for (int t = 0; t < SHAPES.length; t++) {
        b.setWeights("t" + t, a.weights("t" + t));
        c.setWeights("t" + t, java.weights("t" + t));
      }
      assertSame(a, b, "restored");
      assertSame(java, c, "restored from the Java backend's checkpoint");
      for (int step = 4; step <= 7; step++) {
        for (var opt : List.of(a, b, java, c)) {
          step(opt, seed, step);
        }
        assertSame(a, b, "step " + step + " after the restore");
        assertSame(java, c, "step " + step + " after restoring the Java backend's checkpoint");
      }
    }
  }
}
