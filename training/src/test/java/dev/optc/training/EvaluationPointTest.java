package dev.optc.training;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Validation at the evaluation point ({@code evaluate x}, schedulefree_adamw): the model is evaluated with its
 * parameters at x, in the weight arena it views, and trains on at w afterwards.
 */
@SuppressWarnings("try") // PointerScopes act by existing
class EvaluationPointTest {
  @BeforeEach
  void natives() {
    Torch.assumeLoaded();
  }

  static final JavaBackend JAVA = new JavaBackend(JavaEmitter.Precision.F32, 1);

  @Test
  void theModelIsValidatedAtXAndTrainsOnAtW() throws Exception {
    var task = Tasks.named("digits");
    var program = OptProgram.load("schedulefree_adamw");
    try (var model = task.open(0, task.tiny().batch());
        var runner = (OptcStepRunner) OptcStepRunner.factory(program, JAVA, Map.of("lr", 0.01)).open(model.module())) {
      var params = runner.params();
      for (int s = 1; s <= 5; s++) {
        params.zeroGrads();
        try (var scope = new PointerScope()) {
          model.loss(s).backward();
        }
        runner.step();
      }
      var opt = runner.optc();
      var w = params.weights().toArray(JAVA_FLOAT);
      var x = opt.arena("x").toArray(JAVA_FLOAT);
      assertFalse(Arrays.equals(w, x), "after 5 steps x is not y");
      var seen = new ArrayList<float[]>();
      var atX = runner.atEvaluationPoint(() -> {
        seen.add(params.weights().toArray(JAVA_FLOAT));
        return model.evaluate();
      });
      assertArrayEquals(x, seen.getFirst(), "the model's parameters hold x during the evaluation");
      assertArrayEquals(w, params.weights().toArray(JAVA_FLOAT), "and w after it, bit for bit");
      var atW = model.evaluate();
      assertNotEquals(atW.loss(), atX.loss(), "validated at x, not at w");
      // x of every tensor as the optimizer reports it, in the module's order.
      for (var t : opt.layout().tensors()) {
        var view = opt.view(t.name());
        var slice = Arrays.copyOfRange(seen.getFirst(), (int) view.offset(), (int) (view.offset() + view.numel()));
        assertArrayEquals(opt.evaluationWeights(t.name()), slice, t.name());
      }
    }
  }

  /** Trainer validates through the runner's evaluation point at every point of the curve, and trains on. */
  @Test
  void theTrainerValidatesAtTheEvaluationPoint() throws Exception {
    var task = Tasks.named("digits");
    var t = task.tiny();
    var program = OptProgram.load("schedulefree_adamw");
    var inner = OptcStepRunner.factory(program, JAVA, Map.of("lr", 0.01));
    var evaluations = new int[1];
    var factory = new StepRunner.Factory(inner.optimizer(), inner.runner(), module -> {
      var runner = inner.open(module);
      return new StepRunner() {
        public String optimizer() {
          return runner.optimizer();
        }

        public String runner() {
          return runner.runner();
        }

        public Map<String, Double> hypers() {
          return runner.hypers();
        }

        public FlatParameters params() {
          return runner.params();
        }

        public void step() {
          runner.step();
        }

        public <T> T atEvaluationPoint(Supplier<T> evaluation) {
          evaluations[0]++;
          return runner.atEvaluationPoint(evaluation);
        }

        public void close() {
          runner.close();
        }
      };
    });
    var config = new Trainer.Config(task, t.steps(), t.batch(), t.evalEvery(), 0);
    var run = Trainer.run(config, factory, (o, r, p, n) -> {});
    assertEquals(t.steps() / t.evalEvery(), run.curve().size());
    assertEquals(run.curve().size(), evaluations[0]);
    List<Trainer.Point> curve = run.curve();
    assertTrue(curve.getLast().valLoss() < curve.getFirst().valLoss(), curve.toString());
  }
}
