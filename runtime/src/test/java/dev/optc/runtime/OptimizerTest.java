package dev.optc.runtime;

import static dev.optc.runtime.Fixtures.assertSameBits;
import static dev.optc.runtime.Fixtures.build;
import static dev.optc.runtime.Fixtures.compile;
import static dev.optc.runtime.Fixtures.noOverrides;
import static dev.optc.runtime.Fixtures.run;
import static dev.optc.runtime.Fixtures.states;
import static dev.optc.runtime.Fixtures.weights;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter.Precision;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Fixtures.TensorSpec;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The {@link Optimizer} API: parameter groups, multi-tensor arenas, threads, hyper schedules and
 * functional defaults, bad arguments, the float64 backend and metrics.
 */
class OptimizerTest {

  /** Global-norm clipping: the update of a tensor depends on every tensor of its group. */
  static final String CLIP = """
      optimizer clip
      hyper lr = 0.1
      hyper momentum = 0.9
      hyper max_norm = 1.0
      state buf
      gn = global_norm(g)
      g *= min(1, max_norm / (gn + 1e-6))
      buf = momentum*buf + g
      w -= lr*buf
      """;

  static final String DEPS = """
      optimizer deps
      hyper a = 0.5
      hyper b = a * 2
      hyper c = b + a
      w -= a * g + b * 0.01 * w + c * 0.001
      """;

  static final String METRICS = """
      optimizer metrics
      hyper lr = 0.1
      metric gn = norm(g)
      metric wbefore = maxabs(w)
      metric gglobal = global_norm(g)
      metric gsum = sum(g)
      metric gmean = mean(g)
      metric grms = rms(g)
      metric gglobalsum = global_sum(g)
      w -= lr * g
      metric wmax = maxabs(w)
      """;

  final long seed = System.nanoTime();
  final Random rnd = new Random(seed);

  @BeforeEach
  void printSeed(TestInfo info) {
    System.out.println(getClass().getSimpleName() + " " + info.getDisplayName() + ": seed " + seed);
  }

  String ctx() {
    return " (seed " + seed + ")";
  }

  static OptProgram program(String which) throws CompileException {
    return switch (which) {
      case "rowcol" -> compile("rowcol", CheckpointTest.ROWCOL);
      case "lamb" -> compile("lamb", CheckpointTest.LAMB);
      case "clip" -> compile("clip", CLIP);
      default -> OptProgram.load(which);
    };
  }

  static JavaBackend f32(int threads) {
    return new JavaBackend(Precision.F32, threads);
  }

  /** Random shapes: 0-sized, scalar, 1, primes, odd sizes, and tensors above the engine's chunk size. */
  List<TensorSpec> oddShapes(int count) {
    var fixed = List.of(new long[] {0}, new long[] {3, 0}, new long[] {0, 4}, new long[] {}, new long[] {1},
        new long[] {1, 1}, new long[] {7}, new long[] {13, 17}, new long[] {2, 3, 5},
        new long[] {257, 263}, new long[] {65537}, new long[] {3, 97, 233});
    var dims = new int[] {1, 2, 3, 5, 7, 11, 13, 31, 61, 127};
    var specs = new ArrayList<TensorSpec>();
    for (int i = 0; i < count; i++) {
      long[] shape;
      if (i < fixed.size()) {
        shape = fixed.get(i);
      } else {
        shape = new long[1 + rnd.nextInt(3)];
        for (int d = 0; d < shape.length; d++) {
          shape[d] = dims[rnd.nextInt(dims.length)];
        }
      }
      specs.add(new TensorSpec("t" + i, shape, 0));
    }
    Collections.shuffle(specs, rnd);
    return specs;
  }

  static String shapes(List<TensorSpec> specs) {
    return specs.stream().map(s -> s.name() + Arrays.toString(s.shape())).toList().toString();
  }

  // ---------------------------------------------------------------------------------------------------
  // Groups, arenas, threads

  @ParameterizedTest
  @ValueSource(strings = {"adamw", "rowcol", "lamb", "clip", "sgd"})
  void twoGroupsEqualTwoOptimizers(String which) throws Exception {
    var p = program(which);
    var second = Fixtures.secondHyper(p);
    var specs = List.of(new TensorSpec("a", new long[] {9, 4}, 0), new TensorSpec("b", new long[] {11}, 0),
        new TensorSpec("c", new long[] {5, 3}, 1), new TensorSpec("d", new long[] {2, 2, 3}, 1));
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 8);
    Map<String, Double> o0 = Map.of("lr", 0.01 + rnd.nextDouble() * 0.01);
    Map<String, Double> o1 = Map.of(second, 0.5 + rnd.nextDouble() * 0.3, "lr", 0.003);
    var what = which + ctx();
    try (var both = build(p, specs, List.of(o0, o1), w0);
        var first = build(p, specs.subList(0, 2), List.of(o0), w0);
        var other = build(p, specs.subList(2, 4).stream().map(s -> s.inGroup(0)).toList(), List.of(o1), w0)) {
      run(both, grads, 0, 8);
      run(first, grads, 0, 8);
      run(other, grads, 0, 8);
      var separate = new LinkedHashMap<String, float[]>(weights(first));
      separate.putAll(weights(other));
      assertSameBits(separate, weights(both), what + ": weights");
      var separateStates = new HashMap<String, float[]>(states(first));
      separateStates.putAll(states(other));
      assertSameBits(separateStates, states(both), what + ": states");
      assertEquals(o0.get("lr"), both.hyper(0, "lr"), what);
      assertEquals(o1.get(second), both.hyper(1, second), what);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"adam", "rowcol", "lamb", "adan", "sgd"})
  void aGroupOfManyTensorsEqualsEachTensorAlone(String which) throws Exception {
    var p = program(which);
    var specs = oddShapes(37);
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 4);
    Map<String, Double> o = which.equals("sgd") ? Map.of("momentum", 0.9, "lr", 0.05) : Map.of("lr", 0.01);
    var what = which + " over " + shapes(specs) + ctx();
    try (var all = build(p, f32(4), specs, List.of(o), w0)) {
      run(all, grads, 0, 4);
      var allWeights = weights(all);
      var allStates = states(all);
      for (var s : specs) {
        try (var alone = build(p, f32(2), List.of(s), List.of(o), w0)) {
          run(alone, grads, 0, 4);
          assertSameBits(alone.weights(s.name()), allWeights.get(s.name()), what + ": weights of " + s.name());
          for (var st : p.ir().states()) {
            var key = st.name() + "/" + s.name();
            assertSameBits(alone.state(st.name(), s.name()), allStates.get(key), what + ": state " + key);
          }
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"adam", "rowcol", "lamb", "clip", "radam"})
  void oneThreadAndFourThreadsAreBitIdentical(String which) throws Exception {
    var p = program(which);
    var specs = new ArrayList<TensorSpec>();
    for (var s : oddShapes(20)) {
      specs.add(s.inGroup(rnd.nextInt(2)));
    }
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 5);
    var what = which + " over " + shapes(specs) + ctx();
    for (var precision : Precision.values()) {
      // Every fusion level in float32; float64 (the error-measuring mode) fully fused only.
      for (var fusion : precision == Precision.F32 ? Fusion.values() : new Fusion[] {Fusion.FULL}) {
        try (var one = build(p, new JavaBackend(precision, 1), fusion, specs, noOverrides(2), w0);
            var four = build(p, new JavaBackend(precision, 4), fusion, specs, noOverrides(2), w0)) {
          run(one, grads, 0, 5);
          run(four, grads, 0, 5);
          var at = what + ", " + precision + ", fusion " + fusion;
          assertSameBits(weights(one), weights(four), at + ": weights");
          assertSameBits(states(one), states(four), at + ": states");
        }
      }
    }
  }

  /** One plan per optimizer: the engine runs the very plan the optimizer reads reduction slots from. */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(Fusion.class)
  void theOptimizerAndItsEngineShareOnePlan(Fusion fusion) throws Exception {
    var p = OptProgram.load("lamb");
    var specs = List.of(new TensorSpec("x", new long[] {3, 5}, 0));
    try (var opt = build(p, f32(2), fusion, specs, noOverrides(1), Map.of("x", new float[15]))) {
      org.junit.jupiter.api.Assertions.assertSame(opt.plan(), opt.engine().plan());
      assertEquals(fusion, opt.plan().fusion());
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Hypers

  @Test
  void aLearningRateScheduleEqualsBuildingWithEachRate() throws Exception {
    var p = program("adamw");
    var specs = List.of(new TensorSpec("a", new long[] {6, 7}, 0), new TensorSpec("b", new long[] {13}, 1));
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 9);
    double[] lrs = {1e-3 * (1 + rnd.nextDouble()), 5e-4 * (1 + rnd.nextDouble()), 1e-4 * (1 + rnd.nextDouble())};
    try (var scheduled = build(p, specs, List.of(Map.of("lr", lrs[0]), Map.of("lr", lrs[0])), w0)) {
      run(scheduled, grads, 0, 3);
      scheduled.setHyper("lr", lrs[1]);
      run(scheduled, grads, 3, 6);
      scheduled.setHyper("lr", lrs[2]);
      assertEquals(lrs[2], scheduled.hyper(0, "lr"));
      assertEquals(lrs[2], scheduled.hyper(1, "lr"));
      run(scheduled, grads, 6, 9);

      // The same three phases, each by an optimizer built with its rate and given the previous one's state.
      Map<String, float[]> w = w0;
      Map<String, float[]> st = null;
      for (int phase = 0; phase < 3; phase++) {
        var lr = Map.of("lr", lrs[phase]);
        try (var fresh = build(p, specs, List.of(lr, lr), w)) {
          if (st != null) {
            for (var e : st.entrySet()) {
              var parts = e.getKey().split("/");
              fresh.setState(parts[0], fresh.layout().index(parts[1]), e.getValue());
            }
            fresh.restoreStep(3L * phase);
          }
          run(fresh, grads, 3 * phase, 3 * phase + 3);
          w = weights(fresh);
          st = states(fresh);
        }
      }
      var what = "lr schedule " + Arrays.toString(lrs) + ctx();
      assertSameBits(w, weights(scheduled), what + ": weights");
      assertSameBits(st, states(scheduled), what + ": states");
    }
  }

  @Test
  void setHyperOfOneGroupLeavesTheOtherAlone() throws Exception {
    var p = program("adam");
    var specs = List.of(new TensorSpec("a", new long[] {8}, 0), new TensorSpec("b", new long[] {8}, 1));
    var w0 = Fixtures.randomWeights(rnd, specs);
    // Both tensors get the same weights and gradients, so only the hyper can make them differ.
    w0.put("b", w0.get("a").clone());
    var grads = Fixtures.randomGrads(rnd, specs, 4);
    grads.forEach(g -> g.put("b", g.get("a").clone()));
    try (var opt = build(p, specs, noOverrides(2), w0)) {
      run(opt, grads, 0, 2);
      assertSameBits(opt.weights("a"), opt.weights("b"), "same inputs, same hypers" + ctx());
      opt.setHyper(1, "lr", 0.1);
      assertEquals(1e-3, opt.hyper(0, "lr"));
      assertEquals(0.1, opt.hyper(1, "lr"));
      assertEquals(Map.of(), opt.hyperOverrides(0));
      assertEquals(Map.of("lr", 0.1), opt.hyperOverrides(1));
      run(opt, grads, 2, 4);
      assertFalse(Arrays.equals(opt.weights("a"), opt.weights("b")), "group 1's lr took effect" + ctx());
    }
  }

  @Test
  void hyperDefaultsFollowEachGroupsEarlierHypers() throws Exception {
    var p = compile("deps", DEPS);
    var specs = new ArrayList<TensorSpec>();
    for (int g = 0; g < 4; g++) {
      specs.add(new TensorSpec("t" + g, new long[] {3, 5}, g));
    }
    List<Map<String, Double>> overrides = List.of(Map.of(), Map.of("a", 0.25), Map.of("b", 3.0),
        Map.of("a", 0.1, "b", 0.7));
    double[][] expected = {{0.5, 1.0, 1.5}, {0.25, 0.5, 0.75}, {0.5, 3.0, 3.5}, {0.1, 0.7, 0.7 + 0.1}};
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 3);
    try (var opt = build(p, specs, overrides, w0)) {
      assertHypers(opt, expected);
      run(opt, grads, 0, 3);
      // The same values given explicitly, each tensor alone.
      for (int g = 0; g < 4; g++) {
        var all = Map.of("a", expected[g][0], "b", expected[g][1], "c", expected[g][2]);
        try (var alone = build(p, List.of(specs.get(g).inGroup(0)), List.of(all), w0)) {
          run(alone, grads, 0, 3);
          assertSameBits(alone.weights("t" + g), opt.weights("t" + g), "group " + g + ctx());
        }
      }
      // Later changes move the defaults of that group only, and never an explicitly set hyper.
      opt.setHyper(1, "a", 0.125);
      opt.setHyper(2, "a", 1.0);
      assertHypers(opt, new double[][] {{0.5, 1.0, 1.5}, {0.125, 0.25, 0.375}, {1.0, 3.0, 4.0},
          {0.1, 0.7, 0.7 + 0.1}});
      opt.setHyper("a", 2.0);
      assertHypers(opt, new double[][] {{2.0, 4.0, 6.0}, {2.0, 4.0, 6.0}, {2.0, 3.0, 5.0}, {2.0, 0.7, 0.7 + 2.0}});
    }
  }

  static void assertHypers(Optimizer opt, double[][] expected) {
    for (int g = 0; g < expected.length; g++) {
      assertEquals(expected[g][0], opt.hyper(g, "a"), "a of group " + g);
      assertEquals(expected[g][1], opt.hyper(g, "b"), "b of group " + g);
      assertEquals(expected[g][2], opt.hyper(g, "c"), "c of group " + g);
    }
  }

  @Test
  void unknownHyperNamesAreErrorsThatListTheHypers() throws Exception {
    var p = program("adam");
    var names = p.ir().hypers().stream().map(h -> h.name()).toList();
    var specs = List.of(new TensorSpec("a", new long[] {4}, 0));
    var w0 = Fixtures.randomWeights(rnd, specs);
    Function<OptcException, String> check = e -> {
      assertTrue(e.getMessage().contains("'betas'"), e.getMessage());
      for (var n : names) {
        assertTrue(e.getMessage().contains(n), "lists hyper " + n + ": " + e.getMessage());
      }
      assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
      return e.getMessage();
    };
    check.apply(assertThrows(OptcException.class, () -> Optimizer.builder(p).group(Map.of("betas", 0.9),
        List.of(new Optimizer.Tensor("a", new long[] {4}, w0.get("a"))))));
    try (var opt = build(p, specs, noOverrides(1), w0)) {
      check.apply(assertThrows(OptcException.class, () -> opt.setHyper("betas", 0.9)));
      check.apply(assertThrows(OptcException.class, () -> opt.setHyper(0, "betas", 0.9)));
      check.apply(assertThrows(OptcException.class, () -> opt.hyper(0, "betas")));
      assertEquals(Map.of(), opt.hyperOverrides(0), "a failed setHyper sets nothing");
      var e = assertThrows(OptcException.class, () -> opt.setHyper(1, "lr", 0.1));
      assertTrue(e.getMessage().contains("group"), e.getMessage());
      assertThrows(OptcException.class, () -> opt.setHyper(-1, "lr", 0.1));
      assertEquals(Map.of(), opt.hyperOverrides(0), "a failed setHyper sets nothing");
    }
  }

  @Test
  void wrongLengthsAndNamesAreErrors() throws Exception {
    var p = program("adam");
    int rows = 2 + rnd.nextInt(5);
    int cols = 2 + rnd.nextInt(5);
    var shape = new long[] {rows, cols};
    var e = assertThrows(OptcException.class, () -> Optimizer.builder(p)
        .group(Map.of(), List.of(new Optimizer.Tensor("fc", shape, new float[rows * cols + 1]))).build());
    assertTrue(e.getMessage().contains("'fc'"), e.getMessage());
    assertThrows(OptcException.class, () -> Optimizer.builder(p)
        .group(Map.of(), List.of(new Optimizer.Tensor("fc", shape, new float[rows * cols - 1]))).build());
    assertThrows(OptcException.class, () -> Optimizer.builder(p)
        .group(Map.of(), List.of(new Optimizer.Tensor("fc", new long[] {rows, -cols}, new float[0]))).build());
    assertThrows(OptcException.class, () -> Optimizer.builder(p)
        .group(Map.of(), List.of(new Optimizer.Tensor("fc", shape, new float[rows * cols])))
        .group(Map.of(), List.of(new Optimizer.Tensor("fc", new long[] {3}, new float[3]))).build(),
        "two tensors with one name");
    var specs = List.of(new TensorSpec("fc", shape, 0));
    var w0 = Fixtures.randomWeights(rnd, specs);
    try (var opt = build(p, specs, noOverrides(1), w0)) {
      assertThrows(OptcException.class, () -> opt.setGrad("fc", new float[rows * cols + 1]));
      assertThrows(OptcException.class, () -> opt.setGrad("fc", new float[rows]));
      assertThrows(OptcException.class, () -> opt.setWeights("fc", new float[rows * cols - 1]));
      assertThrows(OptcException.class, () -> opt.setGrad("nosuch", new float[rows * cols]));
      assertThrows(OptcException.class, () -> opt.weights("nosuch"));
      assertThrows(OptcException.class, () -> opt.state("nosuch", "fc"));
      assertThrows(OptcException.class, () -> opt.state("exp_avg", "nosuch"));
      assertSameBits(w0.get("fc"), opt.weights("fc"), "failed calls changed nothing" + ctx());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"adam", "rowcol"})
  void hugeShapesAreOptcExceptionsNotCrashes(String which) throws Exception {
    var p = program(which);
    long big = 1L << 40;
    List<List<long[]>> cases = List.of(List.of(new long[] {big, big}), List.of(new long[] {big, big, 0}),
        List.of(new long[] {1L << 31}), List.of(new long[] {3_000_000_000L, 0}),
        List.of(new long[] {0, 3_000_000_000L}), List.of(new long[] {65536, 65536, 0}),
        List.of(new long[] {2_000_000_000L, 0}, new long[] {2_000_000_000L, 0}),
        List.of(new long[] {0, 2_000_000_000L}, new long[] {0, 2_000_000_000L}));
    for (var shapes : cases) {
      var what = which + " with shapes " + shapes.stream().map(Arrays::toString).toList();
      var tensors = new ArrayList<Optimizer.Tensor>();
      for (int i = 0; i < shapes.size(); i++) {
        tensors.add(new Optimizer.Tensor("t" + i, shapes.get(i), new float[0]));
      }
      tensors.add(new Optimizer.Tensor("small", new long[] {3}, new float[] {1, 2, 3}));
      try (var opt = Optimizer.builder(p).group(Map.of(), tensors).build()) {
        // Accepted: then an empty tensor must not disturb the others.
        opt.setGrad("small", new float[] {1, 1, 1});
        opt.step();
        assertTrue(opt.weights("small")[0] < 1, what + ": the small tensor was updated");
      } catch (OptcException e) {
        assertFalse(e.getMessage().contains("\n"), what + ": one line: " + e.getMessage());
      } catch (RuntimeException e) {
        throw new AssertionError(what + ": not an OptcException but " + e, e);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Backends

  @Test
  void float64StaysWithin1e5RelativeOfFloat32ForAdam() throws Exception {
    var p = program("adam");
    var specs = List.of(new TensorSpec("a", new long[] {31, 17}, 0), new TensorSpec("b", new long[] {101}, 0));
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 20);
    double lr = 1e-3;
    try (var f32 = build(p, new JavaBackend(Precision.F32, 2), specs, noOverrides(1), w0);
        var f64 = build(p, new JavaBackend(Precision.F64, 2), specs, noOverrides(1), w0)) {
      run(f32, grads, 0, 20);
      run(f64, grads, 0, 20);
      int differ = 0;
      for (var s : specs) {
        var a = f32.weights(s.name());
        var b = f64.weights(s.name());
        for (int i = 0; i < a.length; i++) {
          double d = Math.abs((double) a[i] - b[i]);
          assertTrue(d <= 1e-5 * (Math.abs(b[i]) + lr), s.name() + "[" + i + "]: float32 " + a[i] + ", float64 "
              + b[i] + ctx());
          differ += a[i] != b[i] ? 1 : 0;
        }
        for (var st : List.of("exp_avg", "exp_avg_sq")) {
          var x = f32.state(st, s.name());
          var y = f64.state(st, s.name());
          // Moments are sums of terms that cancel: relative to the state's scale, not to each value.
          double scale = maxAbs(y);
          for (int i = 0; i < x.length; i++) {
            assertTrue(Math.abs((double) x[i] - y[i]) <= 1e-5 * scale, st + " of " + s.name()
                + "[" + i + "]: float32 " + x[i] + ", float64 " + y[i] + ctx());
          }
        }
      }
      assertTrue(differ > 0, "float64 gave the float32 result bit for bit in every element: is it float64?"
          + ctx());
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Metrics

  @Test
  void metricsReportPerTensorAndPerGroupValues() throws Exception {
    var p = compile("metrics", METRICS);
    var specs = List.of(new TensorSpec("a", new long[] {7, 9}, 0), new TensorSpec("big", new long[] {70001}, 0),
        new TensorSpec("c", new long[] {13}, 1), new TensorSpec("d", new long[] {2, 3, 4}, 1),
        new TensorSpec("e", new long[] {}, 1));
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 3);
    var names = specs.stream().map(TensorSpec::name).toList();
    var seen = new ArrayList<Optimizer.StepMetrics>();
    try (var opt = build(p, f32(4), specs, noOverrides(2), w0)) {
      opt.onMetrics(seen::add);
      for (int k = 0; k < 3; k++) {
        var before = weights(opt);
        run(opt, grads, k, k + 1);
        var after = weights(opt);
        assertEquals(k + 1, seen.size(), "one report per step");
        var m = seen.get(k);
        assertEquals(k + 1, m.t());
        assertEquals(names, m.tensors());
        assertEquals(List.of("gn", "wbefore", "gglobal", "gsum", "gmean", "grms", "gglobalsum", "wmax"),
            List.copyOf(m.values().keySet()));
        double[] groupSq = new double[2];
        double[] groupSum = new double[2];
        double[] groupAbs = new double[2];
        for (var s : specs) {
          for (float x : grads.get(k).get(s.name())) {
            groupSq[s.group()] += (double) x * x;
            groupSum[s.group()] += x;
            groupAbs[s.group()] += Math.abs(x);
          }
        }
        for (int i = 0; i < specs.size(); i++) {
          var s = specs.get(i);
          var g = grads.get(k).get(s.name());
          double sq = 0;
          double sum = 0;
          double abs = 0;
          for (float x : g) {
            float x2 = x * x; // the program squares in float32
            sq += x2;
            sum += x;
            abs += Math.abs(x);
          }
          var what = "step " + (k + 1) + ", tensor " + s.name() + ctx();
          assertClose(Math.sqrt(sq), m.values().get("gn")[i], 1e-6, what + ": norm(g)");
          assertClose(Math.sqrt(sq / g.length), m.values().get("grms")[i], 1e-6, what + ": rms(g)");
          assertEquals(sum, m.values().get("gsum")[i], 1e-6 * abs, what + ": sum(g)");
          assertEquals(sum / g.length, m.values().get("gmean")[i], 1e-6 * abs / g.length, what + ": mean(g)");
          assertClose(Math.sqrt(groupSq[s.group()]), m.values().get("gglobal")[i], 1e-6,
              what + ": global_norm(g) of group " + s.group());
          assertEquals(groupSum[s.group()], m.values().get("gglobalsum")[i], 1e-6 * groupAbs[s.group()],
              what + ": global_sum(g) of group " + s.group());
          assertEquals(maxAbs(before.get(s.name())), m.values().get("wbefore")[i], what + ": maxabs(w) before");
          assertEquals(maxAbs(after.get(s.name())), m.values().get("wmax")[i], what + ": maxabs(w) after");
        }
      }
    }
  }

  @Test
  void metricsOfAnEmptyTensor() throws Exception {
    var p = compile("metrics", METRICS);
    var specs = List.of(new TensorSpec("empty", new long[] {0, 3}, 0), new TensorSpec("x", new long[] {5}, 0));
    var w0 = Fixtures.randomWeights(rnd, specs);
    var grads = Fixtures.randomGrads(rnd, specs, 1);
    var seen = new ArrayList<Optimizer.StepMetrics>();
    try (var opt = build(p, specs, noOverrides(1), w0)) {
      opt.onMetrics(seen::add);
      run(opt, grads, 0, 1);
    }
    var v = seen.getFirst().values();
    assertEquals(0.0, v.get("gn")[0], "norm of no values");
    assertEquals(0.0, v.get("gsum")[0], "sum of no values");
    assertEquals(0.0, v.get("wmax")[0], "maxabs of no values");
    assertEquals(v.get("gglobal")[1], v.get("gglobal")[0], "global_norm is the group's");
    assertEquals(v.get("gn")[1], v.get("gglobal")[0], "the empty tensor adds nothing to global_norm");
  }

  static void assertClose(double expected, double actual, double rel, String what) {
    assertTrue(Math.abs(expected - actual) <= rel * Math.abs(expected), what + ": expected " + expected
        + " but was " + actual);
  }

  static double maxAbs(float[] a) {
    double m = 0;
    for (float x : a) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }
}
