package dev.optc.cli;

import static dev.optc.cli.CliTest.assertUsageError;
import static dev.optc.cli.CliTest.optc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.runtime.io.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad-input corpus, limits: numbers that parse but that no run can honour were internal errors (exit 70:
 * a thread pool's IllegalArgumentException, an OutOfMemoryError for the samples array). Each is now
 * exit 2 with one line that names the limit, before any work.
 */
class BadInputLimitsTest {
  @TempDir
  Path dir;

  static List<List<String>> cases() {
    return List.of(
        List.of("between 1 and 1024", "simulate", "adam", "--threads", "100000"),
        List.of("between 1 and 1024", "simulate", "adam", "--threads", "1025"),
        List.of("between 1 and 1024", "simulate", "adam", "--threads", "2147483647"),
        List.of("between 1 and 1024", "bench", "adamw", "--size", "1K", "--threads", "100000"),
        List.of("between 1 and 10000", "bench", "adamw", "--size", "1K", "--repeats", "2147483647",
            "--min-sample", "0"),
        List.of("between 0 and 10000", "bench", "adamw", "--size", "1K", "--warmup", "2147483647",
            "--min-sample", "0"),
        List.of("between 1 and 10000", "bench", "adamw", "--size", "1K", "--repeats", "0"));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("cases")
  void aNumberNoRunCanHonourIsAOneLineUsageError(List<String> c) throws IOException {
    Npy.write(dir.resolve("p.npy"), new long[] {3}, new float[] {1, 2, 3});
    Npy.write(dir.resolve("g.npy"), new long[] {2, 3}, new float[6]);
    var args = new java.util.ArrayList<>(c.subList(1, c.size()));
    if (args.getFirst().equals("simulate")) {
      args.addAll(List.of("--params", dir.resolve("p.npy").toString(), "--grads", dir.resolve("g.npy").toString(),
          "--out", dir.resolve("out.npy").toString()));
    }
    var r = optc(args);
    assertUsageError(r, false);
    assertTrue(r.err().contains(c.getFirst()), "names the limit '" + c.getFirst() + "': " + r);
    try (var files = Files.list(dir)) {
      assertEquals(2, files.count(), "nothing written: " + r);
    }
  }
}
