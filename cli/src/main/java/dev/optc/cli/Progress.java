package dev.optc.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.function.IntConsumer;

/**
 * Progress of a long command on stderr. On a terminal, a bar redrawn in place (only for work large enough
 * to be worth it). Elsewhere (a pipe, a CI log, a file) a plain line every {@link #lineSeconds()} seconds,
 * so that a long run never looks hung; a run shorter than that prints nothing, which keeps scripts' and
 * tests' output clean.
 */
final class Progress implements IntConsumer {
  private static final long WORTH_A_BAR = 50_000_000L;

  private final PrintWriter err;
  private final String command;
  private final String unit;
  private final boolean bar;
  private final boolean enabled;
  private final long start = System.nanoTime();
  private final long lineNanos = (long) (lineSeconds() * 1e9);
  private int total;
  private int lastPercent = -1;
  private long lastLine = start;
  private boolean drawn;

  private Progress(PrintWriter err, String command, int total, String unit, boolean bar, boolean enabled) {
    this.err = err;
    this.command = command;
    this.total = total;
    this.unit = unit;
    this.bar = bar;
    this.enabled = enabled;
  }

  /** Steps of {@code command} over {@code work} element-steps in all: a bar only when that is large. */
  static Progress forSteps(PrintWriter err, String command, int steps, long work) {
    boolean terminal = stderrIsTerminal();
    return new Progress(err, command, steps, "step", terminal, steps > 1 && (!terminal || work >= WORTH_A_BAR));
  }

  /** Items that each take a while (runs, benchmark rows), named {@code unit}; the total may grow. */
  static Progress forItems(PrintWriter err, String command, int items, String unit) {
    return new Progress(err, command, items, unit, stderrIsTerminal(), true);
  }

  @Override
  public void accept(int done) {
    update(done, total, "");
  }

  /** {@code done} of {@code total} finished, {@code label} (may be empty) starting now. */
  void update(int done, int total, String label) {
    this.total = total;
    if (!enabled || total <= 0) {
      return;
    }
    long now = System.nanoTime();
    double seconds = (now - start) / 1e9;
    int percent = (int) (100L * done / total);
    if (bar) {
      if (percent == lastPercent && label.isEmpty()) {
        return;
      }
      lastPercent = percent;
      int width = 30;
      int filled = (int) ((long) width * done / total);
      err.printf(Locale.ROOT, "\r[%s%s] %3d%%  %s %d/%d  %.1fs  %-40.40s", "#".repeat(filled),
          " ".repeat(width - filled), percent, unit, done, total, seconds, label);
      err.flush();
      drawn = true;
    } else if (now - lastLine >= lineNanos) {
      lastLine = now;
      err.printf(Locale.ROOT, "optc %s: %s %d/%d (%d%%), %.0f s%s%n", command, unit, done, total, percent, seconds,
          label.isEmpty() ? "" : ", " + label);
      err.flush();
    }
  }

  /** Erases the bar, so a line of output can go where it was; the next update draws it again. */
  void clearLine() {
    if (bar && drawn) {
      err.print("\r" + " ".repeat(120) + "\r");
      err.flush();
      lastPercent = -1;
      drawn = false;
    }
  }

  void done() {
    clearLine();
  }

  /**
   * Seconds between progress lines when stderr is not a terminal: 10, or the system property
   * {@code optc.progress.seconds} (tests set 0: a line at every update).
   */
  static double lineSeconds() {
    try {
      return Double.parseDouble(System.getProperty("optc.progress.seconds", "10"));
    } catch (NumberFormatException e) {
      return 10;
    }
  }

  /** Whether fd 2 is a terminal (so that 'optc bench > table.txt' shows the bar and '2> log' lines). */
  static boolean stderrIsTerminal() {
    try {
      var target = Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
      return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
    } catch (IOException | UnsupportedOperationException | SecurityException e) {
      return System.console() != null; // elsewhere: stdin and stdout are a terminal
    }
  }
}
