package dev.optc.runtime;

import static dev.optc.runtime.Fixtures.assertSameBits;
import static dev.optc.runtime.Fixtures.assertSameSnapshot;
import static dev.optc.runtime.Fixtures.build;
import static dev.optc.runtime.Fixtures.run;
import static dev.optc.runtime.Fixtures.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Fixtures.TensorSpec;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * States a flag turns off take no memory: AdamW's {@code max_exp_avg_sq} is allocated when {@code amsgrad} is
 * first on in some group (at build or by {@code setHyper}), zeroed then, never before; until then every backend
 * holds 8 bytes of float32 state per parameter, as torch does, and 12 after. Laziness changes memory, never
 * values: switching the flag on mid-training gives the bits of an optimizer that had it on from that step with
 * a zeroed {@code max_exp_avg_sq}, and checkpoints written with the state unallocated restore either way.
 */
class FlagStatesTest {
  static final List<TensorSpec> SPECS = List.of(new TensorSpec("a", new long[] {37, 5}, 0),
      new TensorSpec("b", new long[] {1}, 0), new TensorSpec("c", new long[] {4099}, 1),
      new TensorSpec("d", new long[] {0}, 1));
  static final int NUMEL = 37 * 5 + 1 + 4099;

  @TempDir
  Path dir;

  /** Name, backend (null: skip, with the reason), bytes of one stored state element, fusion level. */
  record Named(String name, Supplier<Backend> backend, int elementBytes, Fusion fusion) {
    @Override
    public String toString() {
      return name + " at fusion " + fusion.name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * Each backend at each fusion level: at statement and none a later kernel reads the value an earlier one
   * stored in max_exp_avg_sq, under amsgrad's guard as it loads it.
   */
  static Stream<Arguments> backends() {
    return Stream.of(Fusion.values()).flatMap(f -> Stream.of(
        new Named("java", () -> new JavaBackend(JavaEmitter.Precision.F32, 2), 4, f),
        new Named("java-interpreted", () -> JavaBackend.interpreted(2), 4, f),
        new Named("java64", () -> new JavaBackend(JavaEmitter.Precision.F64, 1), 8, f),
        new Named("opencl", () -> {
          assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
          return OpenClBackend.select("");
        }, 4, f))).map(Arguments::of);
  }

  static OptProgram adamw() {
    try {
      return OptProgram.load("adamw");
    } catch (CompileException e) {
      throw new AssertionError(e);
    }
  }

  static List<Map<String, Double>> overrides(double group0, double group1) {
    return List.of(Map.of("amsgrad", group0), Map.of("amsgrad", group1));
  }

  /**
   * At every fusion level the library's flag states are AdamW's and Adam's {@code max_exp_avg_sq} and RMSprop's
   * {@code grad_avg} (at statement and none a later kernel reads the stored select back under the flag's guard).
   * Their 8- and 4-bit versions' {@code max_exp_avg_sq} is one at fusion full only: at statement and none the
   * select is kept in a float32 temporary for later kernels (a quantized buffer is never read back as the value
   * computed), and the last kernel stores it whatever the flag.
   */
  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.EnumSource(Fusion.class)
  void theAnalysisFindsTheLibrarysFlagStatesAtEveryFusionLevel(Fusion fusion) throws CompileException {
    var found = new java.util.TreeMap<String, List<Guards.FlagState>>();
    for (var name : Library.NAMES) {
      var states = Guards.flagStates(Planner.plan(OptProgram.load(name).ir(), fusion));
      if (!states.isEmpty()) {
        found.put(name, states);
      }
    }
    var amsgrad = List.of(new Guards.FlagState("max_exp_avg_sq", "amsgrad", true));
    var want = new java.util.TreeMap<String, List<Guards.FlagState>>(Map.of("adam", amsgrad, "adamw", amsgrad,
        "rmsprop", List.of(new Guards.FlagState("grad_avg", "centered", true))));
    if (fusion == Fusion.FULL) {
      List.of("adam8bit", "adamw8bit", "adamw4bit").forEach(name -> want.put(name, amsgrad));
    }
    assertEquals(want, found);
    var plan = Planner.plan(adamw().ir(), Fusion.FULL);
    assertTrue(Guards.flagStates(plan).getFirst().neededAt(1));
    assertFalse(Guards.flagStates(plan).getFirst().neededAt(0));
    assertFalse(Guards.flagStates(plan).getFirst().neededAt(-0.0));
  }

  /** A state also read outside its flag's guard (here by a metric's reduction) is always allocated. */
  @Test
  void aStateReadUnguardedIsNotAFlagState() throws Exception {
    var p = Fixtures.compile("unguarded", """
        hyper on = false
        state m
        state v
        m = on ? max(m, g) : m
        v = 0.9 * v + g
        w -= 0.1 * (on ? m : v)
        metric m_norm = norm(m)
        """);
    var plan = Planner.plan(p.ir(), Fusion.FULL);
    assertEquals(List.of(), Guards.flagStates(plan));
    try (var opt = build(p, JavaBackend.reference(), SPECS, Fixtures.noOverrides(2), weights(new Random(1)))) {
      assertTrue(opt.stateAllocated("m"));
      assertEquals(2L * 4 * NUMEL, opt.stateBytes());
    }
  }

  /** The measured allocation: 8 bytes of float32 state per parameter with amsgrad off, 12 once it is on. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  void amsgradsStateTakesMemoryOnlyOnceItIsOn(Named b) {
    var backend = b.backend().get();
    try (var opt = build(adamw(), backend, b.fusion(), SPECS, Fixtures.noOverrides(2), weights(new Random(2)))) {
      assertFalse(opt.stateAllocated("max_exp_avg_sq"));
      assertTrue(opt.stateAllocated("exp_avg"));
      assertEquals(2L * b.elementBytes() * NUMEL, opt.stateBytes(), "bytes with amsgrad off");
      assertEquals(0, opt.engine().allocatedBytes("max_exp_avg_sq"));
      // Read while unallocated: the init value, what it would hold.
      assertSameBits(new float[37 * 5], opt.state("max_exp_avg_sq", "a"), "unallocated state");
      run(opt, grads(new Random(3), 3), 0, 3);
      assertFalse(opt.stateAllocated("max_exp_avg_sq"), "steps with amsgrad off allocate nothing");
      opt.setHyper(1, "amsgrad", 1);
      assertTrue(opt.stateAllocated("max_exp_avg_sq"), "on in one group: allocated for every tensor");
      assertEquals(3L * b.elementBytes() * NUMEL, opt.stateBytes(), "bytes with amsgrad on");
      assertSameBits(new float[4099], opt.state("max_exp_avg_sq", "c"), "zeroed when allocated");
      opt.setHyper(1, "amsgrad", 0);
      assertTrue(opt.stateAllocated("max_exp_avg_sq"), "once allocated, kept (its values with it)");
    }
    try (var opt = build(adamw(), backend, b.fusion(), SPECS, overrides(0, 1), weights(new Random(2)))) {
      assertTrue(opt.stateAllocated("max_exp_avg_sq"), "a group's override at build");
      assertEquals(3L * b.elementBytes() * NUMEL, opt.stateBytes());
    }
  }

  /**
   * amsgrad switched on after k steps (in one group, later in both): the bits of an optimizer built with it on
   * at step k, given the first one's weights and moments and a zeroed max_exp_avg_sq; on OpenCL also the Java
   * reference's bits of the same schedule.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  void switchingOnMidTrainingIsZeroInitializedThen(Named b) {
    // java64's states are float64 and read back as float32: copying them into a second optimizer rounds them.
    assumeTrue(b.elementBytes() == 4, "skipped for java64: its float64 states do not pass through float32 setState and "
        + "checkpoints bit for bit; the float32 backends are checked");
    var backend = b.backend().get();
    var r = new Random(4);
    var w0 = weights(r);
    var grads = grads(r, 12);
    int k = 5;
    try (var lazy = build(adamw(), backend, b.fusion(), SPECS, Fixtures.noOverrides(2), w0);
        var eager = build(adamw(), backend, b.fusion(), SPECS, List.of(Map.of(), Map.of("amsgrad", 1.0)), w0)) {
      run(lazy, grads, 0, k);
      assertFalse(lazy.stateAllocated("max_exp_avg_sq"));
      lazy.setHyper(1, "amsgrad", 1);
      // The eager one: amsgrad on in group 1 from step k, its max_exp_avg_sq zero then.
      copyInto(lazy, eager);
      run(lazy, grads, k, 8);
      run(eager, grads, k, 8);
      assertSameSnapshot(snapshot(eager), snapshot(lazy), b + ": group 1 switched on at step " + k);
      assertSameBits(new float[37 * 5], lazy.state("max_exp_avg_sq", "a"), "group 0's stays zero while off there");
      lazy.setHyper("amsgrad", 1);
      eager.setHyper("amsgrad", 1);
      run(lazy, grads, 8, 12);
      run(eager, grads, 8, 12);
      assertSameSnapshot(snapshot(eager), snapshot(lazy), b + ": both groups on from step 8");
      if (!b.name().startsWith("java")) {
        try (var reference = build(adamw(), JavaBackend.reference(), SPECS, Fixtures.noOverrides(2), w0)) {
          run(reference, grads, 0, k);
          reference.setHyper(1, "amsgrad", 1);
          run(reference, grads, k, 8);
          reference.setHyper("amsgrad", 1);
          run(reference, grads, 8, 12);
          assertSameSnapshot(snapshot(reference), snapshot(lazy), b + " against the Java reference");
        }
      }
    }
  }

  /**
   * Laziness changes memory, never values: the same schedule (amsgrad on in group 1 at step 3, in both at 7) on
   * AdamW and on a copy whose state a metric also reads (so it is allocated at build), bit for bit; with the
   * standard metrics (update_norm reads max_exp_avg_sq under amsgrad's guard) the same metric values too.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  void lazyAndEagerAllocationGiveTheSameBits(Named b) throws Exception {
    var backend = b.backend().get();
    var lazyProgram = adamw().withStandardMetrics();
    var eagerProgram = Fixtures.compile("adamw_eager", adamw().source().text()
        + "\nmetric max_maxabs = maxabs(max_exp_avg_sq)\n").withStandardMetrics();
    var r = new Random(8);
    var w0 = weights(r);
    var grads = grads(r, 12);
    try (var lazy = build(lazyProgram, backend, b.fusion(), SPECS, Fixtures.noOverrides(2), w0);
        var eager = build(eagerProgram, backend, b.fusion(), SPECS, Fixtures.noOverrides(2), w0)) {
      assertFalse(lazy.stateAllocated("max_exp_avg_sq"));
      assertTrue(eager.stateAllocated("max_exp_avg_sq"));
      var metrics = new HashMap<Optimizer, List<Optimizer.StepMetrics>>();
      for (var opt : List.of(lazy, eager)) {
        var seen = new ArrayList<Optimizer.StepMetrics>();
        opt.onMetrics(seen::add);
        metrics.put(opt, seen);
        run(opt, grads, 0, 3);
        assertEquals(opt == eager, opt.stateAllocated("max_exp_avg_sq"));
        opt.setHyper(1, "amsgrad", 1);
        run(opt, grads, 3, 7);
        opt.setHyper("amsgrad", 1);
        run(opt, grads, 7, 12);
      }
      assertSameBits(Fixtures.weights(eager), Fixtures.weights(lazy), b + ": weights");
      assertSameBits(Fixtures.states(eager), Fixtures.states(lazy), b + ": states");
      for (int k = 0; k < 12; k++) {
        for (var m : List.of("grad_norm", "weight_norm", "update_norm", "update_ratio", "effective_lr")) {
          var want = metrics.get(eager).get(k).values().get(m);
          var got = metrics.get(lazy).get(k).values().get(m);
          for (int i = 0; i < want.length; i++) {
            assertEquals(Double.doubleToLongBits(want[i]), Double.doubleToLongBits(got[i]),
                b + ": metric " + m + " of tensor " + i + " at step " + (k + 1) + ": " + want[i] + " vs " + got[i]);
          }
        }
      }
    }
  }

  /** The float64 interpreter agrees with the switched float32 trajectory as it does with any AdamW run. */
  @Test
  void switchedTrajectoryAgreesWithJava64() {
    var r = new Random(5);
    var w0 = weights(r);
    var grads = grads(r, 10);
    try (var f32 = build(adamw(), JavaBackend.reference(), SPECS, Fixtures.noOverrides(2), w0);
        var f64 = build(adamw(), new JavaBackend(JavaEmitter.Precision.F64, 1), SPECS, Fixtures.noOverrides(2), w0)) {
      for (var opt : List.of(f32, f64)) {
        run(opt, grads, 0, 4);
        opt.setHyper("amsgrad", 1);
        run(opt, grads, 4, 10);
      }
      for (var t : List.of("a", "b", "c")) {
        var want = f64.weights(t);
        var got = f32.weights(t);
        for (int i = 0; i < want.length; i++) {
          assertEquals(want[i], got[i], 1e-4 * Math.max(1, Math.abs(want[i])), t + "[" + i + "]");
        }
      }
    }
  }

  /**
   * Checkpoints: one written with the state unallocated holds its init (zeros) and restores into an optimizer
   * with amsgrad off (which stays unallocated) or on at build (the file's hypers win; the state is zeroed);
   * one written after amsgrad was on and off again allocates the state on restore. Each continues
   * bit-identically.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  void checkpointsRestoreWhetherOrNotTheStateHasMemory(Named b) {
    // A state file holds float32 states: java64's float64 ones do not survive it bit for bit.
    assumeTrue(b.elementBytes() == 4, "skipped for java64: its float64 states do not pass through float32 setState and "
        + "checkpoints bit for bit; the float32 backends are checked");
    var backend = b.backend().get();
    var r = new Random(6);
    var w0 = weights(r);
    var grads = grads(r, 12);
    var file = dir.resolve(b.name() + ".state");
    try (var original = build(adamw(), backend, b.fusion(), SPECS, Fixtures.noOverrides(2), w0)) {
      run(original, grads, 0, 4);
      original.save(file);
      for (var atBuild : List.of(overrides(0, 0), overrides(1, 1))) {
        try (var restored = build(adamw(), backend, b.fusion(), SPECS, atBuild, w0)) {
          copyWeights(original, restored);
          restored.restore(file);
          assertEquals(atBuild.getFirst().get("amsgrad") == 1, restored.stateAllocated("max_exp_avg_sq"),
              "restored with amsgrad " + atBuild + " at build");
          assertSameSnapshot(snapshot(original), snapshot(restored), "restored");
        }
      }
      run(original, grads, 4, 6);
      original.setHyper("amsgrad", 1);
      run(original, grads, 6, 9);
      original.setHyper("amsgrad", 0);
      original.save(file);
      try (var restored = build(adamw(), backend, b.fusion(), SPECS, Fixtures.noOverrides(2), w0)) {
        copyWeights(original, restored);
        restored.restore(file);
        assertTrue(restored.stateAllocated("max_exp_avg_sq"), "the file holds values besides the init");
        assertSameSnapshot(snapshot(original), snapshot(restored), "restored after on and off");
        for (var opt : List.of(original, restored)) {
          run(opt, grads, 9, 10);
          opt.setHyper("amsgrad", 1);
          run(opt, grads, 10, 12);
        }
        assertSameSnapshot(snapshot(original), snapshot(restored), "continued");
      }
    }
  }

  @Test
  void anUnallocatedStateHasNoArena() {
    try (var opt = build(adamw(), JavaBackend.reference(), SPECS, Fixtures.noOverrides(2), weights(new Random(7)))) {
      var e = assertThrows(OptcException.class, () -> opt.arena("max_exp_avg_sq"));
      assertTrue(e.getMessage().contains("amsgrad"), e.getMessage());
      opt.setHyper("amsgrad", 1);
      assertEquals(4L * NUMEL, opt.arena("max_exp_avg_sq").byteSize());
    }
  }

  /** An optimizer with {@code to}'s group hypers and t, given {@code from}'s weights and moments. */
  static void copyInto(Optimizer from, Optimizer to) {
    copyWeights(from, to);
    for (int i = 0; i < from.layout().tensors().size(); i++) {
      var name = from.layout().tensors().get(i).name();
      for (var s : List.of("exp_avg", "exp_avg_sq")) {
        to.setState(s, i, from.state(s, name));
      }
    }
    to.restoreStep(from.t());
  }

  static void copyWeights(Optimizer from, Optimizer to) {
    from.layout().tensors().forEach(t -> to.setWeights(t.name(), from.weights(t.name())));
  }

  static Map<String, float[]> weights(Random r) {
    var m = new HashMap<String, float[]>();
    SPECS.forEach(s -> m.put(s.name(), Fixtures.randomArray(r, s.numel(), 1f)));
    return m;
  }

  static List<Map<String, float[]>> grads(Random r, int steps) {
    var list = new ArrayList<Map<String, float[]>>();
    for (int k = 0; k < steps; k++) {
      var m = new HashMap<String, float[]>();
      // Shrinking gradients after step 6, so that max_exp_avg_sq keeps old maxima and amsgrad changes the steps.
      float scale = k < 6 ? 1f : 0.05f;
      SPECS.forEach(s -> m.put(s.name(), Fixtures.randomArray(r, s.numel(), scale)));
      list.add(m);
    }
    return list;
  }
}
