package dev.optc.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.runtime.OptProgram;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.training.tasks.DigitsTask;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The parameters and gradients of a libtorch module stay views of the two flat buffers. */
@SuppressWarnings("try") // PointerScopes and bound parameters act by existing
class FlatParametersTest {
  @BeforeEach
  void natives() {
    Torch.assumeLoaded();
  }

  @Test
  void layoutIsAlignedNamedAndGrouped() {
    try (var model = new DigitsTask().open(0, 8)) {
      var layout = FlatParameters.layout(model.module());
      assertEquals("[fc1.weight[128, 64], fc1.bias[128], ln1.weight[128], ln1.bias[128], fc2.weight[128, 128], "
          + "fc2.bias[128], ln2.weight[128], ln2.bias[128], out.weight[10, 128], out.bias[10]]", layout.toString());
      for (var p : layout) {
        assertEquals(0, p.offset() % FlatParameters.ALIGN, p.name());
        assertEquals(p.shape().length == 2, p.decay(), p.name() + ": matrices decay, biases and norm gains do not");
      }
      assertEquals(26_634, layout.stream().mapToLong(FlatParameters.Param::numel).sum());
    }
  }

  @Test
  void dataAndGradsStayInTheBuffersAcrossStepsOfEitherRunner() throws Exception {
    var program = OptProgram.load("adamw");
    for (var factory : new StepRunner.Factory[] {
        OptcStepRunner.factory(program, new JavaBackend(dev.optc.compiler.codegen.java.JavaEmitter.Precision.F32, 1),
            Map.of("lr", 1e-3)),
        TorchStepRunner.factory("adamw", dev.optc.compiler.ir.HostEvaluator.hyperValues(program.ir(), Map.of()))}) {
      try (var model = new DigitsTask().open(0, 8); var runner = factory.open(model.module())) {
        var params = runner.params();
        var before = params.weights(0);
        for (int s = 1; s <= 3; s++) {
          params.zeroGrads();
          try (var scope = new PointerScope()) {
            model.loss(s).backward();
          }
          runner.step();
          params.checkViews();
          for (var v : params.variables()) {
            long w = v.data_ptr().address();
            long g = v.grad().data_ptr().address();
            assertTrue(w >= params.weights().address() && w < params.weights().address() + params.weights().byteSize());
            assertTrue(g >= params.grads().address() && g < params.grads().address() + params.grads().byteSize());
          }
        }
        assertFalse(java.util.Arrays.equals(before, params.weights(0)), factory.runner() + " stepped the weights");
      }
    }
  }

  /**
   * No copy: every parameter's data and gradient are optc's own arenas, at the offsets of optc's views,
   * before and after steps; a value written through libtorch is what optc reads, and the reverse.
   */
  @Test
  void optcStepsTheModelsOwnMemory() throws Exception {
    var program = OptProgram.load("adamw");
    var factory = OptcStepRunner.factory(program, new JavaBackend(dev.optc.compiler.codegen.java.JavaEmitter.Precision.F32,
        1), Map.of("lr", 1e-3));
    stepsTheModelsOwnMemory(factory);
  }

  /** lion+adamw: two programs, still one weight and one gradient buffer that the model's tensors view. */
  @Test
  void twoProgramsStepTheModelsOwnMemory() throws Exception {
    var factory = OptcStepRunner.factory(new OptcStepRunner.Part(OptProgram.load("lion"), Map.of("lr", 1e-4)),
        new OptcStepRunner.Part(OptProgram.load("adamw"), Map.of("lr", 1e-3)),
        new JavaBackend(dev.optc.compiler.codegen.java.JavaEmitter.Precision.F32, 1), 4096, java.util.Set.of(),
        new DigitsTask().head());
    stepsTheModelsOwnMemory(factory);
  }

  private static void stepsTheModelsOwnMemory(StepRunner.Factory factory) {
    try (var model = new DigitsTask().open(0, 8); var runner = (OptcStepRunner) factory.open(model.module())) {
      var optc = runner.optc();
      var params = runner.params();
      for (int s = 0; s <= 3; s++) {
        if (s > 0) {
          params.zeroGrads();
          try (var scope = new PointerScope()) {
            model.loss(s).backward();
          }
          runner.step();
        }
        for (int i = 0; i < params.params().size(); i++) {
          var p = params.params().get(i);
          var view = optc.view(p.name());
          var v = params.variables().get(i);
          assertEquals(view.weightsAddress(), v.data_ptr().address(), p.name() + " data is optc's weights, step " + s);
          assertEquals(view.gradAddress(), v.grad().data_ptr().address(), p.name() + " grad is optc's, step " + s);
        }
      }
      // The gradient libtorch computed is what optc reads; the weights optc wrote are what libtorch sees.
      for (int i : new int[] {0, params.params().size() - 1}) {
        var name = params.params().get(i).name();
        assertArrayEquals(params.grad(i), optc.view(name).grad().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT));
        assertArrayEquals(params.weights(i), optc.weights(name));
      }
    }
  }

  @Test
  void backwardAddsIntoTheGradientBufferSoItIsZeroedFirst() {
    try (var model = new DigitsTask().open(0, 8); var params = FlatParameters.bind(model.module())) {
      params.zeroGrads();
      try (var scope = new PointerScope()) {
        model.loss(1).backward();
      }
      var once = params.grad(0);
      try (var scope = new PointerScope()) {
        model.loss(1).backward();
      }
      var twice = params.grad(0);
      for (int i = 0; i < once.length; i++) {
        assertEquals(2 * once[i], twice[i], Math.ulp(twice[i]) * 2, "element " + i);
      }
      params.zeroGrads();
      try (var scope = new PointerScope()) {
        model.loss(1).backward();
      }
      assertArrayEquals(once, params.grad(0));
    }
  }

  @Test
  void weightsWrittenToTheBufferAreWhatTheModelComputesWith() {
    try (var model = new DigitsTask().open(0, 8); var params = FlatParameters.bind(model.module())) {
      double before;
      try (var scope = new PointerScope()) {
        before = model.loss(1).item_double();
      }
      params.weights().fill((byte) 0); // every weight and bias 0: the logits are 0, the loss ln 10
      double after;
      try (var scope = new PointerScope()) {
        after = model.loss(1).item_double();
      }
      assertTrue(Math.abs(before - Math.log(10)) > 1e-3);
      assertEquals(Math.log(10), after, 1e-6);
    }
  }

  @Test
  void closeDetachesTheModuleFromTheBuffers() {
    try (var model = new DigitsTask().open(0, 8)) {
      var params = FlatParameters.bind(model.module());
      var variable = params.variables().getFirst();
      params.close();
      assertEquals(0, variable.numel(), "the parameter no longer points into freed memory");
      assertFalse(variable.grad().defined());
      assertThrows(IllegalStateException.class, params::zeroGrads);
    }
  }

  @Test
  void usingTheParametersFromAnotherThreadIsRefused() throws Exception {
    try (var model = new DigitsTask().open(0, 8); var params = FlatParameters.bind(model.module())) {
      var error = new Throwable[1];
      var t = new Thread(() -> {
        try {
          params.zeroGrads();
        } catch (Throwable e) {
          error[0] = e;
        }
      });
      t.start();
      t.join();
      assertTrue(error[0] instanceof IllegalStateException && error[0].getMessage().contains("one thread"),
          String.valueOf(error[0]));
      assertEquals(0f, params.grads().get(ValueLayout.JAVA_FLOAT, 0));
    }
  }
}
