package dev.optc.training.search;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.runtime.Backend;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.training.Natives;
import dev.optc.training.OptcStepRunner;
import dev.optc.training.Task;
import dev.optc.training.Trainer;
import java.util.Locale;
import java.util.Map;

/**
 * Fitness from real training: the validation loss after {@code steps} steps of a {@link Task} (libtorch forward
 * and backward, optc's step on the Java backend), from the seed's weights and batches. Runs on the calling thread:
 * a model and its bound parameters belong to the thread that made them ({@code docs/training.md}).
 */
public final class TaskFitness implements Fitness {
  private final Task task;
  private final int steps;
  private final int batch;
  private final long seed;
  private final Backend backend;

  /** Steps by {@link JavaBackend#interpreted}: no javac and no JIT warm-up per candidate, the same bits. */
  public TaskFitness(Task task, int steps, int batch, long seed) {
    this(task, steps, batch, seed, true);
  }

  /** {@code interpreted} false: each candidate's step is a generated class, compiled by javac. */
  public TaskFitness(Task task, int steps, int batch, long seed, boolean interpreted) {
    this.task = task;
    this.steps = steps;
    this.batch = batch;
    this.seed = seed;
    int threads = Natives.configuredThreads();
    this.backend = interpreted ? JavaBackend.interpreted(threads)
        : new JavaBackend(JavaEmitter.Precision.F32, threads);
    Natives.load();
  }

  @Override
  public String describe() {
    return String.format(Locale.ROOT, "%s, %d steps of %d, seed %d: validation loss", task.name(), steps, batch, seed);
  }

  /** Thrown from the trainer's listener to stop a run past its deadline (the trainer closes the model). */
  private static final class TimeUp extends RuntimeException {
    TimeUp() {
      super(null, null, false, false);
    }
  }

  @Override
  public double loss(OptProgram program, Map<String, Double> hypers, long deadlineNanos) {
    // one validation at the end (the fitness), one halfway: where a run past its deadline stops
    var config = new Trainer.Config(task, steps, batch, Math.max(1, steps / 2), seed);
    try {
      var run = Trainer.run(config, OptcStepRunner.factory(program, backend, hypers), (o, r, p, n) -> {
        if (System.nanoTime() - deadlineNanos > 0) {
          throw new TimeUp();
        }
      });
      return run.diverged() != 0 || !Double.isFinite(run.valLoss()) ? Double.POSITIVE_INFINITY : run.valLoss();
    } catch (TimeUp e) {
      return Double.POSITIVE_INFINITY;
    }
  }
}
