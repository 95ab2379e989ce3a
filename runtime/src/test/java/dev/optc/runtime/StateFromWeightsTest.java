package dev.optc.runtime;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code state NAME = w} (a state that starts as a copy of the weights, taken before the first step) and
 * {@code evaluate NAME} (the evaluation point; DSL.md §11): on the Java engines and OpenCL (PoCL), with weights
 * given at bind time, set through {@link Optimizer#view} or {@link Optimizer#setWeights} after it, in bf16 and
 * q8 storage, through checkpoints, and swapped into the weights around an evaluation.
 */
class StateFromWeightsTest {
  /** An average of the weights (evaluated at), a bf16 and a q8 copy, and plain SGD on w. */
  static final String AVERAGE = """
      optimizer average
      hyper lr = 0.1
      hyper beta = 0.5
      state avg = w
      state half as bf16 = w
      state q as q8 = w
      evaluate avg
      w -= lr * g
      avg = beta * avg + (1 - beta) * w
      half = half
      q = q
      """;

  static OptProgram compile(String source) throws Exception {
    return OptProgram.compile(SourceFile.of("average.opt", source), Pipeline.Options.DEFAULT);
  }

  static List<Backend> backends() {
    var list = new ArrayList<Backend>(List.of(new JavaBackend(JavaEmitter.Precision.F32, 2),
        new JavaBackend(JavaEmitter.Precision.F64, 1), JavaBackend.interpreted(2)));
    if (OpenCl.isAvailable()) {
      list.add(OpenClBackend.select(""));
    }
    return list;
  }

  static float[] random(Random r, int n) {
    var a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  static final long[] SHAPE_A = {3, 7};
  static final long[] SHAPE_B = {5000};

  /** avg after one step from weights w0 with gradient g: 0.5 * w0 + 0.5 * (w0 - 0.1 g), in float32. */
  static float[] averageAfterOneStep(float[] w0, float[] g) {
    var out = new float[w0.length];
    for (int i = 0; i < out.length; i++) {
      float w1 = w0[i] - 0.1f * g[i];
      out[i] = 0.5f * w0[i] + 0.5f * w1;
    }
    return out;
  }

  static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
    assertEquals(expected.length, actual.length, what);
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], actual[i], tolerance, what + " [" + i + "]");
    }
  }

  /** A copy taken at bind time from the given weights; bf16 rounded, q8 within its quantization error. */
  @TestFactory
  Stream<DynamicTest> statesStartAsACopyOfTheWeightsOnEveryBackendAndFusionLevel() throws Exception {
    var program = compile(AVERAGE);
    var tests = new ArrayList<DynamicTest>();
    for (var backend : backends()) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(backend.name() + " " + fusion.label(), () -> {
          var r = new Random(7);
          var a = random(r, 21);
          var b = random(r, 5000);
          try (var opt = Optimizer.builder(program).backend(backend).fusion(fusion).quantizeFrom(4096)
              .group(Map.of(), List.of(new Optimizer.Tensor("a", SHAPE_A, a), new Optimizer.Tensor("b", SHAPE_B, b)))
              .build()) {
            assertArrayEquals(a, opt.state("avg", "a"));
            assertArrayEquals(b, opt.state("avg", "b"));
            var half = opt.state("half", "b");
            for (int i = 0; i < b.length; i++) {
              assertEquals(Dtype.BF16.round(b[i]), half[i], "bf16 copy [" + i + "]");
            }
            assertClose(b, opt.state("q", "b"), 0.02 * 4.5, "q8 copy (b is quantized, absmax about 4)");
            assertArrayEquals(a, opt.state("q", "a"), "a is under the threshold: q keeps float32");
            var ga = random(r, 21);
            var gb = random(r, 5000);
            opt.setGrad("a", ga);
            opt.setGrad("b", gb);
            opt.step();
            assertClose(averageAfterOneStep(a, ga), opt.state("avg", "a"), 1e-6, "avg of a");
            assertClose(averageAfterOneStep(b, gb), opt.evaluationWeights("b"), 1e-6, "evaluation point of b");
            assertEquals("avg", opt.evaluationPoint());
          }
        }));
      }
    }
    return tests.stream();
  }

  /**
   * A framework binding by shape sets the weights after build (through view): the copy is of those weights,
   * taken before the first step, not of the zeros the arena held at build time. Java and OpenCL on a CPU.
   */
  @TestFactory
  Stream<DynamicTest> theCopyIsOfTheWeightsSetThroughViewBeforeTheFirstStep() throws Exception {
    var program = compile(AVERAGE);
    var tests = new ArrayList<DynamicTest>();
    var list = new ArrayList<Backend>(List.of(new JavaBackend(JavaEmitter.Precision.F32, 2)));
    if (OpenCl.isAvailable()) {
      list.add(OpenClBackend.select(""));
    }
    for (var backend : list) {
      tests.add(DynamicTest.dynamicTest(backend.name(), () -> {
        var r = new Random(8);
        var a = random(r, 21);
        var b = random(r, 5000);
        try (var opt = Optimizer.builder(program).backend(backend).arenas(Arenas.NATIVE)
            .params(Map.of(), List.of(new Optimizer.Param("a", SHAPE_A), new Optimizer.Param("b", SHAPE_B)))
            .build()) {
          var va = opt.view("a");
          var vb = opt.view("b");
          va.weights().copyFrom(java.lang.foreign.MemorySegment.ofArray(a));
          vb.weights().copyFrom(java.lang.foreign.MemorySegment.ofArray(b));
          // Read before the first step: the copy follows the weights set so far.
          assertArrayEquals(a, opt.state("avg", "a"));
          assertArrayEquals(a, opt.evaluationWeights("a"));
          var ga = random(r, 21);
          var gb = random(r, 5000);
          for (int k = 0; k < 21; k++) {
            va.grad().setAtIndex(JAVA_FLOAT, k, ga[k]);
          }
          vb.grad().copyFrom(java.lang.foreign.MemorySegment.ofArray(gb));
          // Weights changed again after that read, before the step: the copy is of these.
          a[0] = 42;
          va.weights().setAtIndex(JAVA_FLOAT, 0, 42f);
          opt.step();
          assertClose(averageAfterOneStep(a, ga), opt.state("avg", "a"), 1e-6, "avg of a");
          assertClose(averageAfterOneStep(b, gb), opt.state("avg", "b"), 1e-6, "avg of b");
          assertClose(b, opt.state("q", "b"), 0.02 * 4.5, "q8 copy of b");
          // After the first step the weights are the model's alone: setting them leaves the states alone.
          var avg = opt.state("avg", "a");
          opt.setWeights("a", new float[21]);
          assertArrayEquals(avg, opt.state("avg", "a"));
        }
      }));
    }
    return tests.stream();
  }

  /** Backend arenas, weights set with setWeights after build: the same rule. */
  @Test
  void theCopyIsOfTheWeightsSetWithSetWeightsBeforeTheFirstStep() throws Exception {
    var r = new Random(9);
    var a = random(r, 21);
    try (var opt = Optimizer.builder(compile(AVERAGE))
        .params(Map.of(), List.of(new Optimizer.Param("a", SHAPE_A))).build()) {
      assertArrayEquals(new float[21], opt.state("avg", "a"));
      opt.setWeights("a", a);
      var g = random(r, 21);
      opt.setGrad("a", g);
      opt.step();
      assertClose(averageAfterOneStep(a, g), opt.state("avg", "a"), 1e-6, "avg");
    }
  }

  /**
   * A checkpoint saves the states, not their origin: restoring one (after steps, or before the first step) gives
   * the saved values, which the next step continues from bit for bit, whatever the weights were at bind time.
   */
  @TestFactory
  Stream<DynamicTest> aRestoredCheckpointOverridesTheCopy(@TempDir Path dir) throws Exception {
    var program = OptProgram.load("schedulefree_adamw");
    var tests = new ArrayList<DynamicTest>();
    // java64 does not continue bit for bit from a checkpoint (its states are saved as float32).
    for (var backend : backends().stream().filter(b -> !b.name().equals("java64")).toList()) {
      tests.add(DynamicTest.dynamicTest(backend.name(), () -> {
        var r = new Random(10);
        var w0 = random(r, 5000);
        var grads = new ArrayList<float[]>();
        for (int k = 0; k < 6; k++) {
          grads.add(random(r, 5000));
        }
        var file = dir.resolve(backend.name().replaceAll("[^a-z0-9]", "_") + ".optc");
        float[] y;
        float[] x;
        float[] z;
        float[] wAt3;
        try (var opt = Optimizer.builder(program).backend(backend)
            .group(Map.of("warmup_steps", 2.0), List.of(new Optimizer.Tensor("p", SHAPE_B, w0))).build()) {
          for (int k = 0; k < 3; k++) {
            opt.setGrad("p", grads.get(k));
            opt.step();
          }
          opt.save(file);
          wAt3 = opt.weights("p");
          for (int k = 3; k < 6; k++) {
            opt.setGrad("p", grads.get(k));
            opt.step();
          }
          y = opt.weights("p");
          x = opt.evaluationWeights("p");
          z = opt.state("z", "p");
        }
        // Bound by shape: weights zero at build; the training loop restores the optimizer, then the weights.
        try (var opt = Optimizer.builder(program).backend(backend)
            .params(Map.of("warmup_steps", 2.0), List.of(new Optimizer.Param("p", SHAPE_B))).build()) {
          opt.restore(file);
          opt.setWeights("p", wAt3);
          assertEquals(3, opt.t());
          for (int k = 3; k < 6; k++) {
            opt.setGrad("p", grads.get(k));
            opt.step();
          }
          assertArrayEquals(y, opt.weights("p"), "y continues bit for bit");
          assertArrayEquals(x, opt.evaluationWeights("p"), "x continues bit for bit");
          assertArrayEquals(z, opt.state("z", "p"), "z continues bit for bit");
        }
        // A checkpoint saved before the first step holds the copy; restored, it beats the new weights.
        var early = dir.resolve("early_" + file.getFileName());
        try (var opt = Optimizer.builder(program).backend(backend)
            .group(Map.of(), List.of(new Optimizer.Tensor("p", SHAPE_B, w0))).build()) {
          opt.save(early);
        }
        try (var opt = Optimizer.builder(program).backend(backend)
            .group(Map.of(), List.of(new Optimizer.Tensor("p", SHAPE_B, new float[5000]))).build()) {
          opt.restore(early);
          opt.setWeights("p", random(r, 5000));
          assertArrayEquals(w0, opt.state("x", "p"), "the restored copy, not the weights");
          opt.setGrad("p", new float[5000]);
          opt.step();
          assertArrayEquals(w0, opt.state("z", "p"), "z: a zero gradient leaves the restored copy");
        }
      }));
    }
    return tests.stream();
  }

  /**
   * atEvaluationPoint puts the evaluation point into the weights for the evaluation and the weights back after
   * it, bit for bit, also when the evaluation throws; native arenas (bulk copies) and backend ones.
   */
  @TestFactory
  Stream<DynamicTest> atEvaluationPointSwapsTheWeightsAndBack() throws Exception {
    var program = compile(AVERAGE);
    var tests = new ArrayList<DynamicTest>();
    for (var arenas : List.of(Arenas.NATIVE, Arenas.BACKEND)) {
      for (var backend : backends()) {
        if (arenas == Arenas.NATIVE && backend.name().equals("java64")) {
          continue; // java64 keeps float64 arrays; it has no native arenas
        }
        tests.add(DynamicTest.dynamicTest(backend.name() + " " + arenas.kind(), () -> {
          var r = new Random(11);
          var a = random(r, 21);
          var b = random(r, 5000);
          var builder = Optimizer.builder(program).backend(backend);
          if (!backend.name().startsWith("opencl") || arenas == Arenas.NATIVE) {
            builder.arenas(arenas);
          }
          try (var opt = builder.group(Map.of(),
              List.of(new Optimizer.Tensor("a", SHAPE_A, a), new Optimizer.Tensor("b", SHAPE_B, b))).build()) {
            opt.setGrad("a", random(r, 21));
            opt.setGrad("b", random(r, 5000));
            opt.step();
            var wa = opt.weights("a");
            var wb = opt.weights("b");
            var xa = opt.evaluationWeights("a");
            var xb = opt.evaluationWeights("b");
            var seen = opt.atEvaluationPoint(() -> List.of(opt.weights("a"), opt.weights("b")));
            assertArrayEquals(xa, seen.get(0));
            assertArrayEquals(xb, seen.get(1));
            assertArrayEquals(wa, opt.weights("a"));
            assertArrayEquals(wb, opt.weights("b"));
            assertThrows(IllegalStateException.class, () -> opt.atEvaluationPoint(() -> {
              throw new IllegalStateException("validation failed");
            }));
            assertArrayEquals(wa, opt.weights("a"));
            assertArrayEquals(wb, opt.weights("b"));
          }
        }));
      }
    }
    return tests.stream();
  }

  /**
   * A flag state {@code = w} (memory only once its flag is on) copies the weights of the moment the flag turns it
   * on, when its memory is allocated.
   */
  @Test
  void aFlagStateFromWCopiesTheWeightsWhenItsFlagTurnsItOn() throws Exception {
    var program = compile("""
        hyper lr = 0.5
        hyper averaging = false
        state avg = w
        evaluate avg
        w -= lr * g
        avg = averaging ? (avg + w) / 2 : avg
        """);
    var w0 = new float[] {1, 2, 3};
    try (var opt = Optimizer.builder(program)
        .group(Map.of(), List.of(new Optimizer.Tensor("p", new long[] {3}, w0))).build()) {
      assertTrue(!opt.stateAllocated("avg"), "a flag state: no memory while averaging is off");
      opt.setGrad("p", new float[] {2, 2, 2});
      opt.step();
      opt.step();
      var w2 = opt.weights("p");
      assertArrayEquals(new float[] {-1, 0, 1}, w2);
      assertArrayEquals(w2, opt.evaluationWeights("p"), "unallocated: it would start as the weights now");
      opt.setHyper("averaging", 1);
      assertTrue(opt.stateAllocated("avg"));
      assertArrayEquals(w2, opt.state("avg", "p"), "the copy is of the weights when the flag turned it on");
      opt.step();
      assertArrayEquals(new float[] {-1.5f, -0.5f, 0.5f}, opt.state("avg", "p"));
    }
  }

  /** Without 'evaluate' the evaluation point is w, and atEvaluationPoint only runs the evaluation. */
  @Test
  void withoutEvaluateTheEvaluationPointIsW() throws Exception {
    var w = new float[] {1, 2, 3};
    try (var opt = Optimizer.builder(OptProgram.load("adamw"))
        .group(Map.of(), List.of(new Optimizer.Tensor("p", new long[] {3}, w))).build()) {
      assertEquals("w", opt.evaluationPoint());
      assertArrayEquals(w, opt.evaluationWeights("p"));
      assertArrayEquals(w, opt.atEvaluationPoint(() -> opt.weights("p")));
    }
    assertEquals("x", OptProgram.load("schedulefree_adamw").ir().evaluate());
    assertTrue(Library.NAMES.contains("schedulefree_adamw"));
  }
}
