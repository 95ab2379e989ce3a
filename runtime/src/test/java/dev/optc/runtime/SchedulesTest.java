package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.LongToDoubleFunction;
import org.junit.jupiter.api.Test;

/**
 * The prelude's schedule defs (evaluated by the compiled program, as metrics) and the runtime's
 * {@link Schedules} give the same values, and both have the shapes torch's schedulers have.
 */
class SchedulesTest {
  static final String PROGRAM = """
      hyper lr = 0.1
      metric linear_warmup_ = linear_warmup(t, 10)
      metric cosine_ = cosine(t, 100, 0.1)
      metric warmup_cosine_ = warmup_cosine(t, 10, 100, 0.1)
      metric step_decay_ = step_decay(t, 30, 0.1)
      metric exponential_ = exponential(t, 0.99)
      metric one_cycle_ = one_cycle(t, 100, 0.3, 25, 1e4)
      metric cosine_restarts_ = cosine_restarts(t, 20, 0.05)
      w -= lr * g
      """;

  @Test
  void preludeAndRuntimeAgree() throws Exception {
    var program = OptProgram.compile(SourceFile.of("schedules.opt", PROGRAM), Pipeline.Options.DEFAULT);
    Map<String, LongToDoubleFunction> java = Map.of(
        "linear_warmup_", Schedules.linearWarmup(10),
        "cosine_", Schedules.cosine(100, 0.1),
        "warmup_cosine_", Schedules.warmupCosine(10, 100, 0.1),
        "step_decay_", Schedules.stepDecay(30, 0.1),
        "exponential_", Schedules.exponential(0.99),
        "one_cycle_", Schedules.oneCycle(100, 0.3, 25, 1e4),
        "cosine_restarts_", Schedules.cosineRestarts(20, 0.05));
    var seen = new ArrayList<Optimizer.StepMetrics>();
    try (var opt = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 1))
        .group(Map.of(), List.of(new Optimizer.Tensor("w", new long[] {3}, new float[3]))).build()) {
      opt.onMetrics(seen::add);
      for (int i = 0; i < 130; i++) {
        opt.step();
      }
    }
    for (var m : seen) {
      for (var e : java.entrySet()) {
        assertEquals(e.getValue().applyAsDouble(m.t()), m.values().get(e.getKey())[0], 1e-12,
            e.getKey() + " at t=" + m.t());
      }
    }
  }

  @Test
  void shapesAreTorchs() {
    var wc = Schedules.warmupCosine(10, 100, 0.1);
    assertEquals(0.1, wc.applyAsDouble(1), 1e-15, "first warmup step");
    assertEquals(1.0, wc.applyAsDouble(10), 1e-15, "end of warmup");
    assertEquals(1.0, wc.applyAsDouble(11), 1e-15, "cosine starts at 1");
    assertEquals(0.1, wc.applyAsDouble(101), 1e-12, "min_ratio after total steps of torch counting (t = total + 1)");
    var step = Schedules.stepDecay(30, 0.1);
    assertEquals(1.0, step.applyAsDouble(30), 0);
    assertEquals(0.1, step.applyAsDouble(31), 1e-15, "StepLR: decays after step_size steps");
    var oneCycle = Schedules.oneCycle(100, 0.3, 25, 1e4);
    assertEquals(1 / 25.0, oneCycle.applyAsDouble(1), 1e-12, "starts at max/div_factor");
    assertEquals(1.0, oneCycle.applyAsDouble(30), 1e-12, "peak at pct_start");
    assertEquals(1 / 25e4, oneCycle.applyAsDouble(100), 1e-12, "ends at max/(div*final_div)");
    var restarts = Schedules.cosineRestarts(20, 0.0);
    assertEquals(1.0, restarts.applyAsDouble(21), 1e-15, "restart");
  }

  @Test
  void aScheduleSetsTheHyperBeforeEachStep() throws Exception {
    var program = OptProgram.load("sgd");
    var w = new float[] {1, 2, 3};
    try (var opt = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 1))
        .group(Map.of(), List.of(new Optimizer.Tensor("w", new long[] {3}, w))).build()) {
      opt.schedule("lr", 0.5, Schedules.exponential(0.5));
      opt.setGrad("w", new float[] {1, 1, 1});
      opt.step();
      assertEquals(0.5, opt.hyper(0, "lr"), 0);
      opt.step();
      assertEquals(0.25, opt.hyper(0, "lr"), 0);
      assertEquals(1 - 0.5f - 0.25f, opt.weights("w")[0], 0);
    }
  }
}
