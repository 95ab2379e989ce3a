package dev.optc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code optc bench}: bad input is one line and exit 2; a tiny run prints the table and writes its files. */
class BenchCommandTest {
  @TempDir
  Path dir;

  static List<List<String>> badArguments() {
    return List.of(
        List.of("--size", "lots"),
        List.of("--size", "0"),
        List.of("--size", "4M", "--model", "gpt2-small"),
        List.of("--model", "gpt5"),
        List.of("--tensors", "0"),
        List.of("--fusion", "fast"),
        List.of("--fusion", "full,"),
        List.of("--arena", "disk"),
        List.of("--arena", "heap,"),
        List.of("--backend", "cuda"),
        List.of("--backend", "java64"),
        List.of("--backend", "java,java"),
        List.of("--backend", "opencl:x"),
        List.of("--threads", "0"),
        List.of("--repeats", "0"),
        List.of("--warmup", "-1"),
        List.of("--min-sample", "-1"),
        List.of("--max-cpu-wait", "101"),
        List.of("--plot", "chart.txt"),
        List.of("--json", "/no/such/dir/x.json"),
        List.of("nosuchoptimizer", "--size", "8"),
        List.of("adamw", "--size", "8", "--set", "momentum=0.9"),
        List.of("adamw", "--size", "8", "--set", "lr"),
        List.of("sgd", "--size", "8", "--set", "momentum=0.5", "--torch"));
  }

  @ParameterizedTest
  @MethodSource("badArguments")
  void badInputIsExit2(List<String> args) {
    var all = new java.util.ArrayList<>(List.of("bench"));
    all.addAll(args);
    var r = CliTest.optc(all);
    CliTest.assertUsageError(r, true);
    assertEquals("", r.out(), r.toString());
  }

  @Test
  void tinyRunPrintsTheTableAndWritesFiles() throws Exception {
    var json = dir.resolve("b.json");
    var csv = dir.resolve("b.csv");
    var r = CliTest.optc("bench", "--tensors", "3", "--fusion", "full,statement", "--threads", "1", "--warmup", "0",
        "--repeats", "1", "--min-sample", "0", "--json", json.toString(), "--csv", csv.toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().startsWith("optc bench: 3 tensors x 1024"), r.toString());
    for (var variant : List.of("copy", "probe", "full", "statement")) {
      assertTrue(r.out().lines().anyMatch(l -> l.matches("adamw\\s+java\\s+" + variant + "\\s+\\d+\\s+[0-9.]+.*")),
          variant + " row: " + r);
    }
    // Not a terminal: no bar, at most a progress line every 10 s (a loaded machine may take that long).
    assertTrue(r.err().lines().allMatch(l -> l.startsWith("optc bench: row ")) && !r.err().contains("\r"),
        "no progress bar when stderr is not a terminal: " + r.err());
    assertTrue(Files.readString(json).contains("\"optimizer\": \"adamw\""));
    assertEquals(5, Files.readAllLines(csv).size());
    assertFalse(Files.list(dir).anyMatch(p -> p.getFileName().toString().endsWith(".tmp")));
  }
}
