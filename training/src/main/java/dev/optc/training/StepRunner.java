package dev.optc.training;

import java.util.Map;

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

  /** One update from the gradients now in the gradient buffer. */
  void step();

  @Override
  void close();

  /** Makes a runner once a model's parameters are bound; one factory serves every run of its optimizer. */
  interface Factory {
    String optimizer();

    String runner();

    StepRunner open(FlatParameters params);
  }
}
