package dev.optc.training;

import java.util.Map;

/**
 * A training task: data that ships with optc, a model, and what a good run of each library optimizer needs.
 * {@link Tasks} lists them; adding one is adding a class.
 *
 * <p>Everything is a function of the seed and the step: the model's initial weights of {@code seed}, and the
 * batch of step {@code s} of {@code (seed, s)}, so every optimizer of a comparison sees the same model and
 * the same batches. The train/validation split never depends on the seed.
 */
public interface Task {
  /** The name {@code optc train} takes. */
  String name();

  /** One line for help texts: the data and the model. */
  String description();

  /** Steps, batch size and evaluation interval of a normal run. */
  Settings defaults();

  /** A run of seconds, for tests. */
  Settings tiny();

  /**
   * Hyper values a library optimizer needs on this task beyond its own defaults (usually {@code lr}), as
   * documented in {@code docs/training.md}; empty for an optimizer whose defaults do.
   */
  Map<String, Double> hypers(String optimizer);

  /**
   * The model's embedding tables, by parameter name: their quantized optimizer states ({@code as q8}, {@code
   * as q4}) are kept in float32 when a run asks for bitsandbytes' practice ({@code optc train --stable-embeddings}).
   */
  default java.util.Set<String> embeddings() {
    return java.util.Set.of();
  }

  /**
   * The model's output layer (its weight and bias), by parameter name. With {@code optc train --optimizer A+B},
   * program A steps the hidden matrices (the tensors of two or more dimensions that are neither an {@link
   * #embeddings embedding} nor the head) and B everything else: the way Muon is used ({@link ParamGroup#hidden}).
   */
  default java.util.Set<String> head() {
    return java.util.Set.of();
  }

  /** What {@link Evaluation#accuracy} measures, for table headers: "val acc" or "val bpc". */
  Quality quality();

  /** A fresh model with the initial weights of {@code seed}, on the data batched {@code batch} at a time. */
  Model open(long seed, int batch);

  /**
   * @param steps optimizer steps
   * @param batch examples per step
   * @param evalEvery steps between validation evaluations (the points of the curves)
   */
  record Settings(int steps, int batch, int evalEvery) {}

  /** How the table shows a run's quality. */
  enum Quality {
    /** Validation accuracy in percent. */
    ACCURACY,
    /** Bits per character: the validation loss (nats per character) over ln 2. */
    BITS_PER_CHAR
  }

  /** The model of a task, with its data. */
  interface Model extends AutoCloseable {
    /** The root module: its {@code named_parameters()} are what an optimizer steps. */
    org.bytedeco.pytorch.Module module();

    /**
     * The mean training loss on step {@code step}'s batch (steps count from 1), with the autograd graph attached;
     * the caller runs backward. Call it inside a {@code PointerScope}: its temporaries are freed with it.
     */
    org.bytedeco.pytorch.Tensor loss(long step);

    /** Loss and accuracy on the whole validation set, without gradients. */
    Evaluation evaluate();

    @Override
    void close();
  }

  /**
   * @param loss mean cross-entropy in nats
   * @param accuracy the share of examples (digits) or characters (charlm) predicted right, 0 to 1
   */
  record Evaluation(double loss, double accuracy) {}
}
