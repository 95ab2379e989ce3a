package dev.optc.runtime.opencl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import static dev.optc.runtime.BackendComparison.assertClose;
import static dev.optc.runtime.BackendComparison.run;
import static dev.optc.runtime.BackendComparison.tensors;

import dev.optc.runtime.BackendComparison;
import dev.optc.runtime.Backend;
import dev.optc.runtime.Layout;
import dev.optc.runtime.MatrixView;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.java.JavaBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
 * The OpenCL backend against the Java reference: every library optimizer at every fusion level, on
 * fresh random inputs each run, groups of odd-shaped tensors (empty, 1, primes, 2^20 + 3), two groups
 * with different hypers, 31 steps (odd: a double-buffered state an engine forgot to write shows up as the
 * other copy's poison). Weights and states are read into NaN-poisoned arrays, and device
 * temporaries start as NaN, so an element a kernel fails to write shows up.
 *
 * <p>Tolerance: the kernels are built without contraction (no fma) and with correctly rounded division
 * and square root, so the arithmetic is the Java reference's; only the math library (exp, log, pow, tanh,
 * sin, cos) may differ by a few ulp, and that difference can grow over steps. Reductions add in a
 * different order (a float tree on the device, float64 in the reference). Values must agree within 8 ulp
 * of the larger magnitude, or within 1e-6 of the tensor's largest value for values near zero; a bf16 or
 * f16 state within 2 ulp of its own type (one rounding tie decided the other way moves a whole ulp), and
 * in a program with such a state every buffer within 2^-9 of its largest value (that ulp flows on into
 * the weights). Programs with reductions: within 1e-5 of the buffer's largest value (a float32 sum differs
 * from a float64 one by about 1e-7 relative, and states that accumulate reductions carry it on).
 * Measured on PoCL 3.1 (2026-11-23): every library optimizer matches bit for bit.
 */
class OpenClVsJavaTest {
  static Backend opencl;

  @BeforeAll
  static void device() {
    if ("true".equals(System.getenv("CI"))) {
      // CI installs PoCL (.ci/run): there these tests must run, not skip.
      assertTrue(OpenCl.isAvailable(), "CI has no OpenCL device: " + OpenCl.unavailableReason());
    }
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    opencl = OpenClBackend.select("");
  }

  @TestFactory
  Stream<DynamicTest> libraryAtEveryFusionLevel() {
    return BackendComparison.library(opencl, 31, null);
  }

  @TestFactory
  Stream<DynamicTest> groupsOfSixtyTensors() {
    long seed = System.nanoTime();
    return Stream.of(Fusion.values()).map(fusion -> DynamicTest.dynamicTest(fusion.label(), () -> {
      var program = OptProgram.load("adamw");
      var r = new Random(seed);
      var shapes = new long[60][];
      for (int i = 0; i < shapes.length; i++) {
        shapes[i] = switch (r.nextInt(4)) {
          case 0 -> new long[] {1 + r.nextInt(300)};
          case 1 -> new long[] {1 + r.nextInt(40), 1 + r.nextInt(40)};
          case 2 -> new long[] {1 + r.nextInt(5), 1 + r.nextInt(7), 1 + r.nextInt(9)};
          default -> new long[] {r.nextInt(3)};
        };
      }
      var groups = List.of(tensors(r, shapes, "t"));
      var hypers = List.of(Map.of("lr", 1e-2, "weight_decay", 0.05));
      var java = run(program, new JavaBackend(JavaEmitter.Precision.F32, 2), fusion, groups, hypers, 31, seed);
      var cl = run(program, opencl, fusion, groups, hypers, 31, seed);
      assertClose(java, cl, "60 tensors at fusion " + fusion.label() + " (seed " + seed + ")");
    }));
  }

  /** Programs with reductions, row/column/scalar states, bf16/f16 states and metrics. */
  @TestFactory
  Stream<DynamicTest> multiPhasePrograms() {
    return BackendComparison.goldenPrograms(opencl, 13);
  }

  @Test
  void reductionsAreBitIdenticalRunToRun() throws Exception {
    var f = Path.of("../compiler/src/test/resources/golden/factored.opt");
    var program = OptProgram.compile(SourceFile.of("factored.opt", Files.readString(f)), Pipeline.Options.DEFAULT);
    var r = new Random(7);
    var groups = List.of(tensors(r, new long[][] {{513, 257}, {100_003}}, "t"));
    List<Map<String, Double>> hypers = List.of(Map.of());
    var first = run(program, opencl, Fusion.FULL, groups, hypers, 5, 11);
    var second = run(program, opencl, Fusion.FULL, groups, hypers, 5, 11);
    for (int b = 0; b < first.length; b++) {
      assertArrayEquals(first[b], second[b], "buffer " + b);
    }
  }

  @Test
  void launchesPerStepFollowTheFusionLevel() throws Exception {
    var adamw = OptProgram.load("adamw");
    var layout = new Layout(List.of(new Layout.Tensor("w", new long[] {10}, 0, MatrixView.of(new long[] {10}))), 1);
    try (var full = (OpenClEngine) opencl.open(adamw, layout, Fusion.FULL);
        var statement = (OpenClEngine) opencl.open(adamw, layout, Fusion.STATEMENT);
        var none = (OpenClEngine) opencl.open(adamw, layout, Fusion.NONE)) {
      assertEquals(1, count(full.source(), "__kernel"), "adamw fused: one kernel");
      assertTrue(count(statement.source(), "__kernel") > 1);
      assertTrue(count(none.source(), "__kernel") > count(statement.source(), "__kernel"));
    }
  }

  static int count(String text, String word) {
    int n = 0;
    for (int i = text.indexOf(word); i >= 0; i = text.indexOf(word, i + 1)) {
      n++;
    }
    return n;
  }

  /** A caller's own cl_mem (a training loop's gradients on the device) is used without a copy. */
  @Test
  void adoptedDeviceBuffersAreUsedInPlace() throws Exception {
    var program = OptProgram.load("adam");
    var r = new Random(5);
    var tensors = tensors(r, new long[][] {{37}, {4, 9}}, "t");
    var grads = new float[73];
    for (int i = 0; i < grads.length; i++) {
      grads[i] = (float) r.nextGaussian();
    }
    float[] viaUpload;
    try (var opt = Optimizer.builder(program).backend(opencl).group(Map.of(), tensors).build()) {
      opt.setGrad("t0", Arrays.copyOfRange(grads, 0, 37));
      opt.setGrad("t1", Arrays.copyOfRange(grads, 37, 73));
      opt.step();
      viaUpload = opt.weights("t1");
    }
    try (var opt = Optimizer.builder(program).backend(opencl).group(Map.of(), tensors).build()) {
      var engine = (OpenClEngine) opt.engine();
      // The caller's buffer, made in the engine's context and filled by the caller.
      try (var callers = engine.context().createBuffer(4L * grads.length)) {
        callers.write(OpenClBackend.session(engine.device()).queue(), 0, grads);
        engine.adopt("g", callers.handle());
        opt.step();
        assertArrayEquals(viaUpload, opt.weights("t1"), "same step from the adopted gradient buffer");
        // The engine wrote nothing into the caller's gradients.
        var back = new float[grads.length];
        callers.read(OpenClBackend.session(engine.device()).queue(), 0, back);
        assertArrayEquals(grads, back);
      }
    }
  }

  @Test
  void aBadBuildOptionIsAClearErrorAndChangesNothing() throws Exception {
    var program = OptProgram.load("lion");
    var r = new Random(3);
    var tensors = tensors(r, new long[][] {{33}}, "t");
    var before = tensors.getFirst().weights().clone();
    var bad = ((OpenClBackend) opencl).withBuildOptions("-cl-no-such-option");
    var e = assertThrows(OptcException.class, () -> Optimizer.builder(program).backend(bad)
        .group(Map.of(), tensors).build());
    assertTrue(e.getMessage().contains("CL_INVALID_BUILD_OPTIONS") || e.getMessage().contains("CL_BUILD_PROGRAM_FAILURE"),
        e.getMessage());
    assertArrayEquals(before, tensors.getFirst().weights(), "the caller's weights are untouched");
  }

  /** A compile error in generated code names the generated line and the DSL statement it came from. */
  @Test
  void aBuildErrorIsMappedToTheStatement() throws Exception {
    var program = OptProgram.load("adam");
    var tensors = tensors(new Random(1), new long[][] {{5}}, "t");
    // Defining denom as a number breaks the line that declares it, as a driver or codegen bug would.
    var broken = ((OpenClBackend) opencl).withBuildOptions("-Ddenom=1");
    var e = assertThrows(OptcException.class, () -> Optimizer.builder(program).backend(broken)
        .group(Map.of(), tensors).build());
    assertTrue(e.getMessage().contains("generated line"), e.getMessage());
    assertTrue(e.getMessage().contains("from the statement: denom = sqrt("), e.getMessage());
    assertTrue(e.getMessage().contains(": const float denom = "), "the generated line is shown: " + e.getMessage());
  }

  @Test
  void anAllocationBeyondTheDeviceLimitIsAClearError() throws Exception {
    var device = ((OpenClBackend) opencl).device();
    long tooMany = device.maxMemAllocSize() / 4 + 1;
    Assumptions.assumeTrue(tooMany < Integer.MAX_VALUE - 8, "this device can hold any tensor optc allows");
    var shape = new long[] {tooMany};
    var layout = new Layout(List.of(new Layout.Tensor("huge", shape, 0, MatrixView.of(shape))), 1);
    var e = assertThrows(OptcException.class, () -> opencl.open(OptProgram.load("sgd"), layout, Fusion.FULL));
    assertTrue(e.getMessage().contains("CL_INVALID_BUFFER_SIZE") || e.getMessage().contains("CL_MEM_OBJECT_ALLOCATION_FAILURE")
        || e.getMessage().contains("CL_OUT_OF_RESOURCES"), e.getMessage());
    // The device is still usable afterwards.
    var small = new Layout(List.of(new Layout.Tensor("w", new long[] {3}, 0, MatrixView.of(new long[] {3}))), 1);
    try (var engine = opencl.open(OptProgram.load("sgd"), small, Fusion.FULL)) {
      engine.write("w", 0, new float[] {1, 2, 3});
      var out = new float[3];
      engine.read("w", 0, out);
      assertArrayEquals(new float[] {1, 2, 3}, out);
    }
  }
}
