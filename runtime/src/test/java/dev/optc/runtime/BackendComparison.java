package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.plan.Fusion;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** The tests' view of {@link Conformance}: the same runs, and a failed comparison fails the test. */
public final class BackendComparison {
  private BackendComparison() {}

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
    var result = Conformance.compare(want, got, dtypes, reductions);
    if (!result.ok()) {
      fail(what + ": " + result.mismatch());
    }
  }
}
