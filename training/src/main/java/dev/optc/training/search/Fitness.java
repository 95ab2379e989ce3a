package dev.optc.training.search;

import dev.optc.runtime.OptProgram;
import java.util.Map;

/** What the search minimizes: a candidate's loss after a short training run. */
public interface Fitness {
  /** One line for headers and history: the task and its settings. */
  String describe();

  /**
   * The loss of a run of {@code program} with these hyper values, or {@link Double#POSITIVE_INFINITY} when the
   * run diverged (a loss that is NaN or infinite) or passed {@code deadlineNanos} ({@link System#nanoTime}).
   */
  double loss(OptProgram program, Map<String, Double> hypers, long deadlineNanos);
}
