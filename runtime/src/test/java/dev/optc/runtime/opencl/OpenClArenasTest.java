package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Conformance;
import dev.optc.runtime.Library;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.java.JavaBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Native arenas on an OpenCL CPU device: the kernels run on the host memory of {@code w} and {@code g}
 * in place ({@code CL_MEM_USE_HOST_PTR}), the same memory a framework views; results as the Java
 * reference's (fresh random inputs, odd shapes, poisoned reads). Skipped, with the reason, where there is
 * no OpenCL CPU device.
 */
class OpenClArenasTest {
  static OpenClBackend cpu;

  @BeforeAll
  static void device() {
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var listed = OpenClBackend.devices().stream().filter(l -> l.deviceInfo().type() == ClDevice.Type.CPU)
        .findFirst();
    Assumptions.assumeTrue(listed.isPresent(), "no OpenCL CPU device (native arenas are host memory)");
    cpu = OpenClBackend.of(listed.get().deviceInfo());
  }

  /** Every library optimizer on host arenas: the device buffers' bits, and the Java reference's values. */
  @TestFactory
  Stream<DynamicTest> libraryOnNativeArenasMatchesTheReference() {
    long seed = System.nanoTime();
    var java = new JavaBackend(JavaEmitter.Precision.F32, 2);
    return Library.NAMES.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
      var program = OptProgram.load(name);
      var r = new Random(seed ^ name.hashCode());
      var groups = List.of(Conformance.tensors(r, new long[][] {{0}, {1}, {7}, {13, 101}, {16_411}}, "a"),
          Conformance.tensors(r, new long[][] {{2, 3}, {1009}}, "b"));
      List<Map<String, Double>> hypers = List.of(Map.of(), Map.of());
      var want = Conformance.run(program, java, Arenas.BACKEND, Fusion.FULL, groups, hypers, 9, seed);
      var device = Conformance.run(program, cpu, Arenas.BACKEND, Fusion.FULL, groups, hypers, 9, seed);
      var host = Conformance.run(program, cpu, Arenas.NATIVE, Fusion.FULL, groups, hypers, 9, seed);
      var result = Conformance.compare(want, host, Conformance.dtypes(program, 7), !program.ir().metrics().isEmpty());
      assertTrue(result.ok(), name + " on native arenas (seed " + seed + "): " + result.mismatch());
      // The same kernels on the driver's buffers and on ours: the same bits.
      for (int b = 0; b < device.length; b++) {
        ClFixture.assertBitsEqual(device[b], host[b], name + " buffer " + b + ", device vs host arenas (seed " + seed
            + ")");
      }
    }));
  }

  /** The buffers' host pointers are the arenas: gradients written and weights read through the views. */
  @Test
  void theKernelsRunOnTheViewedMemory() throws Exception {
    long seed = System.nanoTime();
    var program = OptProgram.load("adamw");
    var r = new Random(seed);
    var shapes = new long[][] {{129, 3}, {1}, {4099}};
    var tensors = Conformance.tensors(r, shapes, "p");
    var grads = new ArrayList<float[]>();
    for (var shape : shapes) {
      grads.add(Conformance.tensors(r, new long[][] {shape}, "g").getFirst().weights());
    }
    var want = new ArrayList<float[]>();
    try (var opt = Optimizer.builder(program).group(Map.of(), tensors).build()) {
      for (int step = 0; step < 3; step++) {
        for (int t = 0; t < shapes.length; t++) {
          opt.setGrad(tensors.get(t).name(), grads.get(t));
        }
        opt.step();
      }
      tensors.forEach(t -> want.add(opt.weights(t.name())));
    }
    var params = tensors.stream().map(t -> new Optimizer.Param(t.name(), t.shape())).toList();
    try (var opt = Optimizer.builder(program).backend(cpu).arenas(Arenas.NATIVE).params(Map.of(), params).build()) {
      var engine = (OpenClEngine) opt.engine();
      assertEquals(opt.arena("w").address(), engine.buffer("w").hostPointer(), "w's buffer is the arena");
      assertEquals(opt.arena("g").address(), engine.buffer("g").hostPointer(), "g's buffer is the arena");
      var views = opt.views();
      for (int t = 0; t < shapes.length; t++) {
        MemorySegment.copy(tensors.get(t).weights(), 0, views.get(t).weights(), JAVA_FLOAT, 0,
            tensors.get(t).weights().length);
      }
      for (int step = 0; step < 3; step++) {
        for (int t = 0; t < shapes.length; t++) {
          MemorySegment.copy(grads.get(t), 0, views.get(t).grad(), JAVA_FLOAT, 0, grads.get(t).length);
        }
        opt.step();
      }
      var got = views.stream().map(v -> v.weights().toArray(JAVA_FLOAT)).toArray(float[][]::new);
      var result = Conformance.compare(want.toArray(float[][]::new), got, null, false);
      assertTrue(result.ok(), "seed " + seed + ": " + result.mismatch());
      assertEquals(result.values(), result.identical(), "AdamW on PoCL is the reference bit for bit (seed " + seed
          + ", max " + result.maxUlps() + " ulp)");
    }
  }

  /** A caller's host memory, aligned as the device asks, adopted as the gradient arena. */
  @Test
  void adoptedHostMemoryIsUsedInPlace() throws Exception {
    var program = OptProgram.load("sgd");
    var params = List.of(new Optimizer.Param("p", 1000));
    long align = Math.max(64, Long.highestOneBit(cpu.device().memBaseAddrAlignBytes()));
    try (var caller = Arena.ofShared()) {
      var g = caller.allocate(4000, align);
      for (int i = 0; i < 1000; i++) {
        g.setAtIndex(JAVA_FLOAT, i, i);
      }
      try (var opt = Optimizer.builder(program).backend(cpu).adopt("g", g).params(Map.of("lr", 0.5), params)
          .build()) {
        assertEquals(g.address(), ((OpenClEngine) opt.engine()).buffer("g").hostPointer());
        opt.step();
        var w = opt.view("p").weights();
        assertEquals(-0.5f * 999, w.getAtIndex(JAVA_FLOAT, 999), "w -= lr * g with the caller's gradients");
      }
      if (align > 4) {
        var e = assertThrows(OptcException.class, () -> Optimizer.builder(program).backend(cpu)
            .adopt("g", g.asSlice(4, 3996)).params(Map.of(), List.of(new Optimizer.Param("p", 999))).build());
        assertTrue(e.getMessage().contains("multiples of " + align), e.getMessage());
      }
    }
  }
}
