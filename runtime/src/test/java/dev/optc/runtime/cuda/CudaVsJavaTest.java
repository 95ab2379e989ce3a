package dev.optc.runtime.cuda;

import static dev.optc.runtime.BackendComparison.assertClose;
import static dev.optc.runtime.BackendComparison.dtypes;
import static dev.optc.runtime.BackendComparison.run;
import static dev.optc.runtime.BackendComparison.tensors;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Library;
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
import org.junit.jupiter.api.TestFactory;

/**
 * The CUDA backend against the Java reference, as {@code OpenClVsJavaTest} does for OpenCL: every library
 * optimizer and every multi-phase golden program at every fusion level, fresh random inputs, odd sizes
 * (empty, 1, primes, 2^20 + 3), two groups, 31 steps (odd, see OpenClVsJavaTest), poisoned reads. Needs
 * an NVIDIA GPU with a driver and NVRTC; skipped, saying which is missing, elsewhere.
 */
class CudaVsJavaTest {
  static CudaBackend cuda;

  @BeforeAll
  static void device() {
    Assumptions.assumeTrue(Cuda.isAvailable(), Cuda.unavailableReason());
    Assumptions.assumeTrue(Nvrtc.isAvailable(), Nvrtc.unavailableReason());
    cuda = CudaBackend.select("");
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
          long[][] first = {{0}, {1}, {7}, {13, 101}, {1 << 20 | 3}, {3, 1, 5}};
          long[][] second = {{2, 3}, {1009}, {1, 1}};
          var groups = List.of(tensors(r, first, "a"), tensors(r, second, "b"));
          var hyperNames = program.ir().hypers().stream().map(h -> h.name()).toList();
          var overrides = hyperNames.contains("lr") ? Map.of("lr", 3e-3) : Map.<String, Double>of();
          var hypers = List.of(Map.<String, Double>of(), overrides);
          var java = run(program, new JavaBackend(JavaEmitter.Precision.F32, 4), fusion, groups, hypers, 31, seed);
          var gpu = run(program, cuda, fusion, groups, hypers, 31, seed);
          assertClose(java, gpu, dtypes(program, 9),
              !Planner.plan(program.ir(), fusion).reductions().isEmpty(),
              name + " at fusion " + fusion.label() + " (seed " + seed + ")");
        }));
      }
    }
    return tests.stream();
  }

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
            var java = run(program, new JavaBackend(JavaEmitter.Precision.F32, 4), fusion, groups, hypers, 13, seed);
            var gpu = run(program, cuda, fusion, groups, hypers, 13, seed);
            assertClose(java, gpu, dtypes(program, 7), true,
                program.name() + " at fusion " + fusion.label() + " (seed " + seed + ")");
          }));
        }
      }
    }
    return tests.stream();
  }
}
