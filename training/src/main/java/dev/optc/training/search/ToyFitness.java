package dev.optc.training.search;

import dev.optc.compiler.ir.Interpreter;
import dev.optc.runtime.OptProgram;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A toy task for tests and quick trials, no libtorch: a noisy, ill-conditioned quadratic
 * {@code f(w) = ½ Σ aᵢ (wᵢ - cᵢ)²} with curvatures {@code aᵢ} from 1e-2 to 1 on a log scale, stepped by the
 * reference interpreter in float64. The loss is {@code f} after {@code steps} steps; every number is a function
 * of the seed.
 */
public final class ToyFitness implements Fitness {
  static final int ROWS = 4;
  static final int COLS = 8;
  private final int steps;
  private final long seed;

  public ToyFitness(int steps, long seed) {
    this.steps = steps;
    this.seed = seed;
  }

  @Override
  public String describe() {
    return String.format(Locale.ROOT, "toy quadratic, %d steps, seed %d: final loss", steps, seed);
  }

  @Override
  public double loss(OptProgram program, Map<String, Double> hypers, long deadlineNanos) {
    int n = ROWS * COLS;
    var random = new SplittableRandom(seed);
    var a = new double[n];
    var c = new double[n];
    for (int i = 0; i < n; i++) {
      a[i] = Math.pow(10, -2.0 * i / (n - 1));
      c[i] = random.nextGaussian();
    }
    var noise = new double[steps][n];
    for (var row : noise) {
      for (int i = 0; i < n; i++) {
        row[i] = 0.01 * random.nextGaussian();
      }
    }
    var ir = program.ir();
    try {
      var d = Interpreter.fresh(ir, ROWS, COLS, new double[n], new double[n], hypers);
      for (int t = 1; t <= steps; t++) {
        var g = new double[n];
        for (int i = 0; i < n; i++) {
          g[i] = a[i] * (d.w()[i] - c[i]) + noise[t - 1][i];
        }
        d = Interpreter.step(ir, List.of(d.withGrad(g)), hypers, t).tensors().getFirst();
        if (System.nanoTime() - deadlineNanos > 0) {
          return Double.POSITIVE_INFINITY;
        }
      }
      double f = 0;
      for (int i = 0; i < n; i++) {
        f += 0.5 * a[i] * (d.w()[i] - c[i]) * (d.w()[i] - c[i]);
      }
      return Double.isFinite(f) ? f : Double.POSITIVE_INFINITY;
    } catch (RuntimeException e) {
      return Double.POSITIVE_INFINITY;
    }
  }
}
