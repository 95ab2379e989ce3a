package dev.optc.compiler.pass;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.frontend.Checker;
import dev.optc.compiler.frontend.SyntaxParser;
import dev.optc.compiler.ir.Interpreter;
import dev.optc.compiler.ir.IrPrinter;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Verifier;
import dev.optc.compiler.testing.RandomPrograms;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every pass keeps the meaning of a program: the IR straight from the frontend and the IR after each
 * pass (alone, and in pipeline order) give the same new w, states and metrics on random inputs, in
 * float64, by the {@link Interpreter}. Folding in float64 changes nothing but the sign of a zero, so the
 * comparison is tight: NaN equals NaN, an infinity equals itself, anything else within 1e-12 relative.
 */
class PassesKeepMeaningTest {

  // ---------------------------------------------------------------- random programs

  @Provide
  Arbitrary<String> programs() {
    return RandomPrograms.programs();
  }

  @Property(tries = 300)
  void thePipelineKeepsMeaning(@ForAll("programs") String source, @ForAll long seed) {
    var frontend = frontend("random.opt", source);
    Verifier.verify(frontend);
    var stages = new ArrayList<IrProgram>();
    var names = new ArrayList<String>();
    var p = frontend;
    for (var pass : Pipeline.PASSES) {
      p = pass.run(p);
      verify(p, pass, source);
      stages.add(p);
      names.add("after " + pass.name());
    }
    // The pipeline itself (verifying after every pass) gives the same program as the passes by hand.
    var piped = Pipeline.run(frontend, new Pipeline.Options(null, true));
    assertEquals(IrPrinter.print(p), IrPrinter.print(piped), source);
    compareOnRandomInputs(source, frontend, stages, names, new Random(seed), 3);
  }

  @Property(tries = 200)
  void eachPassAloneKeepsMeaning(@ForAll("programs") String source, @ForAll long seed) {
    var frontend = frontend("random.opt", source);
    var stages = new ArrayList<IrProgram>();
    var names = new ArrayList<String>();
    for (var pass : Pipeline.PASSES) {
      var q = pass.run(frontend);
      verify(q, pass, source);
      stages.add(q);
      names.add(pass.name() + " alone");
    }
    compareOnRandomInputs(source, frontend, stages, names, new Random(seed), 2);
  }

  @Property(tries = 200)
  void generatedProgramsAreValid(@ForAll("programs") String source) {
    var diags = new Diagnostics();
    Checker.check(SyntaxParser.parse(SourceFile.of("random.opt", source), diags), diags);
    assertFalse(diags.hasErrors(), () -> source + "\n" + diags.sorted());
  }

  /**
   * Rewrites that make a value narrower than its node (a folded select picking a row value out of an
   * elem select, {@code c ? a : a → a}, {@code x^0 → 1}) must not change what a reduction over it sums:
   * {@code sum} of an elem value adds {@code rows*cols} entries, of a row value {@code rows}.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {
      "metric m = sum(true ? rowsum(g) : w)\nw -= g\n",
      "metric m = mean(rowsum(g) + (g > 0 ? 0 : 0))\nw -= g\n",
      "metric m = sum(w ^ 0)\nw -= g\n",
      "state c : col\nc = colsum(false ? g : 2)\nw -= c * g\n"})
  void foldingKeepsWhatAReductionSums(String source) {
    var frontend = frontend("fold.opt", source);
    var r = new Random(7);
    var group = List.of(new Interpreter.TensorData(3, 5, RandomPrograms.values(r, 15), RandomPrograms.values(r, 15),
        Interpreter.initStates(frontend, 3, 5, Map.of())));
    var expected = Interpreter.step(frontend, group, Map.of(), 1);
    for (var pass : Pipeline.PASSES) {
      IrProgram q;
      try {
        q = pass.run(frontend);
      } catch (RuntimeException e) {
        throw new AssertionError(pass.name() + " failed on\n" + source, e);
      }
      verify(q, pass, source);
      assertSameResult(expected, Interpreter.step(q, group, Map.of(), 1), pass.name() + " alone\n" + source);
    }
    var optimized = Pipeline.run(frontend, new Pipeline.Options(null, true));
    assertSameResult(expected, Interpreter.step(optimized, group, Map.of(), 1), "pipeline\n" + source);
  }

  private static void compareOnRandomInputs(String source, IrProgram frontend, List<IrProgram> stages,
      List<String> names, Random r, int trials) {
    for (int trial = 0; trial < trials; trial++) {
      var overrides = RandomPrograms.hyperOverrides(frontend, r);
      var group = RandomPrograms.group(frontend, r, overrides);
      long t = RandomPrograms.step(r);
      var expected = Interpreter.step(frontend, group, overrides, t);
      for (int i = 0; i < stages.size(); i++) {
        var stage = stages.get(i);
        var name = names.get(i);
        var actual = Interpreter.step(stage, group, overrides, t);
        Supplier<String> context = () -> name + ", t=" + t + ", hypers " + overrides + ", shapes "
            + group.stream().map(d -> d.rows() + "x" + d.cols()).toList() + "\n--- program\n" + source
            + "\n--- frontend IR\n" + IrPrinter.print(frontend) + "--- " + name + "\n" + IrPrinter.print(stage);
        assertSameResult(expected, actual, context);
      }
    }
  }

  private static void verify(IrProgram p, Pass pass, String source) {
    try {
      Verifier.verify(p);
    } catch (RuntimeException e) {
      throw new AssertionError("verifier failed after " + pass.name() + ": " + e.getMessage() + "\n" + source
          + "\n" + IrPrinter.print(p), e);
    }
  }

  // ---------------------------------------------------------------- the library

  static Stream<String> library() {
    return libraryNames().stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("library")
  void theLibraryKeepsMeaningThroughThePipeline(String name) {
    var source = libraryText(name);
    var frontend = frontend(name, source);
    var optimized = Pipeline.run(frontend, new Pipeline.Options(null, true));
    var r = new Random(name.hashCode());
    for (var overrides : libraryConfigurations(frontend)) {
      var shapes = new int[][] {{3, 5}, {1, 7}, {1, 1}};
      var group = new ArrayList<Interpreter.TensorData>();
      for (var s : shapes) {
        group.add(Interpreter.fresh(frontend, s[0], s[1], RandomPrograms.values(r, s[0] * s[1]),
            new double[s[0] * s[1]], overrides));
      }
      long gradSeed = r.nextLong();
      Interpreter.Gradients grads = (t, k, d) -> RandomPrograms.values(new Random(gradSeed + 31 * t + k),
          d.numel());
      var expected = Interpreter.run(frontend, group, overrides, 8, grads, Interpreter.Precision.F64);
      var actual = Interpreter.run(optimized, group, overrides, 8, grads, Interpreter.Precision.F64);
      for (int step = 0; step < expected.size(); step++) {
        assertSameResult(expected.get(step), actual.get(step), name + " step " + (step + 1) + " hypers "
            + overrides);
      }
      // The steps did something: w moved.
      var first = group.getFirst().w();
      var last = actual.getLast().tensors().getFirst().w();
      boolean moved = false;
      for (int i = 0; i < first.length; i++) {
        moved |= first[i] != last[i];
      }
      assertTrue(moved, name + " never moved w with hypers " + overrides);
    }
  }

  /** Defaults, then each boolean-looking flag set, then momentum/decay switched on where the file has them. */
  private static List<Map<String, Double>> libraryConfigurations(IrProgram p) {
    var configs = new ArrayList<Map<String, Double>>();
    configs.add(Map.of());
    var all = new HashMap<String, Double>();
    for (var h : p.hypers()) {
      switch (h.name()) {
        case "amsgrad", "maximize", "nesterov", "centered" -> {
          configs.add(Map.of(h.name(), 1.0));
          all.put(h.name(), 1.0);
        }
        case "momentum" -> {
          configs.add(Map.of(h.name(), 0.9));
          all.put(h.name(), 0.9);
        }
        case "weight_decay", "lr_decay", "dampening" -> all.put(h.name(), 0.1);
        case "initial_accumulator_value" -> all.put(h.name(), 0.5);
        default -> { }
      }
    }
    configs.add(all);
    return configs;
  }

  private static List<String> libraryNames() {
    try {
      var uri = PassesKeepMeaningTest.class.getClassLoader().getResource("dev/optc/optimizers/adam.opt").toURI();
      if (uri.getScheme().equals("jar")) {
        java.nio.file.FileSystem fs;
        try {
          fs = FileSystems.newFileSystem(uri, Map.of());
        } catch (FileSystemAlreadyExistsException e) {
          fs = FileSystems.getFileSystem(uri);
        }
        return list(fs.getPath("/dev/optc/optimizers"));
      }
      return list(Path.of(uri).getParent());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static List<String> list(Path dir) throws IOException {
    try (var files = Files.list(dir)) {
      var names = files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".opt")).sorted().toList();
      assertTrue(names.contains("adam.opt") && names.contains("sgd.opt") && names.size() >= 10, names::toString);
      return names;
    }
  }

  static String libraryText(String name) {
    try (var in = PassesKeepMeaningTest.class.getClassLoader().getResourceAsStream("dev/optc/optimizers/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ---------------------------------------------------------------- helpers

  /** The IR straight from the frontend, before any pass. */
  static IrProgram frontend(String name, String source) {
    var diags = new Diagnostics();
    var ir = Checker.check(SyntaxParser.parse(SourceFile.of(name, source), diags), diags);
    if (diags.hasErrors()) {
      fail("not a valid program:\n" + source + "\n" + diags.sorted());
    }
    return ir;
  }

  static void assertSameResult(Interpreter.Result expected, Interpreter.Result actual, String context) {
    assertSameResult(expected, actual, () -> context);
  }

  static void assertSameResult(Interpreter.Result expected, Interpreter.Result actual, Supplier<String> context) {
    assertEquals(expected.tensors().size(), actual.tensors().size(), context);
    for (int k = 0; k < expected.tensors().size(); k++) {
      var e = expected.tensors().get(k);
      var a = actual.tensors().get(k);
      assertClose(e.w(), a.w(), "w of tensor " + k, context);
      assertEquals(e.states().keySet(), a.states().keySet(), context);
      for (var s : e.states().keySet()) {
        assertClose(e.states().get(s), a.states().get(s), "state " + s + " of tensor " + k, context);
      }
      var em = expected.metrics().get(k);
      var am = actual.metrics().get(k);
      assertEquals(em.keySet(), am.keySet(), context);
      for (var m : em.keySet()) {
        assertClose(new double[] {em.get(m)}, new double[] {am.get(m)}, "metric " + m + " of tensor " + k,
            context);
      }
    }
  }

  private static void assertClose(double[] expected, double[] actual, String what, Supplier<String> context) {
    assertEquals(expected.length, actual.length, () -> what + "\n" + context.get());
    for (int i = 0; i < expected.length; i++) {
      if (!close(expected[i], actual[i])) {
        fail(what + "[" + i + "]: expected " + expected[i] + " but was " + actual[i] + "\n" + context.get());
      }
    }
  }

  /** NaN equals NaN, an infinity itself, zeros of either sign each other, else 1e-12 relative. */
  static boolean close(double a, double b) {
    if (Double.isNaN(a) || Double.isNaN(b)) {
      return Double.isNaN(a) && Double.isNaN(b);
    }
    if (Double.isInfinite(a) || Double.isInfinite(b)) {
      return a == b;
    }
    return Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
  }
}
