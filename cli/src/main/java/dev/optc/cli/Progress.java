package dev.optc.cli;

import java.util.function.IntConsumer;

/**
 * A progress bar on the terminal's stderr for long runs. Silent when stderr is not a terminal (pipes,
 * CI, tests) or the work is small, so output stays clean for scripts.
 */
final class Progress implements IntConsumer {
  private static final long WORTH_SHOWING = 50_000_000L;
  private final int total;
  private final String unit;
  private final boolean enabled;
  private final long start = System.nanoTime();
  private int lastPercent = -1;

  private Progress(int total, String unit, boolean enabled) {
    this.total = total;
    this.unit = unit;
    this.enabled = enabled;
  }

  static Progress forSteps(int steps, long work) {
    return new Progress(steps, "step", System.console() != null && work >= WORTH_SHOWING && steps > 1);
  }

  /** For a list of items that each take a while, named {@code unit}: shown whenever there are several. */
  static Progress forItems(int items, String unit) {
    return new Progress(items, unit, System.console() != null && items > 1);
  }

  @Override
  public void accept(int done) {
    if (!enabled) {
      return;
    }
    int percent = (int) (100L * done / total);
    if (percent == lastPercent) {
      return;
    }
    lastPercent = percent;
    int width = 30;
    int filled = width * done / total;
    double seconds = (System.nanoTime() - start) / 1e9;
    System.err.printf("\r[%s%s] %3d%%  %s %d/%d  %.1fs", "#".repeat(filled), " ".repeat(width - filled),
        percent, unit, done, total, seconds);
    System.err.flush();
  }

  /** Erases the bar, so a line of output can go where it was; the next update draws it again. */
  void clearLine() {
    if (enabled && lastPercent >= 0) {
      System.err.print("\r" + " ".repeat(60) + "\r");
      System.err.flush();
      lastPercent = -1;
    }
  }

  void done() {
    if (enabled && lastPercent >= 0) {
      System.err.println();
    }
  }
}
