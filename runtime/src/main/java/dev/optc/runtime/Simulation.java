package dev.optc.runtime;

import dev.optc.compiler.plan.Fusion;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * Replays recorded gradients through an optimizer: the parameters of shape S, then T gradients of shape
 * S, one step each. What {@code optc simulate} runs.
 */
public final class Simulation {
  private Simulation() {}

  /**
   * @param trajectory the parameters after each step ({@code steps × numel}), or null when not asked for
   */
  public record Result(float[] params, float[] trajectory) {}

  public static Result run(OptProgram program, Backend backend, Fusion fusion, long[] shape, float[] params,
      float[] grads, int steps, Map<String, Double> hypers, boolean keepTrajectory,
      Consumer<Optimizer.StepMetrics> metrics, IntConsumer progress) {
    return run(program, backend, fusion, shape, params, grads, steps, hypers, keepTrajectory, metrics, progress,
        dev.optc.compiler.ir.Quantization.DEFAULT_MIN_ELEMENTS);
  }

  /**
   * The same, with quantized states ({@code as q8}, {@code as q4}) stored as codes when the tensor has at least
   * {@code quantizeFrom} elements.
   */
  public static Result run(OptProgram program, Backend backend, Fusion fusion, long[] shape, float[] params,
      float[] grads, int steps, Map<String, Double> hypers, boolean keepTrajectory,
      Consumer<Optimizer.StepMetrics> metrics, IntConsumer progress, int quantizeFrom) {
    return run(program, backend, fusion, shape, params, grads, Map.of(), steps, hypers, keepTrajectory, metrics,
        progress, quantizeFrom);
  }

  /**
   * The same, with the values of each input the program declares ({@code input NAME}): like {@code grads},
   * {@code steps × numel} values, those of step k at k × numel.
   */
  public static Result run(OptProgram program, Backend backend, Fusion fusion, long[] shape, float[] params,
      float[] grads, Map<String, float[]> inputs, int steps, Map<String, Double> hypers, boolean keepTrajectory,
      Consumer<Optimizer.StepMetrics> metrics, IntConsumer progress, int quantizeFrom) {
    int numel = params.length;
    var declared = program.ir().inputs().stream().map(dev.optc.compiler.ir.IrProgram.StateInfo::name).toList();
    for (var name : inputs.keySet()) {
      if (!declared.contains(name)) {
        throw new OptcException("--input " + name + ": " + program.name() + " has no input '" + name
            + "' (its inputs: " + (declared.isEmpty() ? "none" : String.join(", ", declared)) + ")");
      }
    }
    for (var name : declared) {
      if (!inputs.containsKey(name)) {
        throw new OptcException(program.name() + " reads input '" + name + "' each step: give its values with "
            + "--input " + name + "=FILE.npy, shape (T, *P.shape) like --grads");
      }
    }
    for (var e : inputs.entrySet()) {
      if ((long) steps * numel != e.getValue().length) {
        throw new IllegalArgumentException("input '" + e.getKey() + "': " + steps + " steps of " + numel + " need "
            + (long) steps * numel + " values, not " + e.getValue().length);
      }
    }
    if ((long) steps * numel != grads.length) {
      throw new IllegalArgumentException(steps + " steps of " + numel + " need " + (long) steps * numel
          + " gradient values, not " + grads.length);
    }
    var tensor = new Optimizer.Tensor("params", shape, params);
    try (var opt = Optimizer.builder(program).backend(backend).fusion(fusion).quantizeFrom(quantizeFrom)
        .group(hypers, List.of(tensor)).build()) {
      if (metrics != null) {
        opt.onMetrics(metrics);
      }
      var trajectory = keepTrajectory ? new float[(int) Math.min(Integer.MAX_VALUE, (long) steps * numel)]
          : null;
      var grad = new float[numel];
      for (int k = 0; k < steps; k++) {
        System.arraycopy(grads, k * numel, grad, 0, numel);
        opt.setGrad("params", grad);
        for (var e : inputs.entrySet()) {
          // The same buffer as the gradient's: setInput copies it into the engine.
          System.arraycopy(e.getValue(), k * numel, grad, 0, numel);
          opt.setInput(e.getKey(), "params", grad);
        }
        opt.step();
        if (trajectory != null) {
          System.arraycopy(opt.weights("params"), 0, trajectory, k * numel, numel);
        }
        if (progress != null) {
          progress.accept(k + 1);
        }
      }
      return new Result(opt.weights("params"), trajectory);
    }
  }
}
