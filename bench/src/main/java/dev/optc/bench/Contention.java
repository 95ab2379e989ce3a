package dev.optc.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How long runnable threads waited for a CPU, from Linux's pressure stall information
 * ({@code /proc/pressure/cpu}, the "some" line: microseconds during which at least one runnable task had
 * no CPU). On a shared machine that is other work competing with the benchmark: a sample during which it
 * is high measured the neighbours as much as the code, and the harness takes it again.
 */
public final class Contention {
  private static final Path PSI = Path.of("/proc/pressure/cpu");

  private Contention() {}

  /**
   * Waits, at most until {@code deadline} ({@link System#nanoTime()}), for the other work on the machine to
   * stop: until the CPUs are at least 90% idle over half a second while this process sleeps. Returns at
   * once where {@code /proc/stat} cannot be read.
   */
  public static void awaitIdle(long deadline) {
    while (System.nanoTime() < deadline) {
      long[] a = cpuTimes();
      try {
        Thread.sleep(500);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      long[] b = cpuTimes();
      if (a == null || b == null) {
        return;
      }
      long total = b[0] - a[0];
      long idle = b[1] - a[1];
      if (total <= 0 || idle >= 0.9 * total) {
        return;
      }
    }
  }

  /** All jiffies and idle jiffies (idle + iowait) of all CPUs, from {@code /proc/stat}; null if unknown. */
  private static long[] cpuTimes() {
    try (var lines = Files.lines(Path.of("/proc/stat"))) {
      var cpu = lines.filter(l -> l.startsWith("cpu ")).findFirst().orElse(null);
      if (cpu == null) {
        return null;
      }
      var f = cpu.substring(4).strip().split("\\s+");
      long total = 0;
      for (var x : f) {
        total += Long.parseLong(x);
      }
      return new long[] {total, Long.parseLong(f[3]) + (f.length > 4 ? Long.parseLong(f[4]) : 0)};
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Microseconds of CPU waiting so far (a running total), or -1 where the kernel does not report it. */
  public static long waitedMicros() {
    try {
      for (var line : Files.readAllLines(PSI)) {
        if (line.startsWith("some ")) {
          int at = line.indexOf("total=");
          return at < 0 ? -1 : Long.parseLong(line.substring(at + "total=".length()).strip());
        }
      }
      return -1;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
