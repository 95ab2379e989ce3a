package dev.optc.runtime.opencl;

import static dev.optc.runtime.BackendComparison.assertClose;
import static dev.optc.runtime.BackendComparison.dtypes;
import static dev.optc.runtime.BackendComparison.run;
import static dev.optc.runtime.BackendComparison.tensors;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Layout;
import dev.optc.runtime.Library;
import dev.optc.runtime.MatrixView;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.java.JavaBackend;
import java.nio.file.Files;
import java.nio.file.Path;
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
 * The kernel structure the CUDA backend runs, checked on PoCL where no GPU is: 256-wide work-groups,
 * 4,096-element chunks, quads with 16-byte accesses in elementwise phases, and only 3 work-groups per
 * launch, so every group strides over many chunks (the grid a GPU gets is sized from its SM count, and
 * is usually smaller than the chunk list too). Same inputs, poisoning and tolerances as
 * {@link OpenClVsJavaTest}; tensor sizes are odd, so segments start at every offset modulo 4 and quads are
 * cut at both ends of tensors and chunks.
 */
class GpuShapeTest {
  static OpenClBackend shaped;

  @BeforeAll
  static void device() {
    if ("true".equals(System.getenv("CI"))) {
      assertTrue(OpenCl.isAvailable(), "CI has no OpenCL device: " + OpenCl.unavailableReason());
    }
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var device = OpenClBackend.select("");
    Assumptions.assumeTrue(device.device().maxWorkGroupSize() >= 256,
        "this OpenCL device cannot run 256-wide work-groups (max " + device.device().maxWorkGroupSize() + ")");
    shaped = device.withShape(new OpenClBackend.Shape(256, 4096, true, 3));
  }

  @TestFactory
  Stream<DynamicTest> libraryAtEveryFusionLevel() {
    long seed = System.nanoTime();
    var tests = new ArrayList<DynamicTest>();
    for (var name : Library.NAMES) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(name + " " + fusion.label(), () -> {
          var program = OptProgram.load(name);
          var r = new Random(seed ^ name.hashCode() ^ fusion.ordinal());
          long[][] first = {{0}, {1}, {7}, {13, 101}, {20_483}, {3, 1, 5}, {4}, {6}};
          long[][] second = {{2, 3}, {1009}, {1, 1}};
          var groups = List.of(tensors(r, first, "a"), tensors(r, second, "b"));
          var hyperNames = program.ir().hypers().stream().map(h -> h.name()).toList();
          var overrides = hyperNames.contains("lr") ? Map.of("lr", 3e-3) : Map.<String, Double>of();
          var hypers = List.of(Map.<String, Double>of(), overrides);
          var java = run(program, new JavaBackend(JavaEmitter.Precision.F32, 2), fusion, groups, hypers, 7, seed);
          var cl = run(program, shaped, fusion, groups, hypers, 7, seed);
          assertClose(java, cl, name + " at fusion " + fusion.label() + " in the GPU shape (seed " + seed + ")");
        }));
      }
    }
    return tests.stream();
  }

  /** Reductions (partials per chunk, combined in order), row/column/scalar states, bf16/f16 states. */
  @TestFactory
  Stream<DynamicTest> multiPhasePrograms() throws Exception {
    long seed = System.nanoTime();
    var tests = new ArrayList<DynamicTest>();
    try (var files = Files.list(Path.of("../compiler/src/test/resources/golden"))) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        var program = OptProgram.compile(SourceFile.of(f.getFileName().toString(), Files.readString(f)),
            Pipeline.Options.DEFAULT);
        for (var fusion : Fusion.values()) {
          tests.add(DynamicTest.dynamicTest(program.name() + " " + fusion.label(), () -> {
            var r = new Random(seed);
            var groups = List.of(tensors(r, new long[][] {{5, 9}, {1}, {0, 4}, {17}, {3, 2, 11}}, "a"),
                tensors(r, new long[][] {{300, 70}, {4, 1}}, "b"));
            List<Map<String, Double>> hypers = List.of(Map.of(), Map.of());
            var java = run(program, new JavaBackend(JavaEmitter.Precision.F32, 2), fusion, groups, hypers, 5, seed);
            var cl = run(program, shaped, fusion, groups, hypers, 5, seed);
            assertClose(java, cl, dtypes(program, 7), !program.ir().metrics().isEmpty()
                || !Planner.plan(program.ir(), fusion).reductions().isEmpty(),
                program.name() + " at fusion " + fusion.label() + " in the GPU shape (seed " + seed + ")");
          }));
        }
      }
    }
    return tests.stream();
  }

  /** The elementwise kernels of AdamW, Lion and Adan take quads; a program with row states does not. */
  @Test
  void elementwisePhasesRunInQuads() throws Exception {
    var layout = new Layout(List.of(new Layout.Tensor("w", new long[] {10}, 0, MatrixView.of(new long[] {10}))), 1);
    for (var name : List.of("adamw", "lion", "adan")) {
      try (var engine = (OpenClEngine) shaped.open(OptProgram.load(name), layout, Fusion.FULL)) {
        assertTrue(engine.source().contains("optc_ld4(") && engine.source().contains("vload4("), name);
      }
    }
    try (var engine = (OpenClEngine) shaped.open(OptProgram.load("adafactor"), layout, Fusion.FULL)) {
      assertEquals(-1, engine.source().indexOf("optc_ld4(g"), "adafactor reads row and column factors");
    }
  }
}
