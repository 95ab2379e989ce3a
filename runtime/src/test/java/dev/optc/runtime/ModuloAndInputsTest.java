package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Interpreter;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.device.KernelEngine;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * {@code %} (floored modulo on per-tensor values) and {@code input NAME} (a per-element input the caller supplies
 * each step), DSL.md §11, on every backend: the Java reference in float32 and float64, the interpreted engine,
 * OpenCL where there is a device, the CUDA source text, and the IR interpreter.
 */
class ModuloAndInputsTest {

  /**
   * Host uniforms ({@code t % k}, a negative dividend, a fraction) and uniforms computed in kernels (after a
   * reduction, with a negative divisor): every value is an exact float, so every backend must give exactly the
   * table below, which is Python's {@code %}: t % 3, (-t) % 3, t % -3, (-t - 0.5) % 3.
   */
  static final String MODULO = """
      hyper k = 3
      a = t % k
      b = (0 - t) % k
      z = sum(g * 0)
      c = (z + t) % (0 - k)
      e = (z - t - 0.5) % k
      w = a + 10 * b + 100 * c + 1000 * e
      """;

  /** a + 10 b + 100 c + 1000 e at t = 1, 2, 3, ...: (1, 2, -2, 1.5), (2, 1, -1, 0.5), (0, 0, -0, 2.5). */
  static final float[] EXPECTED = {1321, 412, 2500};

  static OptProgram compile(String source) throws Exception {
    return OptProgram.compile(SourceFile.of("m.opt", source), Pipeline.Options.DEFAULT);
  }

  static List<Backend> backends() {
    var list = new ArrayList<Backend>(List.of(new JavaBackend(JavaEmitter.Precision.F32, 2),
        new JavaBackend(JavaEmitter.Precision.F64, 1), JavaBackend.interpreted(2)));
    if (OpenCl.isAvailable()) {
      list.add(OpenClBackend.select(""));
    }
    return list;
  }

  @TestFactory
  Stream<DynamicTest> moduloIsFlooredOnEveryBackendAndFusionLevel() throws Exception {
    var program = compile(MODULO);
    var tests = new ArrayList<DynamicTest>();
    for (var backend : backends()) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(backend.name() + " " + fusion.label(), () -> {
          var tensors = List.of(new Optimizer.Tensor("a", new long[] {3, 7}, new float[21]),
              new Optimizer.Tensor("b", new long[] {5}, new float[5]));
          try (var opt = Optimizer.builder(program).backend(backend).fusion(fusion).group(Map.of(), tensors).build()) {
            for (int step = 0; step < 7; step++) {
              opt.step();
              for (var t : tensors) {
                for (float v : opt.weights(t.name())) {
                  assertEquals(EXPECTED[step % 3], v, "step " + (step + 1) + " of " + t.name());
                }
              }
            }
          }
        }));
      }
    }
    return tests.stream();
  }

  @Test
  void theInterpreterAgrees() throws Exception {
    var ir = compile(MODULO).ir();
    for (var precision : Interpreter.Precision.values()) {
      for (int t = 1; t <= 6; t++) {
        var data = new Interpreter.TensorData(2, 3, new double[6], new double[6], Map.of());
        var result = Interpreter.step(ir, List.of(data), Map.of(), t, precision);
        var w = result.tensors().getFirst().w();
        for (double v : w) {
          assertEquals(EXPECTED[(t - 1) % 3], v, 0, precision + " t=" + t);
        }
      }
    }
  }

  /** The one definition every backend follows: Python's float %, with x % 0 = NaN (torch.remainder). */
  @Test
  void floorModIsPythonsFloatModulo() {
    double[][] cases = {
        {7, 3, 1}, {-7, 3, 2}, {7, -3, -2}, {-7, -3, -1}, {5.5, 2, 1.5}, {-5.5, 2, 0.5}, {1e-30, 1, 1e-30},
        {-1e-30, 1, 1}, {6, 3, 0}, {-6, 3, 0}, {6, -3, -0.0}, {1, Double.POSITIVE_INFINITY, 1},
        {-1, Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY}};
    for (var c : cases) {
      assertEquals(c[2], BinaryOp.floorMod(c[0], c[1]), c[0] + " % " + c[1]);
      assertEquals((float) c[2], BinaryOp.floorMod((float) c[0], (float) c[1]), c[0] + " % " + c[1] + " (float)");
      assertEquals((float) c[2], (float) BinaryOp.MOD.apply(c[0], c[1]));
    }
    assertEquals(Double.NaN, BinaryOp.floorMod(5.0, 0.0));
    assertEquals(Float.NaN, BinaryOp.floorMod(5f, 0f));
    assertEquals(Double.NaN, BinaryOp.floorMod(Double.NaN, 2.0));
    assertEquals(Double.NaN, BinaryOp.floorMod(Double.POSITIVE_INFINITY, 2.0));
  }

  /** The kernels' helper is emitted where a kernel computes a %, in both dialects, and only there. */
  @Test
  void theCHelperIsEmittedWhereUsed() throws Exception {
    var program = compile(MODULO);
    for (var dialect : List.of(Dialect.CUDA, Dialect.OPENCL)) {
      var text = KernelEngine.source(Planner.plan(program.ir(), Fusion.FULL), KernelConfig.of(dialect, 64)).text();
      assertTrue(text.contains("float optc_mod(float a, float b)"), dialect.name());
      assertTrue(text.contains(dialect == Dialect.CUDA ? "fmodf(a, b)" : "fmod(a, b)"), dialect.name());
      assertTrue(text.contains(dialect == Dialect.CUDA ? "copysignf(0.0f, b)" : "copysign(0.0f, b)"), dialect.name());
      assertTrue(text.contains("optc_mod(") && text.indexOf("optc_mod(") != text.lastIndexOf("optc_mod("),
          dialect.name() + ": called");
      // Only host uniforms: nothing in the kernels.
      var hostOnly = compile("hyper k = 4\nw -= (t % k == 0) * g\n");
      var plain = KernelEngine.source(Planner.plan(hostOnly.ir(), Fusion.FULL), KernelConfig.of(dialect, 64)).text();
      assertTrue(!plain.contains("optc_mod"), dialect.name() + ": no helper without a % in a kernel");
    }
  }

  static final String READS_INPUT = """
      input h
      hyper lr = 0.5
      state m
      m = m + h
      w -= lr * h * g + m
      """;

  @TestFactory
  Stream<DynamicTest> anInputIsReadAsSuppliedOnEveryBackend() throws Exception {
    var program = compile(READS_INPUT);
    var tests = new ArrayList<DynamicTest>();
    for (var backend : backends()) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(backend.name() + " " + fusion.label(), () -> {
          var tensors = List.of(new Optimizer.Tensor("a", new long[] {3, 7}, new float[21]),
              new Optimizer.Tensor("b", new long[] {5}, new float[5]), new Optimizer.Tensor("e", new long[] {0},
                  new float[0]));
          try (var opt = Optimizer.builder(program).backend(backend).fusion(fusion).group(Map.of(), tensors).build()) {
            assertEquals(List.of("h"), opt.inputs());
            var want = new HashMap<String, float[]>();
            var m = new HashMap<String, float[]>();
            for (int step = 1; step <= 3; step++) {
              for (var t : tensors) {
                int n = t.weights().length;
                var h = new float[n];
                var g = new float[n];
                for (int i = 0; i < n; i++) {
                  h[i] = step + i * 0.25f;
                  g[i] = 2 - i;
                }
                opt.setGrad(t.name(), g);
                opt.setInput("h", t.name(), h);
                var w = want.computeIfAbsent(t.name(), k -> new float[n]);
                var mm = m.computeIfAbsent(t.name(), k -> new float[n]);
                for (int i = 0; i < n; i++) {
                  mm[i] = mm[i] + h[i];
                  w[i] -= 0.5f * h[i] * g[i] + mm[i];
                }
              }
              opt.step();
              for (var t : tensors) {
                var got = opt.weights(t.name());
                for (int i = 0; i < got.length; i++) {
                  assertEquals(want.get(t.name())[i], got[i], 1e-5f * Math.abs(want.get(t.name())[i]),
                      t.name() + "[" + i + "] at step " + step);
                }
              }
            }
          }
        }));
      }
    }
    return tests.stream();
  }

  @Test
  void aStepWithoutItsInputFailsAndChangesNothing() throws Exception {
    var program = compile(READS_INPUT);
    var tensors = List.of(new Optimizer.Tensor("a", new long[] {4}, new float[] {1, 2, 3, 4}),
        new Optimizer.Tensor("b", new long[] {2}, new float[] {5, 6}));
    try (var opt = Optimizer.builder(program).group(Map.of(), tensors).build()) {
      var e = assertThrows(OptcException.class, opt::step);
      assertEquals("step 1: input 'h' of tensor 'a' was never supplied; call setInput(\"h\", \"a\", values) "
          + "before the first step", e.getMessage());
      assertEquals(0, opt.t());
      opt.setInput("h", "a", new float[] {1, 1, 1, 1});
      e = assertThrows(OptcException.class, opt::step);
      assertTrue(e.getMessage().contains("input 'h' of tensor 'b'"), e.getMessage());
      opt.setInput("h", "b", new float[] {1, 1});
      opt.step();
      assertEquals(1, opt.t());
      // The values stay until supplied again, as the gradient's: w -= 0.5 h g + m with g = 0 and m = 2 h.
      opt.step();
      assertEquals(2, opt.t());
      assertEquals(List.of(1 - 1f - 2f, 2 - 1f - 2f, 3 - 1f - 2f, 4 - 1f - 2f),
          toList(opt.weights("a")));
      e = assertThrows(OptcException.class, () -> opt.setInput("hess", "a", new float[4]));
      assertEquals("no input 'hess' in m (its inputs: h)", e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.setInput("h", "a", new float[3]));
      assertEquals("input 'h' of tensor 'a' has 3 values; the tensor has 4 elements", e.getMessage());
    }
  }

  static List<Float> toList(float[] x) {
    var list = new ArrayList<Float>();
    for (float v : x) {
      list.add(v);
    }
    return list;
  }

  @Test
  void sophiaNeedsItsHessianEstimate() throws Exception {
    var program = OptProgram.load("sophia");
    assertEquals(List.of("h"), program.ir().inputs().stream().map(s -> s.name()).toList());
    var tensors = List.of(new Optimizer.Tensor("w", new long[] {3}, new float[] {1, -2, 3}));
    try (var opt = Optimizer.builder(program).group(Map.of(), tensors).build()) {
      opt.setGrad("w", new float[] {0.5f, -0.5f, 0});
      var e = assertThrows(OptcException.class, opt::step);
      assertTrue(e.getMessage().contains("input 'h'"), e.getMessage());
    }
  }
}
