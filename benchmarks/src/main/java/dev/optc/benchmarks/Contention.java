package dev.optc.benchmarks;

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
