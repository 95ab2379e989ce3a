package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.ClDevice;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Groups stepped by different programs in one optimizer ({@link MultiProgram}): every step gives the bits of one
 * optimizer per program over that program's groups, on the Java backend (its own arenas and native ones) and
 * OpenCL on a CPU device; one weight and one gradient arena; hypers per program; metrics; one checkpoint and its
 * one-line errors. Fresh random inputs each run, the seed in the failure message.
 */
class MultiProgramTest {
  static final Backend JAVA = new JavaBackend(JavaEmitter.Precision.F32, 2);
  static final OptProgram LION = load("lion");
  static final OptProgram ADAMW = load("adamw");
  static final OptProgram SGD = load("sgd");

  static OptProgram load(String name) {
    try {
      return OptProgram.load(name);
    } catch (dev.optc.compiler.diag.CompileException e) {
      throw new IllegalStateException(e);
    }
  }

  @TempDir
  Path dir;

  record Group(OptProgram program, Map<String, Double> hypers, List<Optimizer.Tensor> tensors) {}

  /** lion, adamw, lion again with its own lr: programs interleaved, odd shapes, an empty tensor. */
  static List<Group> groups(Random r) {
    return List.of(
        new Group(LION, Map.of(), Conformance.tensors(r, new long[][] {{13, 101}, {0}, {7}}, "a")),
        new Group(ADAMW, Map.of("weight_decay", 0.1), Conformance.tensors(r, new long[][] {{1009}, {3, 5}}, "b")),
        new Group(LION, Map.of("lr", 3e-3), Conformance.tensors(r, new long[][] {{2, 3, 4}}, "c")));
  }

  static Optimizer multi(Backend backend, Arenas arenas, List<Group> groups) {
    var b = Optimizer.builder(groups.getFirst().program()).backend(backend).arenas(arenas);
    groups.forEach(g -> b.group(g.program(), g.hypers(), g.tensors()));
    return b.build();
  }

  /** One optimizer per program over that program's groups, in order. */
  static Map<String, Optimizer> alone(Backend backend, List<Group> groups) {
    var builders = new LinkedHashMap<String, Optimizer.Builder>();
    for (var g : groups) {
      builders.computeIfAbsent(g.program().name(), n -> Optimizer.builder(g.program()).backend(backend))
          .group(g.hypers(), g.tensors());
    }
    var result = new LinkedHashMap<String, Optimizer>();
    builders.forEach((n, b) -> result.put(n, b.build()));
    return result;
  }

  static Map<String, OptProgram> programOf(List<Group> groups) {
    var m = new LinkedHashMap<String, OptProgram>();
    groups.forEach(g -> g.tensors().forEach(t -> m.put(t.name(), g.program())));
    return m;
  }

  /**
   * {@code steps} steps of both with the same gradients, the multi-program one's written through its views when
   * {@code viaViews}; then every weight and state compared bit for bit.
   */
  static void stepAndCompare(Optimizer multi, Map<String, Optimizer> alone, List<Group> groups, int steps, long seed,
      boolean viaViews) {
    var r = new Random(seed);
    var programs = programOf(groups);
    for (int s = 0; s < steps; s++) {
      for (var e : programs.entrySet()) {
        var n = groups.stream().flatMap(g -> g.tensors().stream()).filter(t -> t.name().equals(e.getKey()))
            .mapToInt(t -> MatrixView.of(t.shape()).numel()).sum();
        var grad = new float[n];
        for (int k = 0; k < n; k++) {
          grad[k] = (float) r.nextGaussian();
        }
        if (viaViews) {
          MemorySegment.copy(grad, 0, multi.view(e.getKey()).grad(), ValueLayout.JAVA_FLOAT, 0, n);
        } else {
          multi.setGrad(e.getKey(), grad);
        }
        alone.get(e.getValue().name()).setGrad(e.getKey(), grad);
      }
      multi.step();
      alone.values().forEach(Optimizer::step);
    }
    assertSame(multi, alone, groups, "seed " + seed);
  }

  static void assertSame(Optimizer multi, Map<String, Optimizer> alone, List<Group> groups, String why) {
    for (var e : programOf(groups).entrySet()) {
      var one = alone.get(e.getValue().name());
      assertEquals(one.t(), multi.t());
      assertArrayEquals(one.weights(e.getKey()), multi.weights(e.getKey()), why + ": weights of " + e.getKey());
      for (var s : e.getValue().ir().states()) {
        assertArrayEquals(one.state(s.name(), e.getKey()), multi.state(s.name(), e.getKey()),
            why + ": " + s.name() + " of " + e.getKey());
      }
    }
  }

  static void closeAll(Map<String, Optimizer> alone) {
    alone.values().forEach(Optimizer::close);
  }

  @Test
  void everyGroupStepsAsItsProgramAloneWouldBitForBit() {
    long seed = System.nanoTime();
    var groups = groups(new Random(seed));
    for (var arenas : List.of(Arenas.BACKEND, Arenas.NATIVE)) {
      var alone = alone(JAVA, groups);
      try (var opt = multi(JAVA, arenas, groups)) {
        assertEquals(List.of("lion", "adamw"), opt.programs().stream().map(OptProgram::name).toList());
        assertEquals(3, opt.groups());
        assertEquals("adamw", opt.program(1).name());
        assertEquals("lion", opt.program(2).name());
        stepAndCompare(opt, alone, groups, 7, seed, arenas == Arenas.NATIVE);
        assertEquals(7, opt.t());
      } finally {
        closeAll(alone);
      }
    }
  }

  @Test
  void nativeArenasAreOneWeightAndOneGradientBuffer() {
    var groups = groups(new Random(1));
    try (var opt = multi(JAVA, Arenas.NATIVE, groups)) {
      var w = opt.arena("w");
      var g = opt.arena("g");
      var programs = programOf(groups);
      for (var v : opt.views()) {
        assertEquals(w.address(), v.weightArena().address(), v.name());
        assertEquals(g.address(), v.gradArena().address(), v.name());
        assertArrayEquals(opt.weights(v.name()), v.weights().toArray(ValueLayout.JAVA_FLOAT), v.name());
      }
      // lion's tensors first, in bind order without gaps; adamw's from the next multiple of 1,024 floats.
      assertEquals(0, opt.view("a0").offset());
      assertEquals(13 * 101, opt.view("a2").offset());
      assertEquals(13 * 101 + 7, opt.view("c0").offset());
      assertEquals(MultiProgram.PART_ALIGN * 2, opt.view("b0").offset());
      assertEquals(programs.keySet().stream().toList(), opt.views().stream().map(TensorView::name).toList());
      var e = assertThrows(OptcException.class, () -> opt.arena("exp_avg"));
      assertTrue(e.getMessage().contains("lion + adamw"), e.getMessage());
      assertThrows(OptcException.class, opt::program);
      assertThrows(OptcException.class, opt::layout);
      assertThrows(OptcException.class, opt::engine);
      assertTrue(opt.engine(0) == opt.engine(2) && opt.engine(0) != opt.engine(1));
    }
    try (var opt = multi(JAVA, Arenas.BACKEND, groups)) {
      var e = assertThrows(OptcException.class, () -> opt.arena("w"));
      assertTrue(e.getMessage().contains("Arenas.NATIVE"), e.getMessage());
    }
  }

  @Test
  void adoptedArenasHoldEveryProgramsTensors() {
    long seed = System.nanoTime();
    var groups = groups(new Random(seed));
    try (var arena = Arena.ofShared()) {
      long floats = 2 * MultiProgram.PART_ALIGN + 1009 + 15;
      var w = arena.allocate(4 * floats, 4096);
      var g = arena.allocate(4 * floats, 4096);
      var alone = alone(JAVA, groups);
      try (var opt = multi(JAVA, Arenas.NATIVE.adopt("w", w).adopt("g", g), groups)) {
        assertEquals(w.address(), opt.arena("w").address());
        assertEquals(w.address() + 4L * opt.view("b1").offset(), opt.view("b1").weightsAddress());
        stepAndCompare(opt, alone, groups, 3, seed, true);
      } finally {
        closeAll(alone);
      }
      var small = arena.allocate(4 * (floats - 1), 64);
      var e = assertThrows(OptcException.class, () -> multi(JAVA, Arenas.NATIVE.adopt("w", small), groups));
      assertTrue(e.getMessage().contains("multiple of 1024 floats"), e.getMessage());
    }
  }

  @Test
  void openClOnACpuDeviceStepsAsEachProgramAlone() {
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var listed = OpenClBackend.devices().stream().filter(l -> l.deviceInfo().type() == ClDevice.Type.CPU)
        .findFirst();
    Assumptions.assumeTrue(listed.isPresent(), "no OpenCL CPU device");
    var cpu = OpenClBackend.of(listed.get().deviceInfo());
    long seed = System.nanoTime();
    var groups = groups(new Random(seed));
    for (var arenas : List.of(Arenas.BACKEND, Arenas.NATIVE)) {
      var alone = alone(cpu, groups);
      try (var opt = multi(cpu, arenas, groups)) {
        stepAndCompare(opt, alone, groups, 5, seed, arenas == Arenas.NATIVE);
      } finally {
        closeAll(alone);
      }
    }
  }

  @Test
  void hypersArePerProgram() {
    var r = new Random(2);
    var groups = List.of(new Group(SGD, Map.of("momentum", 0.9), Conformance.tensors(r, new long[][] {{5, 4}}, "m")),
        new Group(ADAMW, Map.of(), Conformance.tensors(r, new long[][] {{4}}, "v")));
    try (var opt = multi(JAVA, Arenas.BACKEND, groups)) {
      opt.setHyper("lr", 0.5);
      assertEquals(0.5, opt.hyper(0, "lr"));
      assertEquals(0.5, opt.hyper(1, "lr"));
      opt.setHyper("adamw:lr", 1e-3);
      assertEquals(0.5, opt.hyper(0, "lr"));
      assertEquals(1e-3, opt.hyper(1, "adamw:lr"));
      // A hyper only one program has is set there.
      opt.setHyper("momentum", 0.8);
      assertEquals(0.8, opt.hyper(0, "momentum"));
      opt.setHyper(0, "sgd:dampening", 0.1);
      assertEquals(Map.of("momentum", 0.8, "lr", 0.5, "dampening", 0.1), opt.hyperOverrides(0));
      assertEquals(Map.of("lr", 1e-3), opt.hyperOverrides(1));
      var e = assertThrows(OptcException.class, () -> opt.setHyper("beta3", 1));
      assertEquals("unknown hyper 'beta3': none of sgd + adamw has it (sgd: lr, momentum, dampening, weight_decay, "
          + "nesterov, maximize; adamw: lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)", e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.setHyper("lion:lr", 1));
      assertEquals("hyper 'lion:lr': no program 'lion' in this optimizer (its programs: sgd + adamw)", e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.setHyper("adamw:momentum", 1));
      assertTrue(e.getMessage().startsWith("unknown hyper 'momentum' for adamw"), e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.setHyper(1, "sgd:lr", 1));
      assertEquals("hyper 'sgd:lr': group 1 is stepped by adamw, not sgd", e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.setHyper(1, "momentum", 1));
      assertTrue(e.getMessage().startsWith("unknown hyper 'momentum' for adamw"), e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.hyper(2, "lr"));
      assertEquals("no parameter group 2 (there are 2)", e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.setHyper("lr", Double.NaN));
      assertTrue(e.getMessage().contains("finite"), e.getMessage());
    }
  }

  @Test
  void schedulesAndInputErrorsLeaveEveryProgramAtTheSameStep() {
    long seed = System.nanoTime();
    var groups = groups(new Random(seed));
    var alone = alone(JAVA, groups);
    try (var opt = multi(JAVA, Arenas.BACKEND, groups)) {
      opt.schedule("adamw:lr", 1e-2, s -> 1.0 / s);
      opt.schedule("beta1", 0.9, s -> s > 4 ? 0.5 : 1);
      alone.get("adamw").schedule("lr", 1e-2, s -> 1.0 / s);
      alone.values().forEach(o -> o.schedule("beta1", 0.9, s -> s > 4 ? 0.5 : 1));
      stepAndCompare(opt, alone, groups, 6, seed, false);
      // adamw's schedule fails at step 7 after lion's part began: neither part's t moves.
      opt.schedule("adamw:lr", 1, s -> s == 7 ? Double.NaN : 1);
      var e = assertThrows(OptcException.class, opt::step);
      assertTrue(e.getMessage().contains("gives NaN at step 7"), e.getMessage());
      assertEquals(6, opt.t());
      // The failed step changed nothing that the next one would see: both go on as the programs alone.
      opt.schedule("adamw:lr", 1e-2, s -> 1.0 / s);
      stepAndCompare(opt, alone, groups, 2, seed + 1, false);
      assertEquals(8, opt.t());
      // An input never supplied fails before any part runs.
      var e2 = assertThrows(OptcException.class, () -> opt.setInput("h", "a0", new float[0]));
      assertTrue(e2.getMessage().startsWith("no input 'h' in lion"), e2.getMessage());
    } finally {
      closeAll(alone);
    }
  }

  @Test
  void metricsOfEveryProgramInOneReport() {
    var r = new Random(3);
    var clip = load("adamw_clip");
    var lamb = load("lamb");
    var groups = List.of(new Group(clip, Map.of(), Conformance.tensors(r, new long[][] {{6, 5}, {3}}, "x")),
        new Group(lamb, Map.of(), Conformance.tensors(r, new long[][] {{4, 4}}, "y")));
    var alone = alone(JAVA, groups);
    var got = new ArrayList<Optimizer.StepMetrics>();
    var want = new LinkedHashMap<String, Optimizer.StepMetrics>();
    alone.forEach((n, o) -> o.onMetrics(m -> want.put(n, m)));
    try (var opt = multi(JAVA, Arenas.BACKEND, groups)) {
      opt.onMetrics(got::add);
      stepAndCompare(opt, alone, groups, 2, 3, false);
      assertEquals(2, got.size());
      var m = got.getLast();
      assertEquals(2, m.t());
      assertEquals(List.of("x0", "x1", "y0"), m.tensors());
      assertEquals(List.of("grad_norm", "trust_ratio"), List.copyOf(m.values().keySet()));
      var clipped = want.get("adamw_clip").values().get("grad_norm");
      assertArrayEquals(new double[] {clipped[0], clipped[1], Double.NaN}, m.values().get("grad_norm"));
      var trust = want.get("lamb").values().get("trust_ratio");
      assertArrayEquals(new double[] {Double.NaN, Double.NaN, trust[0]}, m.values().get("trust_ratio"));
    } finally {
      closeAll(alone);
    }
  }

  @Test
  void oneCheckpointRestoresEveryProgram() {
    long seed = System.nanoTime();
    var groups = groups(new Random(seed));
    var file = dir.resolve("multi.state");
    var alone = alone(JAVA, groups);
    try (var opt = multi(JAVA, Arenas.NATIVE, groups)) {
      stepAndCompare(opt, alone, groups, 4, seed, false);
      opt.setHyper(1, "lr", 2e-3);
      opt.setHyper("lion:beta2", 0.95);
      opt.save(file);
      // A fresh optimizer with the same weights, restored, goes on as the one that saved.
      var fresh = new ArrayList<Group>();
      for (var g : groups) {
        var ts = g.tensors().stream().map(t -> new Optimizer.Tensor(t.name(), t.shape(), opt.weights(t.name())))
            .toList();
        fresh.add(new Group(g.program(), g.hypers(), ts));
      }
      try (var restored = multi(JAVA, Arenas.BACKEND, fresh)) {
        restored.restore(file);
        assertEquals(4, restored.t());
        assertEquals(2e-3, restored.hyper(1, "lr"));
        assertEquals(0.95, restored.hyper(2, "beta2"));
        alone.get("adamw").setHyper(0, "lr", 2e-3);
        alone.get("lion").setHyper("beta2", 0.95);
        stepAndCompare(restored, alone, groups, 3, seed + 1, false);
      }
    } finally {
      closeAll(alone);
    }
  }

  @Test
  void aCheckpointOfOtherProgramsIsRefusedInOneLine() throws Exception {
    var r = new Random(4);
    var a = Conformance.tensors(r, new long[][] {{4, 3}}, "a");
    var b = Conformance.tensors(r, new long[][] {{5}}, "b");
    var multiFile = dir.resolve("multi.state");
    var singleFile = dir.resolve("single.state");
    try (var opt = multi(JAVA, Arenas.BACKEND, List.of(new Group(LION, Map.of(), a), new Group(ADAMW, Map.of(), b)))) {
      opt.step();
      opt.save(multiFile);
    }
    try (var opt = Optimizer.builder(ADAMW).group(Map.of(), a).group(Map.of(), b).build()) {
      opt.save(singleFile);
      var e = assertThrows(OptcException.class, () -> opt.restore(multiFile));
      assertEquals(multiFile + ": written by lion (group 0) + adamw (group 1); this optimizer runs adamw alone; "
          + "restore it into an optimizer with the same program for each group", e.getMessage());
    }
    try (var opt = multi(JAVA, Arenas.BACKEND, List.of(new Group(SGD, Map.of(), a), new Group(ADAMW, Map.of(), b)))) {
      var e = assertThrows(OptcException.class, () -> opt.restore(multiFile));
      assertEquals(multiFile + ": written by lion (group 0) + adamw (group 1); this optimizer runs sgd (group 0) + "
          + "adamw (group 1); restore it into an optimizer with the same program for each group", e.getMessage());
      e = assertThrows(OptcException.class, () -> opt.restore(singleFile));
      assertEquals(singleFile + ": written by adamw, one program for every group; this optimizer runs sgd (group 0) "
          + "+ adamw (group 1); restore it into an optimizer with the same program for each group", e.getMessage());
      assertEquals(0, opt.t());
    }
    try (var opt = multi(JAVA, Arenas.BACKEND, List.of(new Group(ADAMW, Map.of(), b), new Group(LION, Map.of(), a)))) {
      var e = assertThrows(OptcException.class, () -> opt.restore(multiFile));
      assertTrue(e.getMessage().contains("this optimizer runs adamw (group 0) + lion (group 1)"), e.getMessage());
    }
    var edited = OptProgram.compile(SourceFile.of("lion.opt", "optimizer lion\nhyper lr = 1e-4\nw -= lr * sign(g)\n"),
        Pipeline.Options.DEFAULT);
    try (var opt = multi(JAVA, Arenas.BACKEND, List.of(new Group(edited, Map.of(), a), new Group(ADAMW, Map.of(), b)))) {
      var e = assertThrows(OptcException.class, () -> opt.restore(multiFile));
      assertTrue(e.getMessage().endsWith("adamw (group 1) from a different source; restore it into an optimizer with "
          + "the same program for each group"), e.getMessage());
    }
  }

  @Test
  void buildErrorsAndOneProgramStaysOneOptimizer() throws Exception {
    var r = new Random(5);
    var a = Conformance.tensors(r, new long[][] {{4, 3}}, "a");
    var e = assertThrows(OptcException.class, () -> Optimizer.builder(LION).group(Map.of(), a)
        .group(ADAMW, Map.of(), a).build());
    assertEquals("two tensors are named 'a0'; tensor names must be unique", e.getMessage());
    var other = OptProgram.compile(SourceFile.of("x.opt", "optimizer lion\nhyper lr = 1\nw -= lr * g\n"),
        Pipeline.Options.DEFAULT);
    e = assertThrows(OptcException.class, () -> Optimizer.builder(LION).group(Map.of(), a)
        .group(other, Map.of(), Conformance.tensors(r, new long[][] {{2}}, "b")).build());
    assertTrue(e.getMessage().startsWith("two different programs are named 'lion' (groups 0 and 1)"), e.getMessage());
    e = assertThrows(OptcException.class, () -> Optimizer.builder(LION).group(ADAMW, Map.of("momentum", 1.0), a));
    assertTrue(e.getMessage().startsWith("unknown hyper 'momentum' for adamw"), e.getMessage());
    e = assertThrows(OptcException.class, () -> Optimizer.builder(LION).group(Map.of(), a)
        .group(ADAMW, Map.of(), Conformance.tensors(r, new long[][] {{2}}, "b")).unquantized(List.of("zz")).build());
    assertEquals("no tensor named 'zz' to keep unquantized", e.getMessage());
    // Every group naming the same program: the one-program optimizer, whatever the builder's program.
    try (var opt = Optimizer.builder(LION).group(ADAMW, Map.of(), a).build()) {
      assertEquals("adamw", opt.program().name());
      assertNotNull(opt.layout());
      assertEquals(List.of(ADAMW), opt.programs());
    }
    try (var opt = Optimizer.builder(LION).group(LION, Map.of(), a).build()) {
      assertEquals("lion", opt.program(0).name());
      assertFalse(opt.programs().isEmpty());
    }
  }
}
