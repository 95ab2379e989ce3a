package dev.optc.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.training.tasks.DigitsTask;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * optc's adamw, adam, sgd (momentum), adagrad and rmsprop against libtorch's own on the same task, seed and
 * batches: 200 steps of the digits MLP, the training loss compared at every step. The two compute the same
 * formulas in float32 in different orders, so they agree to rounding, which training then carries along.
 */
class ConformanceTest {
  static final int STEPS = 200;
  /** The largest loss difference measured over the 200 steps was 6.3e-6 (sgd; see docs/training.md). */
  static final double TOLERANCE = 1e-4;

  @BeforeEach
  void natives() {
    Torch.assumeLoaded();
  }

  @ParameterizedTest
  @ValueSource(strings = {"adamw", "adam", "sgd", "adagrad", "rmsprop"})
  void optcAgreesWithLibtorch(String name) throws Exception {
    var program = OptProgram.load(name);
    var task = new DigitsTask();
    var set = Map.<String, Double>copyOf(task.hypers(name));
    var config = new Trainer.Config(task, STEPS, 32, 1, 7);
    var optc = Trainer.run(config, OptcStepRunner.factory(program, new JavaBackend(JavaEmitter.Precision.F32, 1), set),
        (o, r, p, n) -> {});
    var torch = Trainer.run(config, TorchStepRunner.factory(name, HostEvaluator.hyperValues(program.ir(), set)),
        (o, r, p, n) -> {});
    assertEquals(STEPS, optc.curve().size());
    double max = 0;
    int identical = 0;
    boolean stillIdentical = true;
    for (int s = 0; s < STEPS; s++) {
      double a = optc.curve().get(s).trainLoss();
      double b = torch.curve().get(s).trainLoss();
      max = Math.max(max, Math.abs(a - b));
      stillIdentical &= a == b;
      identical += stillIdentical ? 1 : 0;
    }
    System.out.printf(Locale.ROOT, "conformance %-8s %d steps: max |loss difference| %.3g, first %d steps "
        + "bit-identical, final loss %.6f (optc) %.6f (libtorch)%n", name, STEPS, max, identical,
        optc.trainLoss(), torch.trainLoss());
    assertTrue(max <= TOLERANCE, name + ": losses differ by " + max);
    assertTrue(optc.trainLoss() < optc.curve().getFirst().trainLoss() / 4, name + " trains");
  }
}
