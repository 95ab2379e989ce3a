package dev.optc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.training.Natives;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code optc train}: bad input is one line and exit 2; a tiny run prints the table and writes its files. */
class TrainCommandTest {
  @TempDir
  Path dir;

  static List<List<String>> badArguments() {
    return List.of(
        List.of("mnist"),
        List.of(),
        List.of("digits", "--steps", "0"),
        List.of("digits", "--steps", "lots"),
        List.of("digits", "--batch", "0"),
        List.of("digits", "--eval-every", "0"),
        List.of("digits", "--optimizer", "adamw,"),
        List.of("digits", "--optimizer", "nosuchoptimizer"),
        List.of("digits", "--set", "lr"),
        List.of("digits", "--set", "nosuchhyper=1"),
        List.of("digits", "--set", "lion:lr=1e-3"),
        List.of("digits", "--optimizer", "lion", "--set", "lion:beta3=1"),
        List.of("digits", "--plot", "chart.txt"),
        List.of("digits", "--json", "/no/such/dir/x.json"),
        List.of("digits", "--backend", "nosuchbackend"),
        List.of("digits", "--optimizer", "adamw8bit", "--quantize-from", "0"),
        List.of("digits", "--quantize-from", "many"),
        List.of("digits", "--optimizer", "lion+"),
        List.of("digits", "--optimizer", "+adamw"),
        List.of("digits", "--optimizer", "lion+adamw+sgd"),
        List.of("digits", "--optimizer", "lion+nosuchoptimizer"),
        List.of("digits", "--optimizer", "lion+adamw", "--set", "lion+adamw:beta3=1"),
        List.of("digits", "--optimizer", "lion+adamw", "--set", "sgd:lr=1"));
  }

  /** The one-line messages of a combination's mistakes. */
  @Test
  void combinationErrorsSayWhatIsWrong() {
    var cases = List.of(
        List.of("lion+", "--optimizer 'lion+' has an empty program; a combination is A+B, e.g. --optimizer muon+adamw"),
        List.of("lion+adamw+sgd", "--optimizer 'lion+adamw+sgd' names 3 programs; a combination is two, A+B: A on the "
            + "hidden matrices, B on the embeddings, output head, biases and norm gains"));
    for (var c : cases) {
      var r = CliTest.optc("train", "digits", "--optimizer", c.get(0));
      CliTest.assertUsageError(r, true);
      assertTrue(r.err().contains(c.get(1)), r.toString());
    }
    var r = CliTest.optc("train", "digits", "--optimizer", "lion+adamw", "--set", "lion+adamw:beta3=1");
    assertTrue(r.err().contains("--set lion+adamw:beta3: neither program of lion+adamw has a hyper 'beta3'"),
        r.toString());
    r = CliTest.optc("train", "digits", "--optimizer", "lion+adamw", "--set", "lion:beta3=1");
    assertTrue(r.err().contains("--set lion:beta3: lion has no hyper 'beta3'"), r.toString());
  }

  /**
   * lion+adamw is one run called so; --set reaches each program by its name, the entry's programs by the entry's;
   * --peers runs adamw's peer and says the combination has none.
   */
  @Test
  void aCombinationTrainsAsOneRun() throws Exception {
    assumeTrue(Natives.unavailable() == null, () -> "skipped: " + Natives.unavailable());
    var json = dir.resolve("c.json");
    var r = CliTest.optc("train", "digits", "--optimizer", "lion+adamw,adamw", "--steps", "10", "--batch", "16",
        "--eval-every", "5", "--set", "lion:lr=1e-3", "--set", "lion+adamw:beta2=0.98", "--peers", "--json",
        json.toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("hypers (the rest are defaults): lion (hidden matrices in lion+adamw) beta2=0.98 "
        + "lr=0.001; adamw (the rest in lion+adamw) beta2=0.98 lr=0.003; adamw lr=0.003"), r.toString());
    assertTrue(r.out().contains("A+B: A steps the hidden matrices (2+ dimensions, not out.bias, out.weight), B the "
        + "rest"), r.toString());
    for (var row : List.of("lion\\+adamw\\s+optc", "adamw\\s+optc", "adamw\\s+libtorch")) {
      assertTrue(r.out().lines().anyMatch(l -> l.matches(row + "\\s+[0-9.]+\\s+[0-9.]+\\s+[0-9.]+%.*")), row + ": " + r);
    }
    assertTrue(r.err().contains("--peers: lion+adamw runs in optc only; libtorch has no optimizer that steps its "
        + "groups with two programs"), r.toString());
    var text = Files.readString(json);
    assertTrue(text.contains("\"optimizer\": \"lion+adamw\""), text);
  }

  @ParameterizedTest
  @MethodSource("badArguments")
  void badInputIsExit2(List<String> args) {
    var all = new ArrayList<>(List.of("train"));
    all.addAll(args);
    var r = CliTest.optc(all);
    CliTest.assertUsageError(r, true);
    assertEquals("", r.out(), r.toString());
  }

  @Test
  void peersOfOptimizersWithoutOneIsAUsageError() {
    assumeTrue(Natives.unavailable() == null, () -> "skipped: " + Natives.unavailable());
    var r = CliTest.optc("train", "digits", "--optimizer", "lion", "--peers", "--steps", "2");
    CliTest.assertUsageError(r, false);
    assertTrue(r.err().contains("--peers"), r.toString());
  }

  /**
   * 8- and 4-bit AdamW train the digits MLP (its two hidden matrices, 8,192 and 16,384 weights, are quantized; the
   * output layer, 1,280, keeps float32); with the threshold above every tensor, adamw8bit is AdamW bit for bit.
   */
  @Test
  void quantizedOptimizersTrainAndMatchAdamWWhenNothingIsQuantized() {
    assumeTrue(Natives.unavailable() == null, () -> "skipped: " + Natives.unavailable());
    var r = CliTest.optc("train", "digits", "--optimizer", "adamw,adamw8bit,adamw4bit", "--steps", "20", "--batch",
        "16", "--eval-every", "10");
    assertEquals(0, r.code(), r.toString());
    var all = CliTest.optc("train", "digits", "--optimizer", "adamw,adamw8bit", "--steps", "20", "--batch", "16",
        "--eval-every", "10", "--quantize-from", "1000000");
    assertEquals(0, all.code(), all.toString());
    var losses = all.out().lines().filter(l -> l.matches("adamw(8bit)?\\s+optc.*"))
        .map(l -> l.trim().split("\\s+")[3]).toList();
    assertEquals(2, losses.size(), all.toString());
    assertEquals(losses.get(0), losses.get(1), "no tensor reaches the threshold: the same run " + all);
    var quantized = r.out().lines().filter(l -> l.matches("adamw(8bit)?\\s+optc.*"))
        .map(l -> l.trim().split("\\s+")[3]).toList();
    assertNotEquals(quantized.get(0), quantized.get(1), "quantized states change the run: " + r);
  }

  @Test
  void tinyRunPrintsTheTableAndWritesFiles() throws Exception {
    assumeTrue(Natives.unavailable() == null, () -> "skipped: " + Natives.unavailable());
    var json = dir.resolve("t.json");
    var csv = dir.resolve("t.csv");
    var png = dir.resolve("t.png");
    var r = CliTest.optc("train", "digits", "--optimizer", "adamw,lion", "--steps", "20", "--batch", "16",
        "--eval-every", "10", "--set", "lion:lr=1e-3", "--peers", "--json", json.toString(), "--csv", csv.toString(),
        "--plot", png.toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().startsWith("optc train digits: "), r.toString());
    assertTrue(r.out().contains("hypers (the rest are defaults): adamw lr=0.003; lion lr=0.001"), r.toString());
    for (var row : List.of("adamw\\s+optc", "adamw\\s+libtorch", "lion\\s+optc")) {
      assertTrue(r.out().lines().anyMatch(l -> l.matches(row + "\\s+[0-9.]+\\s+[0-9.]+\\s+[0-9.]+%\\s+[0-9.]+\\s+"
          + "[0-9.]+\\s+\\d+%")), row + ": " + r);
    }
    assertFalse(r.out().contains("lion         libtorch"), "lion has no libtorch peer");
    assertEquals(6, r.errLines().size(), "a line per evaluation when stderr is no terminal: " + r);
    assertTrue(r.errLines().getFirst().startsWith("adamw optc: step 10/20 train "), r.toString());
    var text = Files.readString(json);
    assertTrue(text.startsWith("{\n  \"task\": \"digits\",\n  \"seed\": 0,\n  \"steps\": 20,\n  \"runs\": ["), text);
    assertTrue(text.contains("\"runner\": \"libtorch\""), text);
    assertEquals(1 + 3 * 2, Files.readAllLines(csv).size());
    assertTrue(Files.size(png) > 1000);
    assertFalse(Files.list(dir).anyMatch(p -> p.getFileName().toString().endsWith(".tmp")));
  }
}
