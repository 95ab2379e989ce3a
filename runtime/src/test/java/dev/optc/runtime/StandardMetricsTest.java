package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The standard metrics: right values on every backend, and no extra pass over memory. */
class StandardMetricsTest {

  @Test
  void valuesMatchNormsComputedHere() throws Exception {
    var program = OptProgram.load("adamw").withStandardMetrics();
    var backends = new ArrayList<Backend>(List.of(new JavaBackend(JavaEmitter.Precision.F32, 2)));
    if (OpenCl.isAvailable()) {
      backends.add(OpenClBackend.select(""));
    }
    long seed = System.nanoTime();
    for (var backend : backends) {
      var r = new Random(seed);
      var w0 = new float[1000];
      var w1 = new float[7];
      var g0 = new float[1000];
      var g1 = new float[7];
      for (var a : List.of(w0, w1, g0, g1)) {
        for (int i = 0; i < a.length; i++) {
          a[i] = (float) r.nextGaussian();
        }
      }
      var seen = new ArrayList<Optimizer.StepMetrics>();
      try (var opt = Optimizer.builder(program).backend(backend).group(Map.of("lr", 0.01),
          List.of(new Optimizer.Tensor("a", new long[] {10, 100}, w0), new Optimizer.Tensor("b", new long[] {7}, w1)))
          .build()) {
        opt.onMetrics(seen::add);
        opt.setGrad("a", g0);
        opt.setGrad("b", g1);
        opt.step();
        var after = List.of(opt.weights("a"), opt.weights("b"));
        var before = List.of(w0, w1);
        var grads = List.of(g0, g1);
        var m = seen.getFirst().values();
        for (int t = 0; t < 2; t++) {
          double gn = norm(grads.get(t), null);
          double wn = norm(before.get(t), null);
          double un = norm(after.get(t), before.get(t));
          var what = backend.name() + " tensor " + t + " (seed " + seed + ")";
          assertEquals(gn, m.get("grad_norm")[t], 1e-5 * gn, what);
          assertEquals(wn, m.get("weight_norm")[t], 1e-5 * wn, what);
          assertEquals(un, m.get("update_norm")[t], 1e-4 * un, what);
          assertEquals(un / wn, m.get("update_ratio")[t], 1e-4 * un / wn, what);
          assertEquals(un / gn, m.get("effective_lr")[t], 1e-4 * un / gn, what);
        }
      }
    }
  }

  static double norm(float[] a, float[] minus) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      double d = a[i] - (minus == null ? 0 : minus[i]);
      s += d * d;
    }
    return Math.sqrt(s);
  }

  @Test
  void theyAddNoPhase() throws Exception {
    for (var name : Library.NAMES) {
      var plain = OptProgram.load(name);
      assertEquals(Planner.plan(plain.ir(), Fusion.FULL).phases().size(),
          Planner.plan(plain.withStandardMetrics().ir(), Fusion.FULL).phases().size(), name);
    }
  }
}
