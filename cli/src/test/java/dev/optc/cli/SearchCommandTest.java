package dev.optc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.bench.Json;
import dev.optc.training.Natives;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** {@code optc search}: bad input is one line and exit 2; a toy search writes its files and reproduces by seed. */
class SearchCommandTest {
  @TempDir
  Path dir;

  static List<List<String>> badArguments() {
    return List.of(
        List.of("--task", "mnist", "--from", "sgd"),
        List.of("--from", "sgd"),
        List.of("--task", "toy"),
        List.of("--task", "toy", "--from", "nosuchoptimizer"),
        List.of("--task", "toy", "--from", "sgd", "--evals", "0"),
        List.of("--task", "toy", "--from", "sgd", "--budget", "soon"),
        List.of("--task", "toy", "--from", "sgd", "--population", "1"),
        List.of("--task", "toy", "--from", "sgd", "--tournament", "50"),
        List.of("--task", "toy", "--from", "sgd", "--lr-grid", "0.1,-1"),
        List.of("--task", "toy", "--from", "sgd", "--mutations", "grow=1"),
        List.of("--task", "toy", "--from", "sgd", "--engine", "fast"),
        List.of("--task", "toy,digits", "--from", "sgd"),
        List.of("--task", "digits", "--task", "digits", "--from", "sgd"),
        List.of("--task", "toy", "--from", "sgd", "--funnel-steps", "100"));
  }

  @ParameterizedTest
  @MethodSource("badArguments")
  void badInputIsExit2(List<String> args) {
    var all = new ArrayList<>(List.of("search"));
    all.addAll(args);
    if (!args.contains("--out")) {
      all.addAll(List.of("--out", dir.resolve("o").toString()));
    }
    var r = CliTest.optc(all);
    CliTest.assertUsageError(r, true);
    assertEquals("", r.out(), r.toString());
  }

  private CliTest.Result toy(String out, String seed) {
    return CliTest.optc("search", "--task", "toy", "--from", "sgd", "--evals", "80", "--population", "8",
        "--tournament", "3", "--seed", seed, "--out", dir.resolve(out).toString());
  }

  @Test
  void aToySearchWritesItsFilesAndReproducesBySeed() throws Exception {
    var r = toy("a", "4");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().startsWith("optc search: toy quadratic"), r.toString());
    assertTrue(r.out().contains("80 candidates in "), r.toString());
    var best = Files.readString(dir.resolve("a/best.opt"));
    assertTrue(best.startsWith("# Found by optc search: optc search --task toy"), best);
    assertTrue(best.contains("\noptimizer found_"), best);
    assertTrue(Files.exists(dir.resolve("a/top-01.opt")));
    var history = Files.readAllLines(dir.resolve("a/history.jsonl"));
    assertEquals(80, history.size());
    assertTrue(history.getFirst().startsWith("{\"index\":0,\"hash\":\""), history.getFirst());
    var png = Files.readAllBytes(dir.resolve("a/fitness.png"));
    assertTrue(png.length > 1000 && png[0] == (byte) 0x89 && png[1] == 'P', "fitness.png is a PNG");
    assertFalse(Files.list(dir.resolve("a")).anyMatch(p -> p.getFileName().toString().endsWith(".tmp")));
    // the same seed: the same candidates and fitness (times differ)
    assertEquals(0, toy("b", "4").code());
    assertEquals(withoutTimes(history), withoutTimes(Files.readAllLines(dir.resolve("b/history.jsonl"))));
    assertEquals(0, toy("c", "5").code());
    assertNotEquals(withoutTimes(history), withoutTimes(Files.readAllLines(dir.resolve("c/history.jsonl"))));
  }

  @Test
  void ablationAndFunnel() throws Exception {
    var r = CliTest.optc("search", "--task", "toy", "--from", "sgd", "--evals", "60", "--ablate", "--funnel", "2",
        "--out", dir.resolve("ab").toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("\nfunnel: 2 runs per candidate (toy quadratic, 300 steps, seed 1: final loss; "
        + "toy quadratic, 300 steps, seed 2"), r.toString());
    var funnel = Files.readAllLines(dir.resolve("ab/funnel.jsonl"));
    assertEquals(3, funnel.size(), funnel.toString());
    assertEquals(3, funnel.stream().map(l -> l.substring(0, 28)).distinct().count(), funnel.toString());
    // the hall of fame: one file per admitted candidate, best score first, each with the funnel's lines
    var admitted = funnel.stream().filter(l -> l.contains("\"admitted\":true")).count();
    for (int i = 1; i <= admitted; i++) {
      var text = Files.readString(dir.resolve(String.format("ab/hall-of-fame-%02d.opt", i)));
      assertTrue(text.startsWith("# Found by optc search") && text.contains("\n# funnel: score "), text);
    }
    assertFalse(Files.exists(dir.resolve(String.format("ab/hall-of-fame-%02d.opt", admitted + 1))));
    assertTrue(r.out().contains("\nablation: "), r.toString());
    var ablated = Files.readString(dir.resolve("ab/best-ablated.opt"));
    var best = Files.readString(dir.resolve("ab/best.opt"));
    assertTrue(ablated.contains("(then ablation: "), ablated);
    assertTrue(ablated.lines().count() <= best.lines().count(), ablated + "\nvs\n" + best);
  }

  /** 40 candidates, then --resume to 80: the history of an uninterrupted 80 (times aside), and the same files. */
  @Test
  void resumeEqualsUninterrupted() throws Exception {
    var first = CliTest.optc("search", "--task", "toy", "--from", "sgd", "--evals", "40", "--population", "8",
        "--tournament", "3", "--seed", "4", "--out", dir.resolve("r").toString());
    assertEquals(0, first.code(), first.toString());
    assertEquals(40, Files.readAllLines(dir.resolve("r/history.jsonl")).size());
    assertTrue(Files.exists(dir.resolve("r/search.json")));
    var resumed = CliTest.optc("search", "--task", "toy", "--from", "sgd", "--evals", "80", "--population", "8",
        "--tournament", "3", "--seed", "4", "--out", dir.resolve("r").toString(), "--resume");
    assertEquals(0, resumed.code(), resumed.toString());
    assertEquals(0, toy("u", "4").code());
    assertEquals(withoutTimes(Files.readAllLines(dir.resolve("u/history.jsonl"))),
        withoutTimes(Files.readAllLines(dir.resolve("r/history.jsonl"))));
    assertEquals(Files.readString(dir.resolve("u/best.opt")).lines().filter(l -> !l.startsWith("#")).toList(),
        Files.readString(dir.resolve("r/best.opt")).lines().filter(l -> !l.startsWith("#")).toList());
    // other settings: refused in one line, the history left as it was
    var before = Files.readString(dir.resolve("r/history.jsonl"));
    var other = CliTest.optc("search", "--task", "toy", "--from", "sgd", "--evals", "90", "--population", "8",
        "--tournament", "3", "--seed", "5", "--out", dir.resolve("r").toString(), "--resume");
    assertEquals(2, other.code(), other.toString());
    assertTrue(other.err().contains("ran with seed 4, not 5"), other.toString());
    assertEquals(before, Files.readString(dir.resolve("r/history.jsonl")));
    var none = CliTest.optc("search", "--task", "toy", "--from", "sgd", "--evals", "10", "--out",
        dir.resolve("empty").toString(), "--resume");
    assertEquals(2, none.code(), none.toString());
    assertTrue(none.err().contains("holds no search to resume"), none.toString());
  }

  private static List<String> withoutTimes(List<String> lines) {
    return lines.stream().map(l -> l.replaceAll("\"(eval_ms|compile_ms)\":[0-9.]+,", "")
        .replaceAll("\"run_ms\":\\[[0-9.,]*\\],", "")).toList();
  }

  @Test
  void aTinyDigitsSearchRuns() throws Exception {
    assumeTrue(Natives.unavailable() == null, () -> "skipped: " + Natives.unavailable());
    var r = CliTest.optc("search", "--task", "digits", "--from", "sgd", "--evals", "3", "--steps", "100",
        "--population", "2", "--tournament", "1", "--out", dir.resolve("d").toString());
    assertEquals(0, r.code(), r.toString());
    assertEquals(3, Files.readAllLines(dir.resolve("d/history.jsonl")).size());
    assertTrue(Files.readString(dir.resolve("d/best.opt")).contains("digits, 100 steps"));
  }

  /**
   * The interpreted steps give the generated classes' bits: a digits search from AdamW writes the same history
   * (hashes, fitness, lr) with either engine.
   */
  @Test
  void bothEnginesGiveTheSameHistory() throws Exception {
    assumeTrue(Natives.unavailable() == null, () -> "skipped: " + Natives.unavailable());
    var fields = new ArrayList<List<Object>>();
    for (var engine : List.of("interpreted", "javac")) {
      var r = CliTest.optc("search", "--task", "digits", "--from", "adamw", "--evals", "10", "--steps", "30",
          "--population", "4", "--tournament", "2", "--seed", "5", "--engine", engine, "--out",
          dir.resolve(engine).toString());
      assertEquals(0, r.code(), r.toString());
      var lines = Files.readAllLines(dir.resolve(engine + "/history.jsonl"));
      assertEquals(10, lines.size());
      var list = new ArrayList<Object>();
      for (var line : lines) {
        var c = (Map<?, ?>) Json.parse(line);
        list.add(List.of(c.get("hash"), String.valueOf(c.get("fitness")), String.valueOf(c.get("lr"))));
      }
      fields.add(list);
    }
    assertEquals(fields.get(0), fields.get(1));
    assertTrue(fields.get(0).stream().map(Object::toString).distinct().count() > 2, "the search evaluated several");
  }

  /** A second task scores the finalists: the funnel trains each on digits and on charlm, each at its own lr grid. */
  @Test
  void theFunnelTriesEveryTask() throws Exception {
    assumeTrue(Natives.unavailable() == null, () -> "skipped: " + Natives.unavailable());
    var r = CliTest.optc("search", "--task", "digits", "--task", "charlm", "--from", "sgd", "--evals", "4", "--steps",
        "10", "--population", "2", "--tournament", "1", "--funnel", "1", "--funnel-seeds", "1", "--funnel-steps", "3",
        "--out", dir.resolve("two").toString());
    assertEquals(0, r.code(), r.toString());
    var funnel = Files.readAllLines(dir.resolve("two/funnel.jsonl"));
    // the seed, and the best other candidate if the 4 made one that is not a copy of the seed
    assertTrue(funnel.size() == 1 || funnel.size() == 2, funnel.toString());
    for (var line : funnel) {
      var runs = (List<?>) ((Map<?, ?>) Json.parse(line)).get("runs");
      assertEquals(List.of("digits", "charlm"), runs.stream().map(x -> ((Map<?, ?>) x).get("task")).toList(), line);
    }
    assertTrue(r.out().contains("hall of fame: "), r.toString());
  }
}
