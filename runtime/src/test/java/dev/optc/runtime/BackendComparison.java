package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.java.JavaBackend;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;

/**
 * The tests' view of {@link Conformance}: the same runs, a failed comparison fails the test, and the test
 * factories every device backend's suite runs (OpenCL, the GPU shape on PoCL, CUDA).
 */
public final class BackendComparison {
  private BackendComparison() {}

  /** The multi-phase test programs: reductions, row/column/scalar states, bf16/f16 states, metrics. */
  static final Path GOLDEN = Path.of("../compiler/src/test/resources/golden");

  /**
   * Every library optimizer at every fusion level on {@code backend} against the Java reference, fresh
   * inputs each run ({@link Conformance#check}; {@code first} null: its standard shapes).
   */
  public static Stream<DynamicTest> library(Backend backend, int steps, long[][] first) {
    long seed = System.nanoTime();
    var tests = new ArrayList<DynamicTest>();
    for (var name : Library.NAMES) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(name + " " + fusion.label(), () -> {
          var program = OptProgram.load(name);
          skipMatrixProgramAtNone(program, fusion);
          var result = first == null
              ? Conformance.check(program, reference(), backend, fusion, steps, seed)
              : Conformance.check(program, reference(), backend, fusion, steps, seed, first,
                  new long[][] {{2, 3}, {1009}, {1, 1}});
          check(result, name + " at fusion " + fusion.label() + " on " + backend.name() + " (seed " + seed + ")");
        }));
      }
    }
    return tests.stream();
  }

  /**
   * Skips a program with matrix products (muon) at fusion {@code none} on a device: one kernel per IR operation of
   * ten unrolled Newton–Schulz iterations on both sides takes PoCL a minute to build, a fifth of the suite. That level
   * is checked on the Java engine against the interpreter ({@code MatrixProductsTest}), and on every device by the
   * golden program {@code gram_ops.opt} (products, both Gram kinds, a per-tensor select) at every level.
   */
  static void skipMatrixProgramAtNone(OptProgram program, Fusion fusion) {
    org.junit.jupiter.api.Assumptions.assumeFalse(fusion == Fusion.NONE
            && dev.optc.compiler.plan.Planner.hasProducts(program.ir()),
        program.name() + " at fusion none on a device: a minute of kernel builds; MatrixProductsTest (java) and "
            + "gram_ops.opt (every device, every level) check matrix programs at that level");
  }

  /** Each multi-phase test program at every fusion level on {@code backend} against the Java reference. */
  public static Stream<DynamicTest> goldenPrograms(Backend backend, int steps) {
    long seed = System.nanoTime();
    var tests = new ArrayList<DynamicTest>();
    try (var files = Files.list(GOLDEN)) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        var program = OptProgram.compile(SourceFile.of(f.getFileName().toString(), Files.readString(f)),
            Pipeline.Options.DEFAULT);
        for (var fusion : Fusion.values()) {
          tests.add(DynamicTest.dynamicTest(program.name() + " " + fusion.label(), () -> {
            var result = Conformance.check(program, reference(), backend, fusion, steps, seed,
                new long[][] {{5, 9}, {1}, {0, 4}, {17}, {3, 2, 11}}, new long[][] {{300, 70}, {4, 1}});
            check(result, program.name() + " at fusion " + fusion.label() + " on " + backend.name() + " (seed "
                + seed + ")");
          }));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (dev.optc.compiler.diag.CompileException e) {
      throw new IllegalStateException("a test program does not compile: " + e.getMessage(), e);
    }
    return tests.stream();
  }

  private static Backend reference() {
    return new JavaBackend(JavaEmitter.Precision.F32, Math.min(4, Runtime.getRuntime().availableProcessors()));
  }

  private static void check(Conformance.Result result, String what) {
    if (!result.ok()) {
      fail(what + ": " + result.mismatch());
    }
  }

  public static List<Optimizer.Tensor> tensors(Random r, long[][] shapes, String prefix) {
    return Conformance.tensors(r, shapes, prefix);
  }

  public static float[][] run(OptProgram program, Backend backend, Fusion fusion, List<List<Optimizer.Tensor>> groups,
      List<Map<String, Double>> hypers, int steps, long seed) {
    return Conformance.run(program, backend, fusion, groups, hypers, steps, seed);
  }

  public static float[] poisonedRead(Optimizer opt, String buffer, String tensor, int n) {
    return Conformance.poisonedRead(opt, buffer, tensor, n);
  }

  public static List<Dtype> dtypes(OptProgram program, int tensors) {
    return Conformance.dtypes(program, tensors);
  }

  public static void assertClose(float[][] want, float[][] got, String what) {
    assertClose(want, got, null, what);
  }

  public static void assertClose(float[][] want, float[][] got, List<Dtype> dtypes, String what) {
    assertClose(want, got, dtypes, false, what);
  }

  public static void assertClose(float[][] want, float[][] got, List<Dtype> dtypes, boolean reductions, String what) {
    check(Conformance.compare(want, got, dtypes, reductions), what);
  }
}
