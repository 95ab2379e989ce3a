package dev.optc.runtime;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.java.JavaBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The zero-copy API on the Java backend: tensors bound by shape, viewed in place ({@link Optimizer#view}),
 * adopted from the caller ({@link Arenas#adopt}), against the copying API. Fresh random inputs each run (the
 * seed is in the failure message), odd shapes, adopted memory poisoned before the run, results read into
 * NaN-poisoned arrays.
 */
class ArenasTest {
  static final Backend JAVA = new JavaBackend(JavaEmitter.Precision.F32, 2);
  static final long[][] FIRST = {{0}, {1}, {7}, {13, 101}, {65_537}, {3, 1, 5}};
  static final long[][] SECOND = {{2, 3}, {1009}, {1, 1}};

  /**
   * Every library optimizer and test program, every fusion level: the zero-copy path (tensors bound by shape
   * in the caller's own memory, poisoned with NaN before the run, weights and gradients written and read
   * through the views) gives the copying path's bits (weights uploaded, {@code setGrad}, {@code weights()}).
   */
  @TestFactory
  Stream<DynamicTest> theZeroCopyPathGivesTheCopyingPathsBits() throws Exception {
    long seed = System.nanoTime();
    var programs = new ArrayList<OptProgram>();
    for (var name : Library.NAMES) {
      programs.add(OptProgram.load(name));
    }
    try (var files = Files.list(BackendComparison.GOLDEN)) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        programs.add(OptProgram.compile(SourceFile.of(f.getFileName().toString(), Files.readString(f)),
            Pipeline.Options.DEFAULT));
      }
    }
    var tests = new ArrayList<DynamicTest>();
    for (var program : programs) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(program.name() + " " + fusion.label(), () -> {
          var r = new Random(seed ^ program.name().hashCode());
          var groups = List.of(Conformance.tensors(r, FIRST, "a"), Conformance.tensors(r, SECOND, "b"));
          var names = program.ir().hypers().stream().map(h -> h.name()).toList();
          var hypers = List.of(Map.<String, Double>of(),
              names.contains("lr") ? Map.of("lr", 3e-3) : Map.<String, Double>of());
          var copying = Conformance.run(program, JAVA, fusion, groups, hypers, 7, seed);
          var viewed = runThroughViews(program, fusion, groups, hypers, 7, seed);
          assertBits(copying, viewed, program.name() + " " + fusion.label() + " (seed " + seed + ")");
        }));
      }
    }
    return tests.stream();
  }

  /**
   * {@link Conformance#run}'s steps (the same gradients, drawn in the same order) through the zero-copy API:
   * w and g adopted from caller memory that is NaN before the tensors are written into it.
   */
  static float[][] runThroughViews(OptProgram program, Fusion fusion, List<List<Optimizer.Tensor>> groups,
      List<Map<String, Double>> hypers, int steps, long seed) {
    var all = groups.stream().flatMap(List::stream).toList();
    long numel = all.stream().mapToLong(t -> t.weights().length).sum();
    try (var caller = Arena.ofShared()) {
      var w = caller.allocate(4 * numel + 64, 64);
      var g = caller.allocate(4 * numel + 64, 64);
      w.fill((byte) 0xff);
      g.fill((byte) 0xff);
      var builder = Optimizer.builder(program).backend(JAVA).fusion(fusion).adopt("w", w).adopt("g", g);
      for (int k = 0; k < groups.size(); k++) {
        builder.params(hypers.get(k), groups.get(k).stream().map(t -> new Optimizer.Param(t.name(), t.shape())).toList());
      }
      try (var opt = builder.build()) {
        for (var t : all) {
          MemorySegment.copy(t.weights(), 0, opt.view(t.name()).weights(), JAVA_FLOAT, 0, t.weights().length);
        }
        var r = new Random(seed);
        for (int step = 0; step < steps; step++) {
          for (var t : all) {
            var view = opt.view(t.name()).grad();
            for (int k = 0; k < t.weights().length; k++) {
              view.setAtIndex(JAVA_FLOAT, k, r.nextInt(16) == 0 ? 0f : (float) (r.nextGaussian() * Math.exp(r.nextGaussian())));
            }
            Conformance.supplyInputs(opt, t.name(), t.weights().length, r);
          }
          opt.step();
        }
        var out = new ArrayList<float[]>();
        for (var t : all) {
          out.add(opt.view(t.name()).weights().toArray(JAVA_FLOAT));
          for (var s : program.ir().states()) {
            out.add(opt.state(s.name(), t.name()));
          }
        }
        assertTrue(Float.isNaN(w.getAtIndex(JAVA_FLOAT, numel)), "nothing is written past the tensors");
        return out.toArray(float[][]::new);
      }
    }
  }

  /**
   * The zero-copy loop: weights and gradients written and read only through the views of engine-allocated
   * native arenas, and the same bits as the copying API.
   */
  @Test
  void aStepThroughTheViewsIsTheCopyingStep() throws Exception {
    long seed = System.nanoTime();
    var program = OptProgram.load("adamw");
    var r = new Random(seed);
    var shapes = new long[][] {{33, 7}, {1}, {1031}, {2, 3, 4}};
    var tensors = Conformance.tensors(r, shapes, "p");
    var grads = new ArrayList<float[][]>();
    for (int step = 0; step < 5; step++) {
      var g = new float[tensors.size()][];
      for (int t = 0; t < g.length; t++) {
        g[t] = Conformance.tensors(r, new long[][] {shapes[t]}, "g").getFirst().weights();
      }
      grads.add(g);
    }
    var hypers = Map.of("weight_decay", 0.1);
    var want = new ArrayList<float[]>();
    try (var opt = Optimizer.builder(program).group(hypers, tensors).build()) {
      for (var g : grads) {
        for (int t = 0; t < g.length; t++) {
          opt.setGrad(tensors.get(t).name(), g[t]);
        }
        opt.step();
      }
      tensors.forEach(t -> want.add(opt.weights(t.name())));
    }
    var params = tensors.stream().map(t -> new Optimizer.Param(t.name(), t.shape())).toList();
    try (var opt = Optimizer.builder(program).arenas(Arenas.NATIVE).params(hypers, params).build()) {
      var views = opt.views();
      long offset = 0;
      for (int t = 0; t < views.size(); t++) {
        var v = views.get(t);
        assertEquals(offset, v.offset(), "tensors lie in bind order without gaps");
        assertArrayEquals(shapes[t], v.shape());
        assertEquals(opt.arena("w").address() + 4 * offset, v.weightsAddress());
        assertEquals(opt.arena("g").address() + 4 * offset, v.gradAddress());
        MemorySegment.copy(tensors.get(t).weights(), 0, v.weights(), JAVA_FLOAT, 0, tensors.get(t).weights().length);
        offset += v.numel();
      }
      for (var g : grads) {
        for (int t = 0; t < g.length; t++) {
          MemorySegment.copy(g[t], 0, views.get(t).grad(), JAVA_FLOAT, 0, g[t].length);
        }
        opt.step();
      }
      for (int t = 0; t < views.size(); t++) {
        var got = views.get(t).weights().toArray(JAVA_FLOAT);
        assertBits(new float[][] {want.get(t)}, new float[][] {got}, "tensor " + t + " (seed " + seed + ")");
        // The copying API reads the same memory.
        assertArrayEquals(got, opt.weights(tensors.get(t).name()));
      }
      // And a write through a view is what the next read sees, both ways.
      views.get(2).weights().setAtIndex(JAVA_FLOAT, 5, 42f);
      assertEquals(42f, opt.weights("p2")[5]);
      opt.setGrad("p1", new float[] {-3f});
      assertEquals(-3f, views.get(1).grad().getAtIndex(JAVA_FLOAT, 0));
    }
  }

  /** A caller's own memory as the weight and gradient arenas: used in place, never freed by optc. */
  @Test
  void adoptedArenasAreUsedInPlaceAndStayTheCallers() throws Exception {
    long seed = System.nanoTime();
    var program = OptProgram.load("lion");
    var r = new Random(seed);
    var tensors = Conformance.tensors(r, new long[][] {{5, 5}, {17}}, "p");
    var grad = Conformance.tensors(r, new long[][] {{42}}, "g").getFirst().weights();
    float[] want;
    try (var opt = Optimizer.builder(program).group(Map.of(), tensors).build()) {
      opt.setGrad("p0", Arrays.copyOfRange(grad, 0, 25));
      opt.setGrad("p1", Arrays.copyOfRange(grad, 25, 42));
      opt.step();
      want = opt.weights("p1");
    }
    try (var caller = Arena.ofShared()) {
      // Larger than needed, and poisoned past the tensors: optc must touch neither the rest nor free it.
      var w = caller.allocate(4 * 50, 64);
      var g = caller.allocate(4 * 50, 64);
      w.fill((byte) 0xff);
      MemorySegment.copy(tensors.get(0).weights(), 0, w, JAVA_FLOAT, 0, 25);
      MemorySegment.copy(tensors.get(1).weights(), 0, w, JAVA_FLOAT, 4 * 25, 17);
      MemorySegment.copy(grad, 0, g, JAVA_FLOAT, 0, 42);
      var params = tensors.stream().map(t -> new Optimizer.Param(t.name(), t.shape())).toList();
      try (var opt = Optimizer.builder(program).adopt("w", w).adopt("g", g).params(Map.of(), params).build()) {
        assertEquals(w.address(), opt.arena("w").address());
        assertEquals(w.address() + 4 * 25, opt.view("p1").weightsAddress());
        opt.step();
      }
      var got = w.asSlice(4 * 25, 4 * 17).toArray(JAVA_FLOAT);
      assertBits(new float[][] {want}, new float[][] {got}, "the adopted weights (seed " + seed + ")");
      assertTrue(Float.isNaN(w.getAtIndex(JAVA_FLOAT, 42)), "nothing past the tensors is written");
      assertArrayEquals(grad, g.asSlice(0, 4 * 42).toArray(JAVA_FLOAT), "the gradients are only read");
    }
  }

  @Test
  void nativeArenasStartStaggeredAndDieWithTheOptimizer() throws Exception {
    var program = OptProgram.load("adamw");
    var params = List.of(new Optimizer.Param("p", 100_000));
    TensorView view;
    try (var opt = Optimizer.builder(program).arenas(Arenas.NATIVE).params(Map.of(), params).build()) {
      var order = List.of("w", "g", "exp_avg", "exp_avg_sq", "max_exp_avg_sq");
      // max_exp_avg_sq has memory once amsgrad is on (allocated then, at its own staggered position).
      opt.setHyper("amsgrad", 1);
      var starts = new ArrayList<Long>();
      for (int k = 0; k < order.size(); k++) {
        long start = opt.arena(order.get(k)).address() % 4096;
        assertEquals(HostMemory.stagger(k, Float.BYTES) % 4096, start, order.get(k) + " starts staggered");
        starts.add(start);
      }
      assertEquals(order.size(), starts.stream().distinct().count());
      view = opt.view("p");
      view.grad().setAtIndex(JAVA_FLOAT, 0, 1f);
    }
    var closed = view;
    assertThrows(IllegalStateException.class, () -> closed.weights().getAtIndex(JAVA_FLOAT, 0),
        "a view of a closed optimizer's arena must not read freed memory");
  }

  /** The float32 Java engine's own arenas are native memory: views without asking for native arenas. */
  @Test
  void theJavaEnginesOwnArenasAreViewable() throws Exception {
    var program = OptProgram.load("sgd");
    var tensors = List.of(new Optimizer.Tensor("p", new long[] {3}, new float[] {1, 2, 3}));
    try (var opt = Optimizer.builder(program).group(Map.of(), tensors).build()) {
      var view = opt.view("p");
      assertArrayEquals(new float[] {1, 2, 3}, view.weights().toArray(JAVA_FLOAT));
      assertTrue(view.weights().isNative());
      assertEquals(view.weightArena().address(), view.weightsAddress());
    }
  }

  @Test
  void badArenasAreOneLineErrors() throws Exception {
    var program = OptProgram.load("adam");
    var params = List.of(new Optimizer.Param("p", 10));
    var java64 = new JavaBackend(JavaEmitter.Precision.F64, 1);
    var e = assertThrows(OptcException.class, () -> Optimizer.builder(program).backend(java64)
        .arenas(Arenas.NATIVE).params(Map.of(), params).build());
    assertTrue(e.getMessage().contains("java64"), e.getMessage());
    try (var java64opt = Optimizer.builder(program).backend(java64).params(Map.of(), params).build()) {
      e = assertThrows(OptcException.class, () -> java64opt.view("p"));
      assertTrue(e.getMessage().contains("not host memory"), e.getMessage());
    }
    try (var shared = Arena.ofShared(); var confined = Arena.ofConfined()) {
      assertMessage("on the Java heap", () -> Arenas.NATIVE.adopt("w", MemorySegment.ofArray(new float[10])));
      assertMessage("confined", () -> Arenas.NATIVE.adopt("w", confined.allocate(40, 64)));
      assertMessage("4-byte", () -> Arenas.NATIVE.adopt("g", shared.allocate(44, 64).asSlice(2, 40)));
      assertMessage("only the arenas of w and g", () -> Arenas.NATIVE.adopt("exp_avg", shared.allocate(40, 64)));
      assertMessage("adopted twice", () -> Arenas.NATIVE.adopt("w", shared.allocate(40)).adopt("w", shared.allocate(40)));
      var small = shared.allocate(36, 64);
      assertMessage("the tensors need 40", () -> Optimizer.builder(program).adopt("g", small).params(Map.of(), params)
          .build());
      assertMessage("give Arenas.NATIVE", () -> Optimizer.builder(program).adopt("g", shared.allocate(40, 64))
          .arenas(Arenas.BACKEND));
    }
  }

  /** State files move between optimizers of either arena kind: a run continued from one gives the same bits. */
  @Test
  void checkpointsWorkAcrossArenaKinds(@TempDir Path dir) throws Exception {
    long seed = System.nanoTime();
    var program = OptProgram.load("nadam");
    var r = new Random(seed);
    var tensors = Conformance.tensors(r, new long[][] {{19, 3}, {101}}, "p");
    var grads = new ArrayList<float[][]>();
    for (int step = 0; step < 6; step++) {
      grads.add(new float[][] {
          Conformance.tensors(r, new long[][] {{57}}, "g").getFirst().weights(),
          Conformance.tensors(r, new long[][] {{101}}, "g").getFirst().weights()});
    }
    float[][] want;
    try (var opt = Optimizer.builder(program).group(Map.of(), tensors).build()) {
      steps(opt, grads.subList(0, 6));
      want = new float[][] {opt.weights("p0"), opt.weights("p1"), opt.state("exp_avg_sq", "p1")};
    }
    var file = dir.resolve("opt.state");
    float[][] halfway;
    try (var opt = Optimizer.builder(program).arenas(Arenas.NATIVE).group(Map.of(), tensors).build()) {
      steps(opt, grads.subList(0, 3));
      opt.save(file);
      halfway = new float[][] {opt.weights("p0"), opt.weights("p1")};
    }
    for (var arenas : List.of(Arenas.BACKEND, Arenas.NATIVE)) {
      var resumed = List.of(new Optimizer.Tensor("p0", new long[] {19, 3}, halfway[0]),
          new Optimizer.Tensor("p1", new long[] {101}, halfway[1]));
      try (var opt = Optimizer.builder(program).arenas(arenas).group(Map.of(), resumed).build()) {
        opt.restore(file);
        steps(opt, grads.subList(3, 6));
        assertBits(want, new float[][] {opt.weights("p0"), opt.weights("p1"), opt.state("exp_avg_sq", "p1")},
            "resumed on " + arenas.kind() + " arenas (seed " + seed + ")");
      }
    }
  }

  private static void steps(Optimizer opt, List<float[][]> grads) {
    for (var g : grads) {
      opt.setGrad("p0", g[0]);
      opt.setGrad("p1", g[1]);
      opt.step();
    }
  }

  private static void assertMessage(String part, org.junit.jupiter.api.function.Executable call) {
    var e = assertThrows(OptcException.class, call);
    assertTrue(e.getMessage().contains(part), "expected '" + part + "' in: " + e.getMessage());
  }

  /** Bit for bit, NaN payloads included. */
  static void assertBits(float[][] want, float[][] got, String what) {
    assertEquals(want.length, got.length, what);
    for (int b = 0; b < want.length; b++) {
      assertEquals(want[b].length, got[b].length, what + ": buffer " + b);
      for (int i = 0; i < want[b].length; i++) {
        if (Float.floatToRawIntBits(want[b][i]) != Float.floatToRawIntBits(got[b][i])) {
          fail(what + ": buffer " + b + " [" + i + "]: want " + want[b][i] + ", got " + got[b][i]);
        }
      }
    }
  }
}
