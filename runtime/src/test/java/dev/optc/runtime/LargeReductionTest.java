package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A norm over 2^26 elements stays accurate: a float32 running sum of 2^26 equal squares would stall
 * long before the end (once the sum is 2^24 times a term, adding the term changes nothing), so this
 * checks that every backend accumulates in a way that does not (float64 on the host and on devices with
 * fp64; a tree of float partials with compensated combination elsewhere).
 */
class LargeReductionTest {
  static final int N = 1 << 26;

  @Test
  void normOfTwoToTheTwentySixElements() throws Exception {
    var program = OptProgram.compile(SourceFile.of("norms.opt", """
        hyper lr = 0
        metric gn = norm(g)
        metric gs = sum(g)
        w -= lr * g
        """), Pipeline.Options.DEFAULT);
    var backends = new ArrayList<Backend>(List.of(new JavaBackend(JavaEmitter.Precision.F32, 2)));
    if (OpenCl.isAvailable()) {
      backends.add(OpenClBackend.select(""));
      backends.add(OpenClBackend.select("").withFloatAccumulation());
    }
    var grad = new float[N];
    Arrays.fill(grad, 0.1f);
    double exactNorm = Math.sqrt((double) N * 0.1f * 0.1f);
    double exactSum = (double) N * 0.1f;
    for (var backend : backends) {
      var seen = new ArrayList<Optimizer.StepMetrics>();
      try (var opt = Optimizer.builder(program).backend(backend)
          .group(Map.of(), List.of(new Optimizer.Tensor("w", new long[] {N}, new float[N]))).build()) {
        opt.onMetrics(seen::add);
        opt.setGrad("w", grad);
        opt.step();
      }
      var m = seen.getFirst().values();
      var what = backend + "";
      assertEquals(exactNorm, m.get("gn")[0], 1e-6 * exactNorm, what + ": norm");
      assertEquals(exactSum, m.get("gs")[0], 1e-6 * exactSum, what + ": sum");
    }
  }
}
