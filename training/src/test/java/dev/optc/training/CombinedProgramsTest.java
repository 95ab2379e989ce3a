package dev.optc.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code --optimizer A+B} in the training module: A steps the hidden matrices, B the embeddings, head, biases and
 * gains, in one optimizer over the model's one weight and one gradient buffer.
 */
class CombinedProgramsTest {
  static final JavaBackend JAVA = new JavaBackend(JavaEmitter.Precision.F32, 1);

  @BeforeEach
  void natives() {
    Torch.assumeLoaded();
  }

  static StepRunner.Factory lionAdamw(Task task) throws Exception {
    return OptcStepRunner.factory(new OptcStepRunner.Part(OptProgram.load("lion"), task.hypers("lion")),
        new OptcStepRunner.Part(OptProgram.load("adamw"), task.hypers("adamw")), JAVA, 4096, Set.of(), notHidden(task));
  }

  static Set<String> notHidden(Task task) {
    var s = new HashSet<>(task.embeddings());
    s.addAll(task.head());
    return s;
  }

  /** The tensors stepped by lion (they have its state m; adamw's would refuse the name). */
  static List<String> steppedByLion(OptcStepRunner runner) {
    var lion = new ArrayList<String>();
    for (var v : runner.optc().views()) {
      try {
        runner.optc().state("m", v.name());
        lion.add(v.name());
      } catch (OptcException e) {
        assertTrue(e.getMessage().startsWith("no state 'm' in adamw"), e.getMessage());
      }
    }
    return lion;
  }

  @Test
  void hiddenMatricesGoToTheFirstProgramTheRestToTheSecond() throws Exception {
    for (var name : List.of("digits", "charlm")) {
      var task = Tasks.named(name);
      try (var model = task.open(0, task.tiny().batch());
          var runner = (OptcStepRunner) lionAdamw(task).open(model.module())) {
        assertEquals("lion+adamw", runner.optimizer());
        var lion = steppedByLion(runner);
        if (name.equals("digits")) {
          assertEquals(List.of("fc1.weight", "fc2.weight"), lion);
        } else {
          assertEquals(12, lion.size(), lion.toString());
          assertTrue(lion.stream().allMatch(n -> n.matches("h[0-2]\\.(qkv|proj|fc|out)\\.weight")), lion.toString());
        }
        var opt = runner.optc();
        // Groups: lion's decayed matrices; adamw's decayed (embeddings, head) and its vectors without decay.
        assertEquals(3, opt.groups());
        assertEquals(List.of("lion", "adamw", "adamw"), List.of(opt.program(0).name(), opt.program(1).name(),
            opt.program(2).name()));
        assertEquals(3e-4, opt.hyper(0, "lr"));
        assertEquals(3e-3, opt.hyper(1, "lr"));
        assertEquals(0.01, opt.hyper(1, "weight_decay"));
        assertEquals(0.0, opt.hyper(2, "weight_decay"));
        assertEquals(3e-4, runner.hypers().get("lion:lr"));
        assertEquals(3e-3, runner.hypers().get("adamw:lr"));
      }
    }
  }

  @Test
  void aTinyRunOfLionAndAdamwLowersTheLoss() throws Exception {
    var task = Tasks.named("digits");
    var t = task.tiny();
    var run = Trainer.run(new Trainer.Config(task, t.steps(), t.batch(), t.evalEvery(), 0), lionAdamw(task),
        (o, r, p, n) -> {});
    assertEquals("lion+adamw", run.optimizer());
    assertTrue(run.curve().getLast().valLoss() < run.curve().getFirst().valLoss(), run.curve().toString());
    assertTrue(run.hypers().containsKey("adamw:beta2"), run.hypers().toString());
  }

  @Test
  void aModelWithoutHiddenMatricesIsAllTheSecondPrograms() throws Exception {
    // Every matrix named as an embedding or the head: lion steps nothing, the optimizer is adamw's alone.
    var task = Tasks.named("digits");
    var all = new HashSet<>(Set.of("fc1.weight", "fc2.weight"));
    all.addAll(task.head());
    var factory = OptcStepRunner.factory(new OptcStepRunner.Part(OptProgram.load("lion"), Map.of()),
        new OptcStepRunner.Part(OptProgram.load("adamw"), Map.of()), JAVA, 4096, Set.of(), all);
    try (var model = task.open(0, 8); var runner = (OptcStepRunner) factory.open(model.module())) {
      assertEquals(List.of(), steppedByLion(runner));
      assertEquals("adamw", runner.optc().program().name());
      assertThrows(OptcException.class, () -> runner.optc().state("m", "fc1.weight"));
    }
  }
}
