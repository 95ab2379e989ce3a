package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Replays the multi-tensor golden cases made by {@code tools/golden/make_golden.py}
 * ({@code conformance-groups/}: LARS, LAMB and Adafactor against float64/float32 NumPy implementations of
 * the published formulas, AdamW with {@code clip_grad_norm_} against torch 1.13). Each case is one
 * parameter group of N tensors, because the update of a tensor depends on whole-tensor values (trust
 * ratios, factored moments) or on the whole group (the global gradient norm). The rule is
 * {@link TorchConformanceTest}'s, per tensor: {@code max|ours - f64| <= 10 * max|ref32 - f64| + 1e-6}.
 */
class FormulaConformanceTest {
  static final Path CASES = Path.of("src/test/resources/conformance-groups");
  /**
   * Cases of programs that read inputs besides g ({@code input NAME}: sophia's Hessian estimate), written by
   * tools/golden/make_sophia_golden.py: the group format plus {@code inputs=NAME,...} and {@code input_NAME_I.npy}.
   */
  static final Path INPUT_CASES = Path.of("src/test/resources/conformance-inputs");
  /**
   * Cases of matrix-aware programs (muon: products on a BLAS), written by tools/golden/make_muon_golden.py:
   * the group format, 2-D tensors with rows < cols, rows > cols and square.
   */
  static final Path MATRIX_CASES = Path.of("src/test/resources/conformance-matrix");
  /**
   * Cases of programs with an evaluation point ({@code evaluate NAME}: schedulefree_adamw's x), written by
   * tools/golden/make_schedulefree_golden.py: the group format plus {@code evaluate=NAME} and
   * {@code expected_eval_f32_I.npy}/{@code expected_eval_f64_I.npy}, checked under the same rule as the weights.
   */
  static final Path EVALUATE_CASES = Path.of("src/test/resources/conformance-evaluate");

  @TestFactory
  Stream<DynamicTest> everyGroupCaseMatchesTheFormulasOnTheJavaReference() throws IOException {
    var dirs = caseDirs();
    assertTrue(dirs.size() >= 16, "expected the committed group cases, found " + dirs.size());
    return dirs.stream().map(dir -> DynamicTest.dynamicTest(dir.getFileName().toString(),
        () -> check(load(dir), new JavaBackend(JavaEmitter.Precision.F32, 2), Fusion.FULL)));
  }

  /** The same replays through the OpenCL backend at every fusion level (PoCL in CI). */
  @TestFactory
  Stream<DynamicTest> everyGroupCaseMatchesTheFormulasOnOpenClAtEveryFusionLevel() throws IOException {
    if ("true".equals(System.getenv("CI"))) {
      assertTrue(OpenCl.isAvailable(), "CI has no OpenCL device: " + OpenCl.unavailableReason());
    }
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    return caseDirs().stream().flatMap(dir -> Stream.of(Fusion.values()).map(f -> DynamicTest.dynamicTest(
        dir.getFileName() + " " + f.label(), () -> {
          var c = load(dir);
          BackendComparison.skipMatrixProgramAtNone(OptProgram.load(c.optimizer()), f);
          check(c, OpenClBackend.select(""), f);
        })));
  }

  static List<Path> caseDirs() throws IOException {
    var dirs = new ArrayList<Path>();
    for (var root : List.of(CASES, INPUT_CASES, MATRIX_CASES, EVALUATE_CASES)) {
      try (var list = Files.list(root)) {
        dirs.addAll(list.filter(d -> Files.exists(d.resolve("case.properties"))).sorted().toList());
      }
    }
    return dirs;
  }

  @Test
  void theMuonCasesAreThere() throws IOException {
    var muon = caseDirs().stream().filter(d -> d.getFileName().toString().startsWith("muon")).toList();
    assertEquals(5, muon.size(), "the committed muon cases: " + muon);
  }

  @Test
  void theSophiaCasesAreThere() throws IOException {
    var sophia = caseDirs().stream().filter(d -> d.getFileName().toString().startsWith("sophia")).toList();
    assertEquals(3, sophia.size(), "the committed sophia cases: " + sophia);
  }

  @Test
  void theScheduleFreeCasesAreThereAndCheckTheEvaluationPoint() throws Exception {
    var cases = caseDirs().stream().filter(d -> d.getFileName().toString().startsWith("schedulefree_adamw")).toList();
    assertEquals(3, cases.size(), "the committed schedulefree_adamw cases: " + cases);
    for (var dir : cases) {
      var c = load(dir);
      assertEquals("x", c.evaluate(), dir + ": evaluate");
      assertEquals("x", OptProgram.load(c.optimizer()).ir().evaluate(), "schedulefree_adamw evaluates at x");
      c.tensors().forEach(t -> assertTrue(t.evalF32() != null && t.evalF64() != null, dir + ": " + t.name()));
    }
  }

  /** Written by tools/golden/make_adam_mini_golden.py into conformance-groups/ (per-neuron, per-head, 1-D blocks). */
  @Test
  void theAdamMiniCasesAreThere() throws IOException {
    var adamMini = caseDirs().stream().filter(d -> d.getFileName().toString().startsWith("adam_mini")).toList();
    assertEquals(3, adamMini.size(), "the committed adam_mini cases: " + adamMini);
  }

  /** One tensor of a case: initial weights, T gradients (flat, step-major) and the two references. */
  record TensorCase(String name, long[] shape, float[] params, float[] grads, float[] f32, double[] f64,
      Map<String, float[]> inputs, float[] evalF32, double[] evalF64) {}

  /** {@code evaluate}: the evaluation point the case checks besides the weights, or null. */
  record GroupCase(String name, String optimizer, int steps, Map<String, Double> hypers,
      List<TensorCase> tensors, String evaluate) {}

  static GroupCase load(Path dir) throws IOException {
    var props = new Properties();
    try (Reader r = Files.newBufferedReader(dir.resolve("case.properties"))) {
      props.load(r);
    }
    var hypers = new HashMap<String, Double>();
    for (var key : props.stringPropertyNames()) {
      if (key.startsWith("hyper.")) {
        var v = props.getProperty(key);
        hypers.put(key.substring(6), v.equals("true") ? 1.0 : v.equals("false") ? 0.0 : Double.parseDouble(v));
      }
    }
    int steps = Integer.parseInt(props.getProperty("steps"));
    int n = Integer.parseInt(props.getProperty("tensors"));
    var tensors = new ArrayList<TensorCase>();
    for (int i = 0; i < n; i++) {
      var params = Npy.readFloat32(dir.resolve("params_" + i + ".npy"));
      var grads = Npy.readFloat32(dir.resolve("grads_" + i + ".npy"));
      var f32 = Npy.readFloat32(dir.resolve("expected_f32_" + i + ".npy"));
      var f64 = Npy.readFloat64(dir.resolve("expected_f64_" + i + ".npy"));
      var name = "t" + i + Arrays.toString(params.shape());
      assertEquals((long) steps * params.data().length, grads.data().length, name + ": gradients");
      assertEquals(params.data().length, f32.data().length, name + ": expected_f32");
      assertEquals(params.data().length, f64.data().length, name + ": expected_f64");
      var inputs = new java.util.LinkedHashMap<String, float[]>();
      for (var input : props.getProperty("inputs", "").split(",")) {
        if (!input.isBlank()) {
          var values = Npy.readFloat32(dir.resolve("input_" + input.strip() + "_" + i + ".npy"));
          assertEquals((long) steps * params.data().length, values.data().length, name + ": input " + input);
          inputs.put(input.strip(), values.data());
        }
      }
      float[] evalF32 = null;
      double[] evalF64 = null;
      if (props.getProperty("evaluate") != null) {
        evalF32 = Npy.readFloat32(dir.resolve("expected_eval_f32_" + i + ".npy")).data();
        evalF64 = Npy.readFloat64(dir.resolve("expected_eval_f64_" + i + ".npy")).data();
        assertEquals(params.data().length, evalF32.length, name + ": expected_eval_f32");
        assertEquals(params.data().length, evalF64.length, name + ": expected_eval_f64");
      }
      tensors.add(new TensorCase(name, params.shape(), params.data(), grads.data(), f32.data(), f64.data(),
          inputs, evalF32, evalF64));
    }
    return new GroupCase(dir.getFileName().toString(), props.getProperty("optimizer"), steps, hypers, tensors,
        props.getProperty("evaluate"));
  }

  static void check(GroupCase c, Backend backend, Fusion fusion) throws Exception {
    var program = OptProgram.load(c.optimizer());
    var ours = run(program, backend, fusion, c);
    var ours64 = run(program, new JavaBackend(JavaEmitter.Precision.F64, 1), Fusion.FULL, c);
    var report = new StringBuilder();
    boolean ok = true;
    int n = c.tensors().size();
    for (int i = 0; i < (c.evaluate() == null ? n : 2 * n); i++) {
      // With an evaluation point, entries n.. of the runs' results are its values (see run).
      var t = c.tensors().get(i % n);
      var f32 = i < n ? t.f32() : t.evalF32();
      var f64 = i < n ? t.f64() : t.evalF64();
      double refError = TorchConformanceTest.maxDiff(f32, f64);
      double ourError = TorchConformanceTest.maxDiff(ours.get(i), f64);
      double tolerance = 10 * refError + 1e-6;
      boolean pass = ourError <= tolerance;
      ok &= pass;
      report.append(String.format("%n  %s %s%s: max|ours - f64| = %.3g, bound %.3g (max|ref32 - f64| = %.3g); "
              + "our float64 mode is %.3g from f64", pass ? "ok  " : "FAIL", t.name(),
          i < n ? "" : " (evaluate " + c.evaluate() + ")", ourError, tolerance, refError,
          TorchConformanceTest.maxDiff(ours64.get(i), f64)));
    }
    assertTrue(ok, c.name() + " (" + c.optimizer() + ", " + backend.name() + ", " + fusion.label() + "):" + report);
  }

  /**
   * One group of every tensor of the case, T steps; the final weights, per tensor, then (for a case with an
   * evaluation point) each tensor's evaluation point. Metrics must be finite.
   */
  static List<float[]> run(OptProgram program, Backend backend, Fusion fusion, GroupCase c) {
    var tensors = c.tensors().stream().map(t -> new Optimizer.Tensor(t.name(), t.shape(), t.params())).toList();
    try (var opt = Optimizer.builder(program).backend(backend).fusion(fusion).group(c.hypers(), tensors).build()) {
      opt.onMetrics(m -> m.values().forEach((metric, values) -> {
        for (int i = 0; i < values.length; i++) {
          assertTrue(Double.isFinite(values[i]), c.name() + ": metric " + metric + " of " + m.tensors().get(i)
              + " is " + values[i] + " at step " + m.t());
        }
      }));
      for (int k = 0; k < c.steps(); k++) {
        for (var t : c.tensors()) {
          int numel = t.params().length;
          opt.setGrad(t.name(), Arrays.copyOfRange(t.grads(), k * numel, (k + 1) * numel));
          for (var in : t.inputs().entrySet()) {
            opt.setInput(in.getKey(), t.name(), Arrays.copyOfRange(in.getValue(), k * numel, (k + 1) * numel));
          }
        }
        opt.step();
      }
      var out = new ArrayList<float[]>();
      c.tensors().forEach(t -> out.add(opt.weights(t.name())));
      if (c.evaluate() != null) {
        assertEquals(c.evaluate(), opt.evaluationPoint(), c.name());
        c.tensors().forEach(t -> out.add(opt.evaluationWeights(t.name())));
      }
      return out;
    }
  }
}
