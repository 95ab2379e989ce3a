package dev.optc.runtime;

import java.util.function.LongToDoubleFunction;

/**
 * Learning-rate schedules for the runtime, as multipliers of a base value at step {@code t} (1 on the
 * first step): the same formulas as the prelude's defs ({@code linear_warmup}, {@code cosine}, …) that a
 * {@code .opt} file can call, so a schedule gives the same values whether it is written in the program or
 * set from the training loop with {@link Optimizer#schedule}. torch's schedulers count from 0: their step
 * is {@code t - 1}.
 */
public final class Schedules {
  private Schedules() {}

  /** 1/warmup on the first step, rising linearly to 1 at step {@code warmup}. */
  public static LongToDoubleFunction linearWarmup(double warmup) {
    return t -> Math.min(1, t / Math.max(warmup, 1));
  }

  /** torch CosineAnnealingLR with T_max = total and eta_min = minRatio × base. */
  public static LongToDoubleFunction cosine(double total, double minRatio) {
    return t -> minRatio + (1 - minRatio) * (1 + Math.cos(Math.PI * Math.min(t - 1, total) / total)) / 2;
  }

  /** Linear warmup for {@code warmup} steps, then cosine, reaching {@code minRatio} at t = total + 1. */
  public static LongToDoubleFunction warmupCosine(double warmup, double total, double minRatio) {
    var after = cosine(total - warmup, minRatio);
    return t -> t <= warmup ? t / warmup : after.applyAsDouble((long) (t - warmup));
  }

  /** torch StepLR: times gamma every {@code stepSize} steps. */
  public static LongToDoubleFunction stepDecay(double stepSize, double gamma) {
    return t -> Math.pow(gamma, Math.floor((t - 1) / stepSize));
  }

  /** torch ExponentialLR: times gamma every step. */
  public static LongToDoubleFunction exponential(double gamma) {
    return t -> Math.pow(gamma, t - 1);
  }

  /** torch OneCycleLR (cosine, two phases), as a multiple of the maximum value. */
  public static LongToDoubleFunction oneCycle(double total, double pctStart, double divFactor,
      double finalDivFactor) {
    return t -> {
      double end1 = pctStart * total - 1;
      if (t - 1 <= end1) {
        return annealCos(1 / divFactor, 1, (t - 1) / end1);
      }
      return annealCos(1, 1 / (divFactor * finalDivFactor), (t - pctStart * total) / (total - pctStart * total));
    };
  }

  /** SGDR, torch CosineAnnealingWarmRestarts with T_mult = 1. */
  public static LongToDoubleFunction cosineRestarts(double period, double minRatio) {
    return t -> minRatio + (1 - minRatio)
        * (1 + Math.cos(Math.PI * ((t - 1) - period * Math.floor((t - 1) / period)) / period)) / 2;
  }

  static double annealCos(double a, double b, double pct) {
    return b + (a - b) / 2 * (1 + Math.cos(Math.PI * pct));
  }
}
