package dev.optc.cli;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Library;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Simulation;
import dev.optc.runtime.io.Npy;
import dev.optc.runtime.java.JavaBackend;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line through {@link Main#execute}: exit codes, messages, and the files it writes. */
class CliTest {
  static final Path DIAGNOSTICS = Path.of("../compiler/src/test/resources/diagnostics");

  /** An unknown name on line 3, column 11. */
  static final String BAD = "optimizer bad\nhyper lr = 0.1\nw -= lr * beta * g\n";

  @TempDir
  Path dir;

  final long seed = System.nanoTime();
  final Random rnd = new Random(seed);

  @BeforeEach
  void printSeed(TestInfo info) {
    System.out.println(getClass().getSimpleName() + " " + info.getDisplayName() + ": seed " + seed);
  }

  record Result(int code, String out, String err) {
    List<String> errLines() {
      return err.lines().toList();
    }

    @Override
    public String toString() {
      return "exit " + code + "\n--- stdout:\n" + out + "--- stderr:\n" + err;
    }
  }

  static Result optc(String... args) {
    var out = new StringWriter();
    var err = new StringWriter();
    try (var o = new PrintWriter(out); var e = new PrintWriter(err)) {
      int code = Main.execute(args, o, e);
      o.flush();
      e.flush();
      return new Result(code, out.toString(), err.toString());
    }
  }

  static Result optc(List<String> args) {
    return optc(args.toArray(String[]::new));
  }

  /** No stack trace or exception class name leaked to the user. */
  static void assertNoStackTrace(Result r) {
    assertFalse(r.err().contains("\tat ") || r.err().contains("Exception") || r.err().contains("Error:"),
        "no stack trace: " + r);
  }

  /** Exit 2 and one line on stderr that starts with "optc: " (plus, for usage errors, the --help hint). */
  static void assertUsageError(Result r, boolean allowHelpHint) {
    assertEquals(2, r.code(), r.toString());
    var lines = r.errLines();
    assertFalse(lines.isEmpty(), "a message: " + r);
    assertTrue(lines.getFirst().startsWith("optc: "), "starts with 'optc: ': " + r);
    if (allowHelpHint && lines.size() == 2) {
      assertTrue(lines.get(1).matches("Run '.*--help' for usage\\."), "only the --help hint follows: " + r);
    } else {
      assertEquals(1, lines.size(), "exactly one line on stderr: " + r);
    }
    assertNoStackTrace(r);
  }

  // ---------------------------------------------------------------------------------------------------
  // Usage

  @ParameterizedTest
  @ValueSource(strings = {"", "check", "emit", "info", "simulate", "bench", "train", "verify", "devices"})
  void everyCommandAnswersHelp(String command) {
    for (var flag : List.of("--help", "-h")) {
      var args = new ArrayList<String>();
      if (!command.isEmpty()) {
        args.add(command);
      }
      args.add(flag);
      // picocli reports a help text it cannot format (a stray % in a description) on System.err.
      var systemErr = System.err;
      var captured = new ByteArrayOutputStream();
      Result r;
      System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
      try {
        r = optc(args);
      } finally {
        System.setErr(systemErr);
      }
      assertEquals("", captured.toString(StandardCharsets.UTF_8), "nothing on System.err for " + args);
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().startsWith("Usage: optc" + (command.isEmpty() ? "" : " " + command)), r.toString());
      assertEquals("", r.err(), r.toString());
    }
    if (!command.isEmpty()) {
      var r = optc("help", command);
      assertEquals(0, r.code(), r.toString());
      assertTrue(r.out().startsWith("Usage: optc " + command), r.toString());
    }
  }

  /**
   * picocli wraps each description paragraph to the terminal's width itself: a paragraph must be a whole
   * sentence (or a list's heading), never a line of a hand-wrapped sentence, which would break mid-sentence.
   */
  @Test
  void everyDescriptionParagraphIsWhole() {
    var cli = new picocli.CommandLine(new Main());
    var commands = new ArrayList<picocli.CommandLine>(List.of(cli));
    commands.addAll(cli.getSubcommands().values());
    for (var c : commands) {
      for (var paragraph : c.getCommandSpec().usageMessage().description()) {
        var end = paragraph.replace("%n", "").strip();
        assertTrue(end.isEmpty() || end.matches("(?s).*[.:)!?]$"),
            c.getCommandName() + ": a description paragraph ends mid-sentence: '" + paragraph + "'");
      }
    }
  }

  @Test
  void topLevelHelpListsTheCommands() {
    var r = optc("--help");
    for (var c : List.of("check", "emit", "info", "simulate", "bench", "verify", "devices")) {
      assertTrue(r.out().contains(c), c + " listed: " + r);
    }
    var footer = r.out().replaceAll("\\s+", " ");
    for (var name : Library.NAMES) {
      assertTrue(footer.matches(".*OPT is a .opt file or a library optimizer:[a-z0-9_ ]* " + name + "[ .].*"),
          name + " listed among the library optimizers: " + r);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // verify

  @Test
  void verifyAcceptsABackendThatAgrees() {
    var r = optc("verify", "adamw", "lion", "--backend", "java", "--fusion", "full,none", "--steps", "3");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("4 of 4 runs agree"), r.toString());
    assertTrue(r.out().lines().filter(l -> l.startsWith("adamw ") || l.startsWith("lion ")).count() == 4, r.toString());
  }

  /** float64 arithmetic is a different backend for a program whose float32 result is all rounding. */
  @Test
  void verifyFailsABackendThatDiffers() throws IOException {
    var f = dir.resolve("cancel.opt");
    Files.writeString(f, "optimizer cancel\nw -= (g + 1e8) - 1e8\n");
    var r = optc("verify", f.toString(), "--backend", "java64", "--fusion", "full", "--steps", "2", "--seed", "5");
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.out().contains("DIFFERS") && r.out().contains("0 of 1 runs agree")
        && r.out().contains("--seed 5"), r.toString());
  }

  /** Not on a terminal (as here), long commands print a progress line every few seconds to stderr. */
  @Test
  void progressIsALineWhenStderrIsNotATerminal() {
    var old = System.getProperty("optc.progress.seconds");
    System.setProperty("optc.progress.seconds", "0");
    try {
      var r = optc("verify", "adamw", "lion", "--backend", "java", "--fusion", "full", "--steps", "2");
      assertEquals(0, r.code(), r.toString());
      var lines = r.err().lines().filter(l -> l.startsWith("optc verify: run ")).toList();
      assertEquals(List.of("optc verify: run 1/2 (50%)", "optc verify: run 2/2 (100%)"),
          lines.stream().map(l -> l.replaceAll(", \\d+ s$", "")).toList(), r.toString());
      assertTrue(r.out().contains("2 of 2 runs agree"), "the table still goes to stdout: " + r);
      assertFalse(r.err().contains("\r"), "no bar drawn: " + r);
    } finally {
      if (old == null) {
        System.clearProperty("optc.progress.seconds");
      } else {
        System.setProperty("optc.progress.seconds", old);
      }
    }
  }

  /** A name longer than the column keeps every row's columns where the header has them. */
  @Test
  void verifyAlignsLongNames() throws IOException {
    var f = dir.resolve("a_rather_long_optimizer_name.opt");
    Files.writeString(f, "w -= 0.1 * g\n");
    var r = optc("verify", f.toString(), "adamw", "--backend", "java", "--fusion", "full", "--steps", "2");
    assertEquals(0, r.code(), r.toString());
    var lines = r.out().lines().filter(l -> l.startsWith("optimizer ") || l.startsWith("a_rather")
        || l.startsWith("adamw ")).toList();
    assertEquals(3, lines.size(), r.toString());
    for (var l : lines) {
      assertEquals(lines.getFirst().indexOf(" fusion") + 1, l.indexOf(l.startsWith("optimizer") ? "fusion" : "full"),
          "the fusion column starts at the same place:\n" + r.out());
    }
  }

  @Test
  void verifyNeedsABackend() {
    assertUsageError(optc("verify", "adamw"), true);
    assertUsageError(optc("verify", "adamw", "--backend", "nosuch"), false);
  }

  @Test
  void noCommandIsAUsageError() {
    var r = optc();
    assertUsageError(r, true);
    assertTrue(r.err().contains("check"), "names the commands: " + r);
  }

  static Stream<List<String>> unknownOptionCommands() {
    return Stream.of(List.of(), List.of("check", "adam"), List.of("emit", "adamw", "--target", "java"),
        List.of("info", "adamw"), List.of("simulate", "adam", "--params", "p.npy", "--grads", "g.npy", "--out",
            "o.npy"));
  }

  @ParameterizedTest
  @MethodSource("unknownOptionCommands")
  void anUnknownOptionIsAOneLineUsageError(List<String> command) {
    var args = new ArrayList<>(command);
    args.add("--bogus-option");
    var r = optc(args);
    assertUsageError(r, true);
    assertTrue(r.errLines().getFirst().contains("--bogus-option"), "names the option: " + r);
  }

  @Test
  void unknownCommandIsAUsageError() {
    var r = optc("compile", "adam");
    assertUsageError(r, true);
    assertTrue(r.errLines().getFirst().contains("compile"), r.toString());
  }

  // ---------------------------------------------------------------------------------------------------
  // check

  @TestFactory
  Stream<DynamicTest> checkPassesEveryLibraryOptimizer() {
    return Library.NAMES.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
      var r = optc("check", name);
      assertEquals(0, r.code(), r.toString());
      assertFalse(r.err().contains("error:"), r.toString());
      assertTrue(r.out().contains(name + ".opt: ok"), r.toString());
    }));
  }

  @Test
  void checkOfSeveralFilesReportsEach() throws IOException {
    var bad = Files.writeString(dir.resolve("bad.opt"), BAD);
    var r = optc("check", "adam", bad.toString(), "lion");
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.out().contains("adam.opt: ok") && r.out().contains("lion.opt: ok"), r.toString());
    assertTrue(r.out().contains(bad + ": 1 error"), r.toString());
    assertTrue(r.err().contains(bad + ":3:11: error: unknown name 'beta'"), r.toString());
  }

  @Test
  void checkReportsTheErrorsOfEveryDiagnosticsCase() throws IOException {
    assumeTrue(Files.isDirectory(DIAGNOSTICS), "no " + DIAGNOSTICS.toAbsolutePath().normalize()
        + " (the compiler's diagnostics cases) in this checkout");
    List<Path> cases;
    try (var files = Files.list(DIAGNOSTICS)) {
      cases = files.filter(p -> p.toString().endsWith(".opt")).sorted().toList();
    }
    var withErrors = new ArrayList<Path>();
    for (var c : cases) {
      if (Files.readString(c).contains("# error")) {
        withErrors.add(c);
      }
    }
    assertFalse(withErrors.isEmpty(), "some diagnostics case expects an error (marker '# error') in " + cases);
    assertAll(withErrors.stream().map(c -> () -> {
      var r = optc("check", c.toString());
      assertEquals(1, r.code(), c + ": " + r);
      var position = Pattern.compile("(?m)^" + Pattern.quote(c.toString()) + ":\\d+:\\d+: error: ");
      assertTrue(position.matcher(r.err()).find(), c + ": a 'file:line:col: error:' line: " + r);
      assertNoStackTrace(r);
    }));
  }

  @Test
  void checkOfAMissingFileIsAUsageError() {
    var missing = dir.resolve("missing.opt").toString();
    var r = optc("check", missing);
    assertUsageError(r, false);
    assertTrue(r.err().contains(missing), r.toString());
    var both = optc("check", "adam", missing);
    assertEquals(2, both.code(), both.toString());
    assertTrue(both.out().contains("adam.opt: ok"), "the readable file is still checked: " + both);
    var dirArg = optc("check", dir.toString());
    assertUsageError(dirArg, false);
  }

  /**
   * {@link Main#main} wraps System.err in an auto-flushing PrintWriter, which flushes on println only:
   * whatever a command prints with print() must still reach the stream by the time execute returns.
   */
  @Test
  void diagnosticsReachAnAutoFlushingStreamLikeMainUses() throws IOException {
    var bad = Files.writeString(dir.resolve("bad.opt"), BAD).toString();
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    Npy.write(p, new long[] {2}, new float[2]);
    Npy.write(g, new long[] {1, 2}, new float[2]);
    for (var args : List.of(List.of("check", bad), List.of("info", bad), List.of("emit", bad, "--target", "java"),
        List.of("simulate", bad, "--params", p.toString(), "--grads", g.toString(), "--out",
            dir.resolve("o.npy").toString()))) {
      var outBytes = new ByteArrayOutputStream();
      var errBytes = new ByteArrayOutputStream();
      int code = Main.execute(args.toArray(String[]::new), new PrintWriter(outBytes, true),
          new PrintWriter(errBytes, true));
      var err = errBytes.toString(StandardCharsets.UTF_8);
      assertEquals(1, code, args + ": " + err);
      assertTrue(err.contains(bad + ":3:11: error: unknown name 'beta'"), args + ": the diagnostic reached "
          + "stderr by the time execute returned; it has: '" + err + "'");
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // emit and info

  static int count(String text, String what) {
    int n = 0;
    for (int i = text.indexOf(what); i >= 0; i = text.indexOf(what, i + 1)) {
      n++;
    }
    return n;
  }

  @Test
  void emitPrintsOneFusedPhaseForAdamw() {
    var r = optc("emit", "adamw", "--target", "java");
    assertEquals(0, r.code(), r.toString());
    assertEquals(1, count(r.out(), "static void phase0"), r.out());
    assertFalse(r.out().contains("phase1"), r.out());
    assertTrue(r.out().contains("package dev.optc.generated;"), r.out());
    assertTrue(r.out().contains("class AdamwF32Step"), r.out());
    // Buffers indexed from their start (the engine staggers them), vector loops where this JVM has them.
    assertTrue(r.out().contains("w.getAtIndex(JAVA_FLOAT, i)") && !r.out().contains("i + 272"), r.out());
    assertEquals(JavaEmitter.vectorApi(), r.out().contains("FloatVector.fromMemorySegment(LANES, w, 4L * i, ORDER)"),
        r.out());
    var f64 = optc("emit", "adamw", "--target", "java", "--precision", "f64");
    assertEquals(0, f64.code(), f64.toString());
    assertTrue(f64.out().contains("class AdamwF64Step") && f64.out().contains("double[] w"), f64.out());
  }

  @Test
  void emitWritesUnderTheOutputDirectory() throws IOException {
    var out = dir.resolve("gen");
    var r = optc("emit", "adamw", "--target", "java", "-o", out.toString());
    assertEquals(0, r.code(), r.toString());
    var pkg = out.resolve("dev/optc/generated");
    var file = pkg.resolve("AdamwF32Step.java");
    assertTrue(Files.isRegularFile(file), "wrote " + file + ": " + r);
    assertEquals(List.of("AdamwF32Step.java"), listing(pkg), "one file, no temporary file left");
    assertEquals(optc("emit", "adamw", "--target", "java").out(), Files.readString(file),
        "the file holds what emit prints");
    assertTrue(r.out().contains(file.toString()), "prints the path: " + r);
    // Again over the existing file, and with the long option name.
    var again = optc("emit", "adamw", "--target", "java", "--output", out.toString());
    assertEquals(0, again.code(), again.toString());
    assertEquals(List.of("AdamwF32Step.java"), listing(pkg));
  }

  @Test
  void emittedFileHasTheModeOfAnyNewFile() throws IOException {
    var view = Files.getFileAttributeView(dir, PosixFileAttributeView.class);
    assumeTrue(view != null, "not a POSIX file system");
    var plain = Files.writeString(dir.resolve("plain.txt"), "x");
    var r = optc("emit", "adamw", "--target", "java", "-o", dir.resolve("gen").toString());
    assertEquals(0, r.code(), r.toString());
    var file = dir.resolve("gen/dev/optc/generated/AdamwF32Step.java");
    assertEquals(PosixFilePermissions.toString(Files.getPosixFilePermissions(plain)),
        PosixFilePermissions.toString(Files.getPosixFilePermissions(file)),
        "the generated source is created like any file (umask), not 0600 like a temporary file");
  }

  @Test
  void emitErrors() throws IOException {
    var file = Files.writeString(dir.resolve("afile"), "x");
    assertUsageError(optc("emit", "adamw", "--target", "java", "-o", file.toString()), false);
    assertUsageError(optc("emit", "adamw", "--target", "java", "--precision", "f16"), false);
    assertUsageError(optc("emit", "adamw", "--target", "nosuch"), true);
    assertUsageError(optc("emit", "adamw"), true);
    assertUsageError(optc("emit", "nosuchopt", "--target", "java"), false);
    var bad = Files.writeString(dir.resolve("bad.opt"), BAD);
    var r = optc("emit", bad.toString(), "--target", "java");
    assertEquals(1, r.code(), r.toString());
    assertEquals("", r.out(), r.toString());
  }

  /** schedulefree_adamw: z and x start as copies of w, and the model is evaluated at x ('evaluate x'). */
  @Test
  void infoShowsStatesCopiedFromWAndTheEvaluationPoint() {
    var r = optc("info", "schedulefree_adamw");
    assertEquals(0, r.code(), r.toString());
    var copied = Pattern.compile("(?m)^  x +elem +f32 +init w \\(a copy of the weights");
    assertTrue(copied.matcher(r.out()).find(), r.out());
    assertTrue(r.out().contains("  evaluate at: x (evaluate x: "), r.out());
    assertTrue(r.out().contains("state bytes per parameter with the defaults: 12 "), r.out());
    var adamw = optc("info", "adamw");
    assertTrue(adamw.out().contains("  evaluate at: w (the weights)"), adamw.out());
  }

  @Test
  void infoCountsAdamwsPhases() {
    var r = optc("info", "adamw");
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("phases (kernels at fusion 'full'): 1\n")
        || r.out().contains("phases (kernels at fusion 'full'): 1" + System.lineSeparator()), r.out());
    assertTrue(r.out().contains("optimizer adamw"), r.out());
    for (var h : List.of("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize")) {
      assertTrue(Pattern.compile("(?m)^  " + h + " +=").matcher(r.out()).find(), "hyper " + h + ": " + r.out());
    }
  }

  /**
   * State memory per parameter: AdamW's 8 with the defaults (max_exp_avg_sq takes none while amsgrad is off)
   * and 4 more while amsgrad is on; a flag that is on by default counts its state in the defaults.
   */
  @Test
  void infoPrintsStateBytesForTheDefaultsAndPerFlag() throws IOException {
    var r = optc("info", "adamw");
    assertEquals(0, r.code(), r.toString());
    var out = r.out().replace(System.lineSeparator(), "\n");
    assertTrue(out.contains("  state bytes per parameter with the defaults: 8 "), out);
    assertTrue(out.contains("\n  + 4 bytes per parameter while amsgrad is on (max_exp_avg_sq: allocated when it is "
        + "first switched on)\n"), out);
    assertTrue(Pattern.compile("(?m)^  max_exp_avg_sq +elem +f32 +init 0  \\(memory only while amsgrad is on\\)$")
        .matcher(out).find(), out);
    var on = Files.writeString(dir.resolve("on.opt"), """
        hyper keep = true
        state m
        state v
        m = keep ? 0.9 * m + g : m
        v = 0.9 * v + g * g
        w -= 0.1 * (keep ? m : g) / (sqrt(v) + 1e-8)
        """);
    r = optc("info", on.toString());
    assertEquals(0, r.code(), r.toString());
    assertTrue(r.out().contains("state bytes per parameter with the defaults: 8 "), r.out());
    assertFalse(r.out().contains("bytes per parameter while"), r.out());
    r = optc("info", "lion");
    assertTrue(r.out().contains("state bytes per parameter with the defaults: 4 "), r.out());
    assertFalse(r.out().contains("bytes per parameter while"), r.out());
  }

  /** Flags show as written (amsgrad = false), numbers as numbers, a flag computed from a number too. */
  @Test
  void infoShowsFlagsAsTrueOrFalse() throws IOException {
    var r = optc("info", "adamw");
    assertEquals(0, r.code(), r.toString());
    assertTrue(Pattern.compile("(?m)^  amsgrad +  *= false$").matcher(r.out()).find(), r.out());
    assertTrue(Pattern.compile("(?m)^  maximize +  *= false$").matcher(r.out()).find(), r.out());
    assertTrue(Pattern.compile("(?m)^  lr +  *= 0\\.001$").matcher(r.out()).find(), r.out());
    var flags = Files.writeString(dir.resolve("flags.opt"), """
        hyper k = 3
        hyper on = true
        hyper big = k > 2
        hyper off = not on
        w -= on * big * off * k * g
        """);
    r = optc("info", flags.toString());
    assertEquals(0, r.code(), r.toString());
    for (var line : List.of("  k +  *= 3$", "  on +  *= true$", "  big +  *= true$", "  off +  *= false$")) {
      assertTrue(Pattern.compile("(?m)^" + line).matcher(r.out()).find(), line + " in:\n" + r.out());
    }
  }

  @Test
  void infoOfAProgramWithReductionsHasSeveralPhases() throws IOException {
    var lamb = Files.writeString(dir.resolve("lamb.opt"), """
        hyper lr = 1e-3
        state m
        m = 0.9*m + 0.1*g
        u = m / (norm(m) + 1e-8)
        w -= lr * norm(w) * u
        """);
    var r = optc("info", lamb.toString());
    assertEquals(0, r.code(), r.toString());
    var m = Pattern.compile("phases \\(kernels at fusion 'full'\\): (\\d+)").matcher(r.out());
    assertTrue(m.find(), r.out());
    assertTrue(Integer.parseInt(m.group(1)) >= 2, "a norm is a phase boundary: " + r.out());
  }

  // ---------------------------------------------------------------------------------------------------
  // simulate

  static List<String> listing(Path d) throws IOException {
    try (var s = Files.list(d)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  float[] random(int n) {
    var a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) rnd.nextGaussian();
    }
    return a;
  }

  static long[] prepend(long t, long[] shape) {
    var s = new long[shape.length + 1];
    s[0] = t;
    System.arraycopy(shape, 0, s, 1, shape.length);
    return s;
  }

  static Stream<Arguments> simulations() {
    return Stream.of(
        Arguments.of("adam", new long[] {5, 7}, 4, Map.of("lr", 0.01)),
        Arguments.of("adamw", new long[] {3, 1, 11}, 6, Map.of("amsgrad", 1.0, "weight_decay", 0.05)),
        Arguments.of("sgd", new long[] {13}, 5, Map.of("momentum", 0.9, "nesterov", 1.0)),
        Arguments.of("lion", new long[] {}, 3, Map.of()),
        Arguments.of("rmsprop", new long[] {2, 0}, 2, Map.of("centered", 1.0)),
        Arguments.of("adagrad", new long[] {4, 4}, 0, Map.of()));
  }

  @ParameterizedTest(name = "{0} {1} T={2} {3}")
  @MethodSource("simulations")
  void simulateWritesTheResultAndTrajectory(String opt, long[] shape, int steps, Map<String, Double> hypers)
      throws Exception {
    int numel = 1;
    for (long d : shape) {
      numel *= (int) d;
    }
    var params = random(numel);
    var grads = random(steps * numel);
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    var out = dir.resolve("out.npy");
    var traj = dir.resolve("traj.npy");
    Npy.write(p, shape, params);
    Npy.write(g, prepend(steps, shape), grads);
    var args = new ArrayList<>(List.of("simulate", opt, "--params", p.toString(), "--grads", g.toString(),
        "--out", out.toString(), "--trajectory", traj.toString()));
    hypers.forEach((k, v) -> args.addAll(List.of("--set", k + "=" + (v == 1.0 && !k.equals("lr") ? "true" : v))));
    var r = optc(args);
    var what = opt + " " + Arrays.toString(shape) + " T=" + steps + " (seed " + seed + "): " + r;
    assertEquals(0, r.code(), what);
    assertTrue(r.err().startsWith("simulate: " + steps + " steps of " + opt), what);
    assertEquals(List.of("g.npy", "out.npy", "p.npy", "traj.npy"), listing(dir), what);

    var o = Npy.readFloat32(out);
    var t = Npy.readFloat32(traj);
    assertArrayEquals(shape, o.shape(), what);
    assertArrayEquals(prepend(steps, shape), t.shape(), what);
    var expected = Simulation.run(OptProgram.load(opt), new JavaBackend(JavaEmitter.Precision.F32, 1), Fusion.FULL,
        shape, params, grads, steps, new HashMap<>(hypers), true, null, null);
    assertArrayEquals(expected.params(), o.data(), "OUT equals Simulation.run: " + what);
    assertArrayEquals(expected.trajectory(), t.data(), "TRAJ equals Simulation.run: " + what);
    if (steps > 0) {
      assertArrayEquals(o.data(), Arrays.copyOfRange(t.data(), (steps - 1) * numel, steps * numel),
          "the trajectory's last row is OUT: " + what);
    } else {
      assertArrayEquals(params, o.data(), "no steps: OUT is the parameters");
    }
    if (steps > 0 && numel > 0 && !hypers.isEmpty()) {
      var defaults = Simulation.run(OptProgram.load(opt), new JavaBackend(JavaEmitter.Precision.F32, 1),
          Fusion.FULL, shape, params, grads, steps, Map.of(), false, null, null);
      assertFalse(Arrays.equals(defaults.params(), o.data()), "--set took effect: " + what);
    }
  }

  @Test
  void simulateBackendsThreadsAndFusionLevels() throws Exception {
    long[] shape = {9, 1 + rnd.nextInt(30)};
    int numel = (int) (shape[0] * shape[1]);
    int steps = 5;
    var params = random(numel);
    var grads = random(steps * numel);
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    Npy.write(p, shape, params);
    Npy.write(g, prepend(steps, shape), grads);
    var program = OptProgram.load("adamw");
    var f32 = Simulation.run(program, new JavaBackend(JavaEmitter.Precision.F32, 1), Fusion.FULL, shape, params,
        grads, steps, Map.of(), false, null, null).params();
    var f64 = Simulation.run(program, new JavaBackend(JavaEmitter.Precision.F64, 1), Fusion.FULL, shape, params,
        grads, steps, Map.of(), false, null, null).params();
    for (var extra : List.of(List.of("--threads", "1"), List.of("--threads", "3"), List.of("--fusion", "statement"),
        List.of("--fusion", "none"), List.of("--backend", "java"), List.of("--backend", "java64"))) {
      var out = dir.resolve("out.npy");
      var args = new ArrayList<>(List.of("simulate", "adamw", "--params", p.toString(), "--grads", g.toString(),
          "--out", out.toString(), "--quiet"));
      args.addAll(extra);
      var r = optc(args);
      assertEquals(0, r.code(), extra + ": " + r);
      assertEquals("", r.err(), "--quiet: " + r);
      var expected = extra.contains("java64") ? f64 : f32;
      assertArrayEquals(expected, Npy.readFloat32(out).data(), extra + " (seed " + seed + ")");
    }
  }

  /**
   * sophia reads its Hessian estimate as {@code input h}: {@code --input h=H.npy} supplies it, shaped like the
   * gradients, and the result is what the API computes with the same values; a missing, unknown or misshapen
   * input is a one-line usage error.
   */
  @Test
  void simulateTakesInputs() throws Exception {
    long[] shape = {3, 7};
    int steps = 4;
    var params = random(21);
    var grads = random(steps * 21);
    var hess = random(steps * 21);
    for (int i = 0; i < hess.length; i++) {
      hess[i] = Math.abs(hess[i]);
    }
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    var h = dir.resolve("h.npy");
    var bad = dir.resolve("bad.npy");
    Npy.write(p, shape, params);
    Npy.write(g, prepend(steps, shape), grads);
    Npy.write(h, prepend(steps, shape), hess);
    Npy.write(bad, new long[] {steps, 21}, hess);
    var expected = Simulation.run(OptProgram.load("sophia"), new JavaBackend(JavaEmitter.Precision.F32, 1),
        Fusion.FULL, shape, params, grads, Map.of("h", hess), steps, Map.of("hess_interval", 2.0), false, null, null,
        4096).params();
    var out = dir.resolve("out.npy");
    var base = List.of("simulate", "sophia", "--params", p.toString(), "--grads", g.toString(), "--out",
        out.toString(), "--quiet", "--set", "hess_interval=2");
    var args = new ArrayList<>(base);
    args.addAll(List.of("--input", "h=" + h));
    var r = optc(args);
    assertEquals(0, r.code(), r.toString());
    assertArrayEquals(expected, Npy.readFloat32(out).data());

    r = optc(base);
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("sophia reads input 'h' each step: give its values with --input h=FILE.npy"),
        r.toString());
    args = new ArrayList<>(base);
    args.addAll(List.of("--input", "h=" + h, "--input", "hess=" + h));
    r = optc(args);
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("--input hess: sophia has no input 'hess' (its inputs: h)"), r.toString());
    args = new ArrayList<>(base);
    args.addAll(List.of("--input", "h=" + bad));
    r = optc(args);
    assertEquals(2, r.code(), r.toString());
    assertTrue(r.err().contains("of --input h does not match the gradients' (4, 3, 7)"), r.toString());
    r = optc("simulate", "--help");
    assertTrue(r.out().contains("--input NAME=FILE.npy"), r.toString());
  }

  /** Step numbers of five digits and a metric name longer than its column keep the table aligned. */
  @Test
  void simulateMetricsStayAlignedPastStep9999() throws Exception {
    var opt = Files.writeString(dir.resolve("m.opt"), """
        metric a_long_metric_name_here = norm(g)
        w -= 0.001 * g
        """);
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    Npy.write(p, new long[] {2}, random(2));
    Npy.write(g, new long[] {10_001, 2}, random(2 * 10_001));
    var r = optc("simulate", opt.toString(), "--params", p.toString(), "--grads", g.toString(), "--out",
        dir.resolve("o.npy").toString(), "--metrics");
    assertEquals(0, r.code(), r.toString());
    var lines = r.out().lines().toList();
    assertEquals(10_002, lines.size(), "a header and one row per step");
    for (var l : List.of(lines.get(1), lines.get(9_999), lines.get(10_000), lines.get(10_001))) {
      assertEquals(lines.getFirst().length(), l.length(), "every row as wide as the header: '" + l + "'");
    }
    assertTrue(lines.get(10_001).startsWith("10001  "), lines.get(10_001));
  }

  /** float64 inputs are rounded to float32 on every backend: said in one warning line, not done silently. */
  @Test
  void simulateWarnsWhenItRoundsFloat64Inputs() throws Exception {
    var p = dir.resolve("p64.npy");
    var g = dir.resolve("g.npy");
    Npy.writeFloat64(p, new long[] {3}, new double[] {0.1, 0.2, 0.3});
    Npy.write(g, new long[] {2, 3}, random(6));
    var r = optc("simulate", "sgd", "--params", p.toString(), "--grads", g.toString(), "--out",
        dir.resolve("o.npy").toString(), "--backend", "java64");
    assertEquals(0, r.code(), r.toString());
    var warnings = r.err().lines().filter(l -> l.startsWith("optc: warning:")).toList();
    assertEquals(1, warnings.size(), r.toString());
    assertTrue(warnings.getFirst().contains("--params") && warnings.getFirst().contains("float64"), r.toString());
  }

  /**
   * A quantized program on a tensor below --quantize-from steps as its float32 sibling, and says so in one note;
   * with the threshold lowered to the tensor's size its states are quantized and the result differs.
   */
  @Test
  void simulateQuantizesFromTheThresholdAndSaysWhenItDoesNot() throws Exception {
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    Npy.write(p, new long[] {40, 13}, random(520));
    Npy.write(g, new long[] {3, 40, 13}, random(3 * 520));
    var outs = new ArrayList<float[]>();
    for (var args : List.of(List.of("adamw"), List.of("adamw8bit"), List.of("adamw8bit", "--quantize-from", "520"))) {
      var out = dir.resolve("o" + outs.size() + ".npy");
      var all = new ArrayList<>(List.of("simulate"));
      all.addAll(args);
      all.addAll(List.of("--params", p.toString(), "--grads", g.toString(), "--out", out.toString()));
      var r = optc(all);
      assertEquals(0, r.code(), r.toString());
      var notes = r.err().lines().filter(l -> l.startsWith("optc: note:")).toList();
      assertEquals(args.size() == 1 && args.getFirst().equals("adamw8bit") ? 1 : 0, notes.size(), r.toString());
      outs.add(Npy.readFloat32(out).data());
    }
    assertArrayEquals(outs.get(0), outs.get(1), "below the threshold: adamw's bits");
    assertFalse(Arrays.equals(outs.get(0), outs.get(2)), "quantized from 520 elements: another result");
    CliTest.assertUsageError(optc("simulate", "adamw8bit", "--params", p.toString(), "--grads", g.toString(),
        "--out", dir.resolve("x.npy").toString(), "--quantize-from", "0"), true);
  }

  @Test
  void simulatePrintsMetrics() throws Exception {
    var opt = Files.writeString(dir.resolve("m.opt"), """
        hyper lr = 0.1
        metric gn = norm(g)
        w -= lr * g
        """);
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    var grads = random(3 * 4);
    Npy.write(p, new long[] {4}, random(4));
    Npy.write(g, new long[] {3, 4}, grads);
    var r = optc("simulate", opt.toString(), "--params", p.toString(), "--grads", g.toString(), "--out",
        dir.resolve("o.npy").toString(), "--metrics");
    assertEquals(0, r.code(), r.toString());
    var lines = r.out().lines().toList();
    assertEquals(4, lines.size(), "a header and one row per step: " + r);
    assertTrue(lines.get(0).contains("gn"), r.toString());
    for (int k = 0; k < 3; k++) {
      double sq = 0;
      for (int i = 0; i < 4; i++) {
        float x = grads[k * 4 + i];
        sq += x * x;
      }
      var cols = lines.get(k + 1).trim().split("\\s+");
      assertEquals(String.valueOf(k + 1), cols[0], r.toString());
      assertEquals(Math.sqrt(sq), Double.parseDouble(cols[1]), 1e-5 * Math.sqrt(sq), "step " + (k + 1) + ": " + r);
    }
  }

  /** Writes a .npy file by hand: any dtype, any shape, the given data bytes. */
  static void writeNpy(Path path, String descr, String shape, byte[] data) throws IOException {
    var dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    int unpadded = 10 + dict.length() + 1;
    var header = dict + " ".repeat((64 - unpadded % 64) % 64) + "\n";
    var buf = ByteBuffer.allocate(10 + header.length() + data.length).order(ByteOrder.LITTLE_ENDIAN);
    buf.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
    buf.putShort((short) header.length());
    buf.put(header.getBytes(StandardCharsets.US_ASCII));
    buf.put(data);
    Files.write(path, buf.array());
  }

  static Stream<Arguments> badSimulations() {
    return Stream.of(
        Arguments.of("params file missing", List.of("--params", "{DIR}/missing.npy")),
        Arguments.of("params are random bytes", List.of("--params", "{DIR}/random.npy")),
        Arguments.of("params are an empty file", List.of("--params", "{DIR}/empty.npy")),
        Arguments.of("params are int64", List.of("--params", "{DIR}/int64.npy")),
        Arguments.of("params .npy without its data", List.of("--params", "{DIR}/short.npy")),
        Arguments.of("params are a directory", List.of("--params", "{DIR}/adir")),
        Arguments.of("grads of the wrong shape", List.of("--grads", "{DIR}/gshape.npy")),
        Arguments.of("grads of the wrong rank", List.of("--grads", "{DIR}/grank.npy")),
        Arguments.of("grads flattened", List.of("--grads", "{DIR}/gflat.npy")),
        Arguments.of("grads missing", List.of("--grads", "{DIR}/missing.npy")),
        Arguments.of("--set lr=abc", List.of("--set", "lr=abc")),
        Arguments.of("--set lr", List.of("--set", "lr")),
        Arguments.of("--set =1", List.of("--set", "=1")),
        Arguments.of("--set lr=", List.of("--set", "lr=")),
        Arguments.of("--set nosuch=1", List.of("--set", "nosuch=1")),
        Arguments.of("--set lr=nan", List.of("--set", "lr=nan")),
        Arguments.of("--set lr=NaN", List.of("--set", "lr=NaN")),
        Arguments.of("--set lr=Infinity", List.of("--set", "lr=Infinity")),
        Arguments.of("--set lr=1e999", List.of("--set", "lr=1e999")),
        Arguments.of("--out into a missing directory", List.of("--out", "{DIR}/nodir/out.npy")),
        Arguments.of("--out is a directory", List.of("--out", "{DIR}/adir")),
        Arguments.of("--trajectory into a missing directory", List.of("--trajectory", "{DIR}/nodir/traj.npy")),
        Arguments.of("--trajectory is --out", List.of("--trajectory", "{DIR}/out.npy")),
        Arguments.of("--backend nosuch", List.of("--backend", "nosuch")),
        Arguments.of("--threads 0", List.of("--threads", "0")),
        Arguments.of("--threads -3", List.of("--threads", "-3")),
        Arguments.of("--fusion bogus", List.of("--fusion", "bogus")),
        Arguments.of("OPT is neither a file nor a library name", List.of("{OPT}", "nosuchopt")),
        Arguments.of("OPT is a missing path", List.of("{OPT}", "{DIR}/missing.opt")),
        Arguments.of("OPT is a directory", List.of("{OPT}", "{DIR}/adir")));
  }

  /** The inputs every bad simulation sees; {@code overrides} replaces some of them. */
  List<String> simulateArgs(List<String> overrides) {
    var opt = "adam";
    var options = new LinkedHashMap<String, String>();
    options.put("--params", "{DIR}/p.npy");
    options.put("--grads", "{DIR}/g.npy");
    options.put("--out", "{DIR}/out.npy");
    options.put("--trajectory", "{DIR}/traj.npy");
    var extra = new ArrayList<String>();
    for (int i = 0; i < overrides.size(); i += 2) {
      var k = overrides.get(i);
      var v = overrides.get(i + 1);
      if (k.equals("{OPT}")) {
        opt = v;
      } else if (options.containsKey(k)) {
        options.put(k, v);
      } else {
        extra.add(k);
        extra.add(v);
      }
    }
    var args = new ArrayList<>(List.of("simulate", opt));
    options.forEach((k, v) -> {
      args.add(k);
      args.add(v);
    });
    args.addAll(extra);
    return args.stream().map(a -> a.replace("{DIR}", dir.toString())).toList();
  }

  void writeInputs() throws IOException {
    Npy.write(dir.resolve("p.npy"), new long[] {5, 7}, random(35));
    Npy.write(dir.resolve("g.npy"), new long[] {4, 5, 7}, random(140));
    Npy.write(dir.resolve("gshape.npy"), new long[] {4, 5, 6}, random(120));
    Npy.write(dir.resolve("grank.npy"), new long[] {5, 7}, random(35));
    Npy.write(dir.resolve("gflat.npy"), new long[] {4, 35}, random(140));
    var bytes = new byte[64 + rnd.nextInt(512)];
    rnd.nextBytes(bytes);
    Files.write(dir.resolve("random.npy"), bytes);
    Files.write(dir.resolve("empty.npy"), new byte[0]);
    var longs = ByteBuffer.allocate(35 * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 35; i++) {
      longs.putLong(rnd.nextLong());
    }
    writeNpy(dir.resolve("int64.npy"), "<i8", "(5, 7)", longs.array());
    writeNpy(dir.resolve("short.npy"), "<f4", "(5, 7)", new byte[4 * 34 + 1]);
    Files.createDirectory(dir.resolve("adir"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badSimulations")
  void simulateRejectsBadInputWithOneLineAndWritesNothing(String what, List<String> overrides) throws IOException {
    writeInputs();
    var before = listing(dir);
    var args = simulateArgs(overrides);
    var r = optc(args);
    assertUsageError(r, false);
    assertEquals(before, listing(dir), what + ": no output file (nor a temporary one) left; " + args + " " + r);
    assertEquals(List.of(), listing(dir.resolve("adir")), what);
  }

  @Test
  void simulateOfAProgramWithErrorsExits1AndWritesNothing() throws IOException {
    writeInputs();
    var bad = Files.writeString(dir.resolve("bad.opt"), BAD);
    var before = listing(dir);
    var r = optc(simulateArgs(List.of("{OPT}", bad.toString())));
    assertEquals(1, r.code(), r.toString());
    assertTrue(r.err().contains(bad + ":3:11: error: unknown name 'beta'"), r.toString());
    assertNoStackTrace(r);
    assertEquals(before, listing(dir), "nothing written");
  }

  @Test
  void simulateAcceptsTheDocumentedHyperSpellings() throws IOException {
    writeInputs();
    var out = dir.resolve("out.npy");
    var base = simulateArgs(List.of());
    var results = new TreeSet<String>();
    for (var set : List.of("amsgrad=true", "amsgrad=1", "amsgrad=1.0", " amsgrad = true ")) {
      var args = new ArrayList<>(base);
      args.addAll(List.of("--set", set, "--set", "lr=0.05"));
      var r = optc(args);
      assertEquals(0, r.code(), set + ": " + r);
      results.add(Arrays.toString(Npy.readFloat32(out).data()));
    }
    assertEquals(1, results.size(), "every spelling of amsgrad=true gives the same result");
  }
}
