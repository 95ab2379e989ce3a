package dev.optc.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.runtime.OptcException;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every task is a function of the seed and the step: same weights, same batches, whoever steps. */
@SuppressWarnings("try") // PointerScopes and bound parameters act by existing
class TasksTest {
  @BeforeEach
  void natives() {
    Torch.assumeLoaded();
  }

  private static float[] initialWeights(Task task, long seed) {
    try (var model = task.open(seed, task.tiny().batch()); var params = FlatParameters.bind(model.module())) {
      return params.weights().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
    }
  }

  private static double loss(Task task, long seed, long step) {
    try (var model = task.open(seed, task.tiny().batch()); var params = FlatParameters.bind(model.module());
        var scope = new PointerScope()) {
      return model.loss(step).item_double();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits", "charlm"})
  void theSeedFixesWeightsAndBatches(String name) {
    var task = Tasks.named(name);
    assertArrayEquals(initialWeights(task, 3), initialWeights(task, 3));
    assertNotEquals(initialWeights(task, 3)[0], initialWeights(task, 4)[0]);
    assertEquals(loss(task, 3, 5), loss(task, 3, 5));
    assertNotEquals(loss(task, 3, 5), loss(task, 3, 6), "another step, another batch");
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits", "charlm"})
  void anUntrainedModelIsNearChanceAndEvaluates(String name) {
    var task = Tasks.named(name);
    try (var model = task.open(0, task.tiny().batch()); var params = FlatParameters.bind(model.module())) {
      var e = model.evaluate();
      double chance = Math.log(name.equals("digits") ? 10 : 128);
      assertTrue(e.loss() > chance / 4 && e.loss() < chance * 3, "initial validation loss " + e.loss());
      assertTrue(e.accuracy() >= 0 && e.accuracy() < 0.5, "initial accuracy " + e.accuracy());
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"digits", "charlm"})
  void aTinyRunLowersTheLoss(String name) throws Exception {
    var task = Tasks.named(name);
    var t = task.tiny();
    var program = dev.optc.runtime.OptProgram.load("adamw");
    var run = Trainer.run(new Trainer.Config(task, t.steps(), t.batch(), t.evalEvery(), 0),
        OptcStepRunner.factory(program, new dev.optc.runtime.java.JavaBackend(
            dev.optc.compiler.codegen.java.JavaEmitter.Precision.F32, 1), task.hypers("adamw")),
        (o, r, p, n) -> {});
    assertEquals(t.steps() / t.evalEvery(), run.curve().size());
    assertTrue(run.curve().getLast().valLoss() < run.curve().getFirst().valLoss(), run.curve().toString());
    assertTrue(run.stepMs() > 0 && run.forwardBackwardMs() > 0 && run.stepShare() < 1);
  }

  @ParameterizedTest
  @ValueSource(ints = {0, -1, 100_000})
  void aBatchTheDataCannotFillIsAUsageError(int batch) {
    assertThrows(OptcException.class, () -> Tasks.named("digits").open(0, batch).close());
  }

  @org.junit.jupiter.api.Test
  void unknownTaskNamesTheTasks() {
    var e = assertThrows(OptcException.class, () -> Tasks.named("mnist"));
    assertEquals("unknown task 'mnist' (tasks: digits, charlm)", e.getMessage());
  }
}
