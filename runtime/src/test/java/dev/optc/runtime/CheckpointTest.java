package dev.optc.runtime;

import static dev.optc.runtime.Fixtures.assertSameSnapshot;
import static dev.optc.runtime.Fixtures.build;
import static dev.optc.runtime.Fixtures.compile;
import static dev.optc.runtime.Fixtures.groups;
import static dev.optc.runtime.Fixtures.noOverrides;
import static dev.optc.runtime.Fixtures.run;
import static dev.optc.runtime.Fixtures.snapshot;
import static dev.optc.runtime.Fixtures.weights;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.runtime.Fixtures.Snapshot;
import dev.optc.runtime.Fixtures.TensorSpec;
import dev.optc.runtime.io.Npy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Optimizer#save} and {@link Optimizer#restore}: a restored optimizer continues bit-identically,
 * saving is atomic, and every kind of bad state file is a one-line {@link OptcException} naming the file
 * that leaves the optimizer exactly as it was.
 */
class CheckpointTest {

  /** Row, column, scalar and element states, per-tensor and matrix-view reductions, and {@code t}. */
  static final String ROWCOL = """
      optimizer rowcol
      hyper lr = 0.01
      hyper beta = 0.9
      hyper eps = 1e-30
      state r : row
      state c : col
      state s : scalar
      state m
      g2 = g*g + eps
      r = beta*r + (1 - beta)*rowmean(g2)
      c = beta*c + (1 - beta)*colmean(g2)
      s = s + mean(g2)
      m = beta*m + (1 - beta)*g
      v = r * c / mean(r)
      w -= lr / (1 - beta^t) * m * rsqrt(v + eps) / (1 + s)
      """;

  /** Adam moments with a bf16 second moment and a norm-based trust ratio. */
  static final String LAMB = """
      optimizer lamb
      hyper lr = 1e-3
      hyper beta1 = 0.9
      hyper beta2 = 0.999
      hyper eps = 1e-6
      hyper weight_decay = 0.01
      state m
      state v as bf16
      m = beta1*m + (1 - beta1)*g
      v = beta2*v + (1 - beta2)*g^2
      u = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps) + weight_decay*w
      wn = norm(w)
      un = norm(u)
      trust = wn > 0 and un > 0 ? wn / un : 1
      w -= lr * trust * u
      """;

  static final List<TensorSpec> TENSORS = List.of(
      new TensorSpec("fc.weight", new long[] {7, 5}, 0),
      new TensorSpec("fc.bias", new long[] {5}, 1),
      new TensorSpec("conv.weight", new long[] {3, 2, 4}, 0),
      new TensorSpec("scale", new long[] {}, 1));

  final long seed = System.nanoTime();
  final Random rnd = new Random(seed);

  @TempDir
  Path dir;

  @BeforeEach
  void printSeed(TestInfo info) {
    System.out.println(getClass().getSimpleName() + " " + info.getDisplayName() + ": seed " + seed);
  }

  String ctx() {
    return " (seed " + seed + ")";
  }

  // ---------------------------------------------------------------------------------------------------
  // Helpers

  static OptProgram program(String which) throws CompileException {
    return switch (which) {
      case "rowcol" -> compile("rowcol", ROWCOL);
      case "lamb" -> compile("lamb", LAMB);
      default -> OptProgram.load(which);
    };
  }

  float[] randomArray(int n, float scale) {
    return Fixtures.randomArray(rnd, n, scale);
  }

  Map<String, float[]> randomWeights(List<TensorSpec> specs) {
    return Fixtures.randomWeights(rnd, specs);
  }

  List<Map<String, float[]>> randomGrads(List<TensorSpec> specs, int steps) {
    return Fixtures.randomGrads(rnd, specs, steps);
  }

  // ---------------------------------------------------------------------------------------------------
  // Continuation

  static Stream<Arguments> programsAndSchedules() {
    return Stream.of("adam", "adamw", "rowcol", "lamb", "adan")
        .flatMap(p -> Stream.of(Arguments.of(p, false), Arguments.of(p, true)));
  }

  @ParameterizedTest(name = "{0}, hypers changed before saving: {1}")
  @MethodSource("programsAndSchedules")
  void restoredOptimizerContinuesBitIdentically(String which, boolean changeHypers) throws Exception {
    var p = program(which);
    var second = Fixtures.secondHyper(p);
    var w0 = randomWeights(TENSORS);
    var grads = randomGrads(TENSORS, 13);
    var file = dir.resolve("opt.state");
    var what = which + (changeHypers ? " with a schedule" : "") + ctx();

    Snapshot atSave;
    Snapshot a;
    Map<String, float[]> w7;
    try (var opt = build(p, TENSORS, List.of(Map.of("lr", 0.002), Map.of(second, 0.8)), w0)) {
      run(opt, grads, 0, 3);
      if (changeHypers) {
        opt.setHyper("lr", 0.003 + rnd.nextDouble() * 1e-3);
      }
      run(opt, grads, 3, 5);
      if (changeHypers) {
        opt.setHyper(0, second, 0.85 + rnd.nextDouble() * 0.1);
        opt.setHyper(1, "lr", 0.0005);
      }
      run(opt, grads, 5, 7);
      w7 = weights(opt);
      atSave = snapshot(opt);
      opt.save(file);
      run(opt, grads, 7, 13);
      a = snapshot(opt);
    }
    assertEquals(7, atSave.t(), what);
    assertEquals(13, a.t(), what);

    // A fresh optimizer with other hyper settings: restore must bring back the saved ones, and only those.
    try (var opt = build(p, TENSORS, List.of(Map.of(second, 0.5), Map.of()), w7)) {
      opt.setHyper(1, "lr", 0.25);
      run(opt, grads, 9, 10); // states and t that restore must replace
      opt.setWeights("fc.weight", w7.get("fc.weight"));
      opt.setWeights("fc.bias", w7.get("fc.bias"));
      opt.setWeights("conv.weight", w7.get("conv.weight"));
      opt.setWeights("scale", w7.get("scale"));
      opt.restore(file);
      assertSameSnapshot(atSave, snapshot(opt), what + ", right after restore");
      run(opt, grads, 7, 13);
      assertSameSnapshot(a, snapshot(opt), what + ", after 6 more steps");
    }
  }

  @Test
  void restoreThenSaveGivesTheSameBytes() throws Exception {
    var p = program("rowcol");
    var w0 = randomWeights(TENSORS);
    var grads = randomGrads(TENSORS, 5);
    var first = dir.resolve("first.state");
    var second = dir.resolve("second.state");
    try (var opt = build(p, TENSORS, List.of(Map.of("lr", 0.02), Map.of()), w0)) {
      run(opt, grads, 0, 5);
      opt.save(first);
    }
    try (var opt = build(p, TENSORS, noOverrides(2), w0)) {
      opt.restore(first);
      opt.save(second);
    }
    assertArrayEquals(Files.readAllBytes(first), Files.readAllBytes(second), "re-saved state file" + ctx());
  }

  // ---------------------------------------------------------------------------------------------------
  // Atomic saving

  static List<String> listing(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void savingLeavesNoTemporaryFilesAndReplacesTheOldFile() throws Exception {
    var p = program("adam");
    var w0 = randomWeights(TENSORS);
    var grads = randomGrads(TENSORS, 4);
    var file = dir.resolve("opt.state");
    try (var opt = build(p, TENSORS, noOverrides(2), w0)) {
      run(opt, grads, 0, 2);
      opt.save(file);
      assertEquals(List.of("opt.state"), listing(dir), "after the first save" + ctx());
      var firstBytes = Files.readAllBytes(file);
      run(opt, grads, 2, 4);
      var after4 = snapshot(opt);
      opt.save(file);
      assertEquals(List.of("opt.state"), listing(dir), "after saving over the file" + ctx());
      assertFalse(Arrays.equals(firstBytes, Files.readAllBytes(file)), "the second save replaced the file");
      try (var fresh = build(p, TENSORS, noOverrides(2), after4.weights())) {
        fresh.restore(file);
        assertSameSnapshot(after4, snapshot(fresh), "restored from the replaced file" + ctx());
      }
    }
  }

  @Test
  void savingIntoAMissingDirectoryIsAOneLineError() throws Exception {
    var p = program("adam");
    var target = dir.resolve("no-such-dir").resolve("opt.state");
    try (var opt = build(p, TENSORS, noOverrides(2), randomWeights(TENSORS))) {
      var e = assertThrows(OptcException.class, () -> opt.save(target));
      assertOneLine(e.getMessage());
      assertTrue(e.getMessage().contains(target.toString()), "message names the file: " + e.getMessage());
    }
    assertEquals(List.of(), listing(dir), "nothing was created");
  }

  @Test
  void savingOntoADirectoryIsAnErrorAndLeavesNoTemporaryFile() throws Exception {
    var p = program("adam");
    var target = Files.createDirectory(dir.resolve("taken"));
    Files.writeString(target.resolve("keep.txt"), "x");
    try (var opt = build(p, TENSORS, noOverrides(2), randomWeights(TENSORS))) {
      var e = assertThrows(OptcException.class, () -> opt.save(target));
      assertOneLine(e.getMessage());
      assertTrue(e.getMessage().contains(target.toString()), "message names the file: " + e.getMessage());
    }
    assertEquals(List.of("taken"), listing(dir), "no temporary file left beside it");
    assertEquals(List.of("keep.txt"), listing(target), "the directory is untouched");
  }

  @Test
  void aStateFileHasTheModeOfAnyNewFile() throws Exception {
    var view = Files.getFileAttributeView(dir, PosixFileAttributeView.class);
    assumeTrue(view != null, "not a POSIX file system");
    var plain = Files.writeString(dir.resolve("plain.txt"), "x");
    var file = goodFile(program("adam"), TENSORS, "opt.state");
    assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(plain)),
        PosixFilePermissions.toString(Files.getPosixFilePermissions(file)),
        "the state file is created like any file (umask), not 0600 like a temporary file");
  }

  static void assertOneLine(String message) {
    assertTrue(message != null && !message.isBlank(), "a message");
    assertFalse(message.contains("\n") || message.contains("\r"), "one line: " + message);
  }

  // ---------------------------------------------------------------------------------------------------
  // Rejected state files

  /** An adam optimizer over {@link #TENSORS} that has taken 3 steps and has hypers set by hand. */
  Optimizer target(OptProgram p) {
    var opt = build(p, TENSORS, List.of(Map.of("lr", 0.0123), Map.of()), randomWeights(TENSORS));
    run(opt, randomGrads(TENSORS, 3), 0, 3);
    opt.setHyper(1, Fixtures.secondHyper(p), 0.77);
    return opt;
  }

  /** A good state file of {@code p} over {@code specs}, 7 steps, hypers set. */
  Path goodFile(OptProgram p, List<TensorSpec> specs, String name) {
    var file = dir.resolve(name);
    var overrides = new ArrayList<Map<String, Double>>();
    for (int g = 0; g < groups(specs); g++) {
      overrides.add(g == 0 ? Map.of("lr", 0.004) : Map.of());
    }
    try (var opt = build(p, specs, overrides, randomWeights(specs))) {
      run(opt, randomGrads(specs, 7), 0, 7);
      opt.setHyper(0, Fixtures.secondHyper(p), 0.7);
      opt.save(file);
    }
    return file;
  }

  /** Restoring {@code file} fails with a one-line message naming it and changes nothing. */
  static void assertRejected(Optimizer opt, Path file, String what) {
    var before = snapshot(opt);
    var e = assertThrows(OptcException.class, () -> opt.restore(file), what + ": restore must fail");
    assertOneLine(e.getMessage());
    assertTrue(e.getMessage().contains(file.toString()), what + ": the message names the file: "
        + e.getMessage());
    assertSameSnapshot(before, snapshot(opt), what + ": the optimizer changed although restore failed ("
        + e.getMessage() + ")");
  }

  Path write(String name, byte[] bytes) throws IOException {
    var f = dir.resolve(name);
    Files.write(f, bytes);
    return f;
  }

  @Test
  void truncatedFilesAreRejected() throws Exception {
    var p = program("adam");
    var good = Files.readAllBytes(goodFile(p, TENSORS, "good.state"));
    var cuts = new TreeSet<Integer>(List.of(0, 1, 5, 10, 11, 19, good.length / 2, good.length - 9,
        good.length - 8, good.length - 4, good.length - 1));
    for (int i = 0; i < 8; i++) {
      cuts.add(rnd.nextInt(good.length));
    }
    try (var opt = target(p)) {
      for (int cut : cuts) {
        var f = write("cut" + cut + ".state", Arrays.copyOf(good, cut));
        assertRejected(opt, f, "truncated to " + cut + " of " + good.length + " bytes" + ctx());
      }
      opt.restore(dir.resolve("good.state")); // the optimizer itself is fine
      assertEquals(7, opt.t());
    }
  }

  @Test
  void aFlippedByteIsRejected() throws Exception {
    var p = program("rowcol");
    var good = Files.readAllBytes(goodFile(p, TENSORS, "good.state"));
    var positions = new TreeSet<Integer>(List.of(0, 10, 11, good.length / 2, good.length - 9, good.length - 8,
        good.length - 1));
    for (int i = 0; i < 25; i++) {
      positions.add(rnd.nextInt(good.length));
    }
    try (var opt = target(p)) {
      for (int pos : positions) {
        var bad = good.clone();
        int mask = 1 + rnd.nextInt(255);
        bad[pos] ^= (byte) mask;
        var f = write("flip" + pos + ".state", bad);
        assertRejected(opt, f, "byte " + pos + " of " + good.length + " xor " + mask + ctx());
      }
      opt.restore(dir.resolve("good.state"));
      assertEquals(7, opt.t());
    }
  }

  @Test
  void filesThatAreNotStateFilesAreRejected() throws Exception {
    var p = program("adam");
    var random = new byte[1000 + rnd.nextInt(1000)];
    rnd.nextBytes(random);
    var npy = dir.resolve("weights.npy");
    Npy.write(npy, new long[] {7, 5}, randomArray(35, 1));
    var magicOnly = "OPTC-STATE".getBytes(StandardCharsets.US_ASCII);
    try (var opt = target(p)) {
      assertRejected(opt, write("random.bin", random), "random bytes" + ctx());
      assertRejected(opt, write("empty.state", new byte[0]), "an empty file");
      assertRejected(opt, write("text.txt", "hello, this is not a checkpoint\n".getBytes(StandardCharsets.UTF_8)),
          "a text file");
      assertRejected(opt, npy, "an .npy file");
      assertRejected(opt, write("magic.state", magicOnly), "the magic alone");
      var magicAndRandom = Arrays.copyOf(magicOnly, magicOnly.length + random.length);
      System.arraycopy(random, 0, magicAndRandom, magicOnly.length, random.length);
      assertRejected(opt, write("magic-random.state", magicAndRandom), "the magic then random bytes" + ctx());
      assertRejected(opt, dir.resolve("missing.state"), "a missing file");
      assertRejected(opt, dir, "a directory");
    }
  }

  @Test
  void aFileFromADifferentProgramIsRejected() throws Exception {
    var adam = program("adam");
    var adamw = program("adamw");
    var adamFile = goodFile(adam, TENSORS, "adam.state");
    var adamwFile = goodFile(adamw, TENSORS, "adamw.state");
    // Same hypers and states as adam, different source text: a different program.
    var edited = OptProgram.compile(SourceFile.of("adam.opt", Library.source("adam").orElseThrow()
        + "\n# edited\n"), Pipeline.Options.DEFAULT);
    var editedFile = goodFile(edited, TENSORS, "edited.state");
    try (var opt = target(adam)) {
      assertRejected(opt, adamwFile, "adamw's file into adam");
      assertRejected(opt, editedFile, "an edited adam's file into adam");
      opt.restore(adamFile);
    }
    try (var opt = target(adamw)) {
      assertRejected(opt, adamFile, "adam's file into adamw");
    }
    try (var opt = target(program("rowcol"))) {
      assertRejected(opt, adamFile, "adam's file into rowcol");
    }
  }

  @Test
  void aFileForOtherTensorsOrGroupsIsRejected() throws Exception {
    var p = program("rowcol");
    var renamed = new ArrayList<>(TENSORS);
    renamed.set(1, new TensorSpec("fc.bias2", new long[] {5}, 1));
    var transposed = new ArrayList<>(TENSORS);
    transposed.set(0, new TensorSpec("fc.weight", new long[] {5, 7}, 0)); // same numel
    var reshaped = new ArrayList<>(TENSORS);
    reshaped.set(2, new TensorSpec("conv.weight", new long[] {6, 4}, 0)); // same numel and cols
    var bigger = new ArrayList<>(TENSORS);
    bigger.set(0, new TensorSpec("fc.weight", new long[] {7, 6}, 0));
    var extra = new ArrayList<>(TENSORS);
    extra.add(new TensorSpec("extra", new long[] {3}, 1));
    var fewer = new ArrayList<>(TENSORS.subList(0, 3));
    var reordered = List.of(TENSORS.get(2), TENSORS.get(1), TENSORS.get(0), TENSORS.get(3));
    var oneGroup = TENSORS.stream().map(t -> new TensorSpec(t.name(), t.shape(), 0)).toList();
    var threeGroups = new ArrayList<>(TENSORS);
    threeGroups.set(3, new TensorSpec("scale", new long[] {}, 2));
    var regrouped = TENSORS.stream().map(t -> new TensorSpec(t.name(), t.shape(), 1 - t.group())).toList();
    var cases = new LinkedHashMap<String, List<TensorSpec>>();
    cases.put("a renamed tensor", renamed);
    cases.put("a transposed tensor (same numel)", transposed);
    cases.put("a reshaped tensor (same numel and cols)", reshaped);
    cases.put("a bigger tensor", bigger);
    cases.put("an extra tensor", extra);
    cases.put("a missing tensor", fewer);
    cases.put("tensors in another order", reordered);
    cases.put("one group instead of two", oneGroup);
    cases.put("three groups instead of two", threeGroups);
    cases.put("tensors in the other groups", regrouped);
    var good = goodFile(p, TENSORS, "good.state");
    try (var opt = target(p)) {
      int i = 0;
      for (var c : cases.entrySet()) {
        var file = goodFile(p, c.getValue(), "case" + i++ + ".state");
        assertRejected(opt, file, c.getKey() + ctx());
      }
      opt.restore(good);
      assertEquals(7, opt.t());
    }
  }

  // Files with a valid checksum but a wrong body: what a bug in a writer, or a hand-made file, produces.

  /** {@code body} (everything but the checksum) with a correct CRC-32 appended. */
  static byte[] withChecksum(byte[] body) {
    var crc = new CRC32();
    crc.update(body);
    return ByteBuffer.allocate(body.length + 8).put(body).putLong(crc.getValue()).array();
  }

  static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @Test
  void aFileWithAValidChecksumButAShortBodyIsRejected() throws Exception {
    var p = program("adam");
    var good = Files.readAllBytes(goodFile(p, TENSORS, "good.state"));
    var body = Arrays.copyOf(good, good.length - 8);
    try (var opt = target(p)) {
      for (int cut : new int[] {body.length - 1, body.length - 4, body.length / 2, 30 + rnd.nextInt(40)}) {
        var f = write("short" + cut + ".state", withChecksum(Arrays.copyOf(body, cut)));
        assertRejected(opt, f, "body cut to " + cut + " of " + body.length + ", checksum recomputed" + ctx());
      }
      var longer = Arrays.copyOf(body, body.length + 3);
      assertRejected(opt, write("long.state", withChecksum(longer)), "3 bytes appended, checksum recomputed");
    }
  }

  @Test
  void aFileWithAValidChecksumButAnUnknownHyperIsRejected() throws Exception {
    var p = program("adam");
    var good = Files.readAllBytes(goodFile(p, TENSORS, "good.state"));
    var body = Arrays.copyOf(good, good.length - 8);
    // "lr" is saved as writeUTF: u16 length 2, then the bytes. Make it "lx", same length.
    int at = indexOf(body, new byte[] {0, 2, 'l', 'r'});
    assertTrue(at > 0, "the saved override of lr is in the file");
    body[at + 3] = 'x';
    try (var opt = target(p)) {
      assertRejected(opt, write("hyper.state", withChecksum(body)), "an unknown hyper 'lx'");
    }
  }

  @Test
  void aFileWithAValidChecksumButABadValueCountIsRejected() throws Exception {
    var p = program("adam");
    var good = Files.readAllBytes(goodFile(p, TENSORS, "good.state"));
    var body = Arrays.copyOf(good, good.length - 8);
    // The value count of the first state of the first tensor (35 floats) follows the state's name.
    var name = "exp_avg".getBytes(StandardCharsets.US_ASCII);
    int at = indexOf(body, name) + name.length;
    assertEquals(35, ByteBuffer.wrap(body, at, 4).getInt(), "layout of the state file");
    ByteBuffer.wrap(body, at, 4).putInt(Integer.MAX_VALUE);
    try (var opt = target(p)) {
      assertRejected(opt, write("count.state", withChecksum(body)), "a huge value count");
      ByteBuffer.wrap(body, at, 4).putInt(-1);
      assertRejected(opt, write("negative.state", withChecksum(body)), "a negative value count");
    }
  }
}
