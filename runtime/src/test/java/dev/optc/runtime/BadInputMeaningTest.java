package dev.optc.runtime;

import static dev.optc.runtime.CheckpointTest.TENSORS;
import static dev.optc.runtime.CheckpointTest.assertOneLine;
import static dev.optc.runtime.CheckpointTest.assertRejected;
import static dev.optc.runtime.CheckpointTest.indexOf;
import static dev.optc.runtime.CheckpointTest.withChecksum;
import static dev.optc.runtime.Fixtures.build;
import static dev.optc.runtime.Fixtures.run;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.runtime.Fixtures.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bad-input corpus, meaning: state files whose checksum is right (recomputed by whoever forged them) but
 * whose values make no sense, and values and names the API cannot store. Each is a one-line
 * {@link OptcException} that names the limit and changes nothing.
 */
class BadInputMeaningTest {
  @TempDir
  Path dir;

  final Random rnd = new Random(System.nanoTime());

  /** A good adam state file after 7 steps with lr set in group 0; its bytes without the checksum. */
  byte[] goodBody(OptProgram p) throws Exception {
    var file = dir.resolve("good.state");
    try (var opt = build(p, TENSORS, List.of(Map.of("lr", 0.004), Map.of()),
        Fixtures.randomWeights(rnd, TENSORS))) {
      run(opt, Fixtures.randomGrads(rnd, TENSORS, 7), 0, 7);
      opt.save(file);
    }
    var good = Files.readAllBytes(file);
    return Arrays.copyOf(good, good.length - 8);
  }

  /** Where t is: after the magic, the version byte, and the program name and source hash as UTF. */
  static int stepOffset(OptProgram p) {
    return "OPTC-STATE".length() + 1 + 2 + p.name().length() + 2 + p.hash().length();
  }

  Path forged(String name, byte[] body) throws Exception {
    var f = dir.resolve(name);
    Files.write(f, withChecksum(body));
    return f;
  }

  @ParameterizedTest(name = "t = {0}")
  @ValueSource(longs = {-5, -1, Long.MIN_VALUE, Long.MAX_VALUE, (1L << 53) + 1})
  void aForgedStepCounterIsRejected(long t) throws Exception {
    var p = OptProgram.load("adam");
    var body = goodBody(p);
    int at = stepOffset(p);
    assertEquals(7, ByteBuffer.wrap(body, at, 8).getLong(), "layout of the state file");
    ByteBuffer.wrap(body, at, 8).putLong(t);
    try (var opt = build(p, TENSORS, List.of(Map.of(), Map.of()), Fixtures.randomWeights(rnd, TENSORS))) {
      var f = forged("t.state", body);
      assertRejected(opt, f, "t = " + t);
      var e = assertThrows(OptcException.class, () -> opt.restore(f));
      assertTrue(e.getMessage().contains("2^53"), "names the limit: " + e.getMessage());
      assertEquals(0, opt.t());
    }
  }

  @Test
  void theLargestStepCounterIsAccepted() throws Exception {
    var p = OptProgram.load("adam");
    var body = goodBody(p);
    ByteBuffer.wrap(body, stepOffset(p), 8).putLong(1L << 53);
    try (var opt = build(p, TENSORS, List.of(Map.of(), Map.of()), Fixtures.randomWeights(rnd, TENSORS))) {
      opt.restore(forged("max.state", body));
      assertEquals(1L << 53, opt.t());
    }
  }

  @ParameterizedTest(name = "lr = {0}")
  @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY})
  void aForgedNonFiniteHyperIsRejected(double lr) throws Exception {
    var p = OptProgram.load("adam");
    var body = goodBody(p);
    int at = indexOf(body, new byte[] {0, 2, 'l', 'r'}) + 4;
    assertTrue(at > 4, "the saved override of lr is in the file");
    assertEquals(0.004, ByteBuffer.wrap(body, at, 8).getDouble(), "layout of the state file");
    ByteBuffer.wrap(body, at, 8).putDouble(lr);
    try (var opt = build(p, TENSORS, List.of(Map.of(), Map.of()), Fixtures.randomWeights(rnd, TENSORS))) {
      var f = forged("lr.state", body);
      assertRejected(opt, f, "lr = " + lr);
      var e = assertThrows(OptcException.class, () -> opt.restore(f));
      assertTrue(e.getMessage().contains("finite"), e.getMessage());
    }
  }

  @Test
  void setHyperTakesFiniteValuesOnlySoEverySettingCanBeSavedAndRestored() throws Exception {
    var p = OptProgram.load("adam");
    try (var opt = build(p, TENSORS, List.of(Map.of(), Map.of()), Fixtures.randomWeights(rnd, TENSORS))) {
      for (double v : new double[] {Double.NaN, Double.POSITIVE_INFINITY}) {
        var e = assertThrows(OptcException.class, () -> opt.setHyper("lr", v));
        assertOneLine(e.getMessage());
        assertEquals(1e-3, opt.hyper(0, "lr"), "unchanged");
      }
      opt.setHyper("lr", 0.5);
      assertEquals(0.5, opt.hyper(1, "lr"));
    }
  }

  @Test
  void aScheduleThatGivesNaNFailsTheStepAndChangesNothing() throws Exception {
    var p = OptProgram.load("adam");
    try (var opt = build(p, TENSORS, List.of(Map.of(), Map.of()), Fixtures.randomWeights(rnd, TENSORS))) {
      run(opt, Fixtures.randomGrads(rnd, TENSORS, 2), 0, 2);
      opt.schedule("lr", 1e-3, s -> s < 3 ? 1 : 0.0 / 0.0);
      var before = Fixtures.snapshot(opt);
      var e = assertThrows(OptcException.class, opt::step);
      assertOneLine(e.getMessage());
      assertTrue(e.getMessage().contains("step 3"), e.getMessage());
      assertEquals(2, opt.t());
      Fixtures.assertSameSnapshot(before, Fixtures.snapshot(opt), "a failed step changes nothing");
    }
  }

  @Test
  void aHyperWhoseDefaultIsNotFiniteMayBeSetSo() throws Exception {
    // Not a constant expression (it reads a hyper), so the checker leaves it: its default is +inf.
    var p = Fixtures.compile("clipinf", """
        optimizer clipinf
        hyper lr = 0.1
        hyper big = 400
        hyper max_norm = 10^big
        w -= lr * g * min(1, max_norm / norm(g))
        """);
    var specs = List.of(new TensorSpec("x", new long[] {3}, 0));
    var file = dir.resolve("inf.state");
    try (var opt = build(p, specs, List.of(Map.of()), Fixtures.randomWeights(rnd, specs))) {
      assertEquals(Double.POSITIVE_INFINITY, opt.hyper(0, "max_norm"));
      opt.setHyper("max_norm", Double.POSITIVE_INFINITY);
      opt.save(file);
      assertDoesNotThrow(() -> opt.restore(file));
    }
  }

  @Test
  void aTensorNameTooLongForTheStateFileIsAOneLineErrorAndWritesNothing() throws Exception {
    var p = OptProgram.load("adam");
    var name = "layer.".repeat(11_000) + "weight"; // 66,006 bytes
    var specs = List.of(new TensorSpec(name, new long[] {2, 3}, 0));
    var file = dir.resolve("long.state");
    try (var opt = build(p, specs, List.of(Map.of()), Fixtures.randomWeights(rnd, specs))) {
      var e = assertThrows(OptcException.class, () -> opt.save(file));
      assertOneLine(e.getMessage());
      assertTrue(e.getMessage().contains("65535") || e.getMessage().contains("65,535"), e.getMessage());
      assertTrue(e.getMessage().length() < 300, "the name is not echoed whole: " + e.getMessage().length());
    }
    try (var files = Files.list(dir)) {
      assertEquals(List.of(), files.toList(), "nothing written, no temporary left");
    }
    var multibyte = "é".repeat(32_768); // 65,536 bytes in UTF-8, 32,768 chars
    var specs2 = List.of(new TensorSpec(multibyte, new long[] {2}, 0));
    try (var opt = build(p, specs2, List.of(Map.of()), Fixtures.randomWeights(rnd, specs2))) {
      assertThrows(OptcException.class, () -> opt.save(file));
    }
    assertFalse(Files.exists(file));
    var fits = "é".repeat(32_767);
    var specs3 = List.of(new TensorSpec(fits, new long[] {2}, 0));
    try (var opt = build(p, specs3, List.of(Map.of()), Fixtures.randomWeights(rnd, specs3))) {
      opt.save(file);
      opt.restore(file);
    }
    assertTrue(new String(Files.readAllBytes(file), StandardCharsets.UTF_8).contains(fits));
  }
}
