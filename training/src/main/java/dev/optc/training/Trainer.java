package dev.optc.training;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;

/**
 * The training loop: a fresh model of the task (the seed's weights), its parameters bound to flat buffers, one
 * {@link StepRunner}; per step: zero the gradient buffer, forward and backward on the step's batch (libtorch),
 * then the runner's step. Every {@code evalEvery} steps a point of the curves: the mean training loss since the
 * last point and the validation loss and accuracy, measured at the runner's evaluation point
 * ({@link StepRunner#atEvaluationPoint}: x for a program with {@code evaluate x}, else the weights).
 *
 * <p>Runs on the calling thread; each step's libtorch temporaries are freed by a {@link PointerScope}.
 */
public final class Trainer {
  private Trainer() {}

  /** What to run: {@code steps} steps of {@code batch} examples from the seed's model and batches. */
  public record Config(Task task, int steps, int batch, int evalEvery, long seed) {
    public Config {
      if (steps < 1) {
        throw new IllegalArgumentException("steps must be at least 1");
      }
      if (evalEvery < 1) {
        throw new IllegalArgumentException("evalEvery must be at least 1");
      }
    }
  }

  /** A point of a run's curves, after {@code step} steps. */
  public record Point(int step, double trainLoss, double valLoss, double valAccuracy) {}

  /**
   * One finished run.
   *
   * @param trainLoss the mean training loss over the steps of the last point
   * @param stepMs the median time of the optimizer step, in milliseconds
   * @param forwardBackwardMs the median time of zeroing the gradients, forward and backward
   * @param diverged the step whose loss was not finite (the run stopped there), or 0
   */
  public record Run(String optimizer, String runner, Map<String, Double> hypers, double trainLoss, double valLoss,
      double valAccuracy, double stepMs, double forwardBackwardMs, List<Point> curve, int diverged) {
    public Run {
      hypers = Map.copyOf(hypers);
      curve = List.copyOf(curve);
    }

    /** The optimizer step's share of a training step's time (forward, backward and step). */
    public double stepShare() {
      return stepMs / (stepMs + forwardBackwardMs);
    }
  }

  /** Told after each point of a run's curves. */
  @FunctionalInterface
  public interface Listener {
    void point(String optimizer, String runner, Point point, int steps);
  }

  /** Trains the task's model with one optimizer; see the class comment. */
  @SuppressWarnings("try") // a PointerScope frees what is made inside it, unreferenced
  public static Run run(Config config, StepRunner.Factory factory, Listener listener) {
    Natives.load();
    int steps = config.steps();
    var forwardBackward = new double[steps];
    var step = new double[steps];
    var curve = new ArrayList<Point>();
    double sinceLast = 0;
    int count = 0;
    int diverged = 0;
    int done = 0;
    Map<String, Double> hypers;
    try (var model = config.task().open(config.seed(), config.batch());
        var runner = factory.open(model.module())) {
      var params = runner.params();
      hypers = runner.hypers();
      for (int s = 1; s <= steps; s++) {
        long t0 = System.nanoTime();
        params.zeroGrads();
        double loss;
        try (var scope = new PointerScope()) {
          var l = model.loss(s);
          l.backward();
          loss = l.item_double();
          params.checkViews();
        }
        long t1 = System.nanoTime();
        runner.step();
        long t2 = System.nanoTime();
        forwardBackward[s - 1] = (t1 - t0) / 1e6;
        step[s - 1] = (t2 - t1) / 1e6;
        done = s;
        if (!Double.isFinite(loss)) {
          diverged = s;
        }
        sinceLast += loss;
        count++;
        if (diverged != 0 || s % config.evalEvery() == 0 || s == steps) {
          // At the optimizer's evaluation point (Schedule-Free's x), the training weights put back after.
          var e = runner.atEvaluationPoint(model::evaluate);
          var point = new Point(s, sinceLast / count, e.loss(), e.accuracy());
          curve.add(point);
          listener.point(factory.optimizer(), factory.runner(), point, steps);
          sinceLast = 0;
          count = 0;
        }
        if (diverged != 0) {
          break;
        }
      }
    }
    var last = curve.getLast();
    return new Run(factory.optimizer(), factory.runner(), hypers, last.trainLoss(), last.valLoss(),
        last.valAccuracy(), median(step, done), median(forwardBackward, done), curve, diverged);
  }

  static double median(double[] values, int n) {
    var a = Arrays.copyOf(values, n);
    Arrays.sort(a);
    return n == 0 ? Double.NaN : n % 2 == 1 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
  }
}
