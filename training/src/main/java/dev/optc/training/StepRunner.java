package dev.optc.training;

import java.util.Map;
import java.util.function.Function;
import org.bytedeco.pytorch.Module;

/**
 * One optimizer stepping a model's parameters: it reads the gradients in {@link FlatParameters#grads()} and
 * updates the weights in {@link FlatParameters#weights()}, the memory the model's tensors are views of. What
 * runs the step is the implementation's business: optc ({@link OptcStepRunner}) or libtorch's own optimizers
 * ({@link TorchStepRunner}, the {@code --peers}).
 *
 * <p>Calls come from the thread that bound the parameters (see {@link Natives}).
 */
public interface StepRunner extends AutoCloseable {
  /** The optimizer's name: a library name or the {@code optimizer} of a .opt file. */
  String optimizer();

  /** Who steps: {@code "optc"} or {@code "libtorch"}. */
  String runner();

  /** Every hyper value the runner uses, for the report (the decayed group's, where groups differ). */
  Map<String, Double> hypers();

  /** The model's parameters as views of the buffers this runner steps (owned by the runner). */
  FlatParameters params();

  /** One update from the gradients now in the gradient buffer. */
  void step();

  /**
   * Runs {@code evaluation} (the validation pass) with the model's parameters at the optimizer's evaluation point,
   * and puts the training weights back after it: a program with {@code evaluate x} (Schedule-Free) is validated at
   * x, as the reference's {@code optimizer.eval()} / {@code optimizer.train()} switch does. By default the weights
   * are the evaluation point and it just runs.
   */
  default <T> T atEvaluationPoint(java.util.function.Supplier<T> evaluation) {
    return evaluation.get();
  }

  /** Unbinds the model's parameters, then frees the buffers. */
  @Override
  void close();

  /**
   * Binds a model's parameters to the buffers its runner steps, and makes the runner: libtorch's optimizers
   * step buffers of their own, optc its own arenas. One factory serves every run of its optimizer.
   */
  record Factory(String optimizer, String runner, Function<Module, StepRunner> opener) {
    public StepRunner open(Module module) {
      return opener.apply(module);
    }
  }
}
