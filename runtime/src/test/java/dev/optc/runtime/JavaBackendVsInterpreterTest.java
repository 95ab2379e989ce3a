package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Interpreter;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.testing.RandomPrograms;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The generated Java (every fusion level, float64 mode) computes what the IR means: random programs —
 * reductions, row/col/scalar states, metrics, ternaries, defs — on random groups, against the plain
 * whole-tensor {@link Interpreter}. This checks the planner and the emitter together.
 */
class JavaBackendVsInterpreterTest {
  /** Each program is compiled three times (one per fusion level) by javac: ~0.1 s each. */
  static final int PROGRAMS = Integer.getInteger("optc.randomPrograms", 40);

  @Test
  void randomProgramsAgree() {
    long seed = System.nanoTime();
    var random = new Random(seed);
    int checked = 0;
    for (int k = 0; k < PROGRAMS; k++) {
      long programSeed = random.nextLong();
      var source = RandomPrograms.generate(programSeed);
      var result = Compiler.check(SourceFile.of("random.opt", source), Pipeline.Options.DEFAULT);
      if (!result.ok()) {
        fail("the generator made an invalid program (seed " + programSeed + "):\n" + source + "\n"
            + result.diagnostics());
      }
      var ir = result.program();
      var program = new OptProgram(SourceFile.of("random.opt", source), ir, List.of(), "x");
      var r = new Random(programSeed);
      var overrides = RandomPrograms.hyperOverrides(ir, r);
      var group = roundToFloat(RandomPrograms.group(ir, r, overrides));
      var expected = Interpreter.step(ir, group, overrides, 1, Interpreter.Precision.F64);
      for (var fusion : Fusion.values()) {
        var context = source + "\n(program seed " + programSeed + ", fusion " + fusion.label() + ")";
        try {
          compare(program, fusion, group, overrides, expected, context);
        } catch (RuntimeException e) {
          // A program the backend cannot build: say which, so that it can be reproduced.
          throw new AssertionError(e.getMessage() + "\n" + context, e);
        }
      }
      checked++;
    }
    assertEquals(PROGRAMS, checked);
  }

  /**
   * Guarded stores ({@code flag ? new : state} and {@code flag ? state : new} skip their store and loads
   * while the flag leaves the state as it is) with the stored value also read by a later statement, at
   * every fusion level, flag on and off. Found by the random programs above: the state's load was skipped
   * although its value was still used (full fusion), or the store was not (statement fusion), and the
   * state became 0.
   */
  @org.junit.jupiter.params.ParameterizedTest(name = "{0}, flag {1}")
  @org.junit.jupiter.params.provider.CsvSource({"keep-if-on, 0", "keep-if-on, 1", "keep-if-off, 0",
      "keep-if-off, 1", "keep-if-on-alone, 0", "keep-if-on-alone, 1"})
  void guardedStoresAgreeWithTheInterpreter(String which, double flag) {
    var source = switch (which) {
      case "keep-if-on" -> "hyper h = 1\nstate s\nstate m\ns = h ? s : w\nm = s * 2\nw -= 2 + s\n";
      case "keep-if-off" -> "hyper h = 1\nstate s\nstate m\ns = h ? w + g : s\nm = s * 2 + m\nw -= s\n";
      default -> "hyper h0 = 5\nhyper h = 1.5\nstate s = h0\ns = (h ? s : w)\nw -= 2\n";
    };
    var ir = Compiler.check(SourceFile.of("guarded.opt", source), Pipeline.Options.DEFAULT).program();
    var program = new OptProgram(SourceFile.of("guarded.opt", source), ir, List.of(), "x");
    var r = new Random(System.nanoTime());
    var overrides = Map.of("h", flag);
    var group = roundToFloat(RandomPrograms.group(ir, r, overrides));
    var expected = Interpreter.step(ir, group, overrides, 1, Interpreter.Precision.F64);
    for (var fusion : Fusion.values()) {
      compare(program, fusion, group, overrides, expected, source + "(h = " + flag + ", fusion " + fusion.label()
          + ")");
    }
  }

  /**
   * A guarded store whose value an earlier phase computed and this one reads back (fusion none: the select of
   * {@code s4} is stored in a "store results" phase): the store's flag is not computed there, so the store must not
   * wait on it. Found by a fuzz of random programs (seed -4936696906804348824): the generated Java read
   * {@code if (null == 0.0)} and did not compile.
   */
  @Test
  void aGuardedStoreOfAValueReadBack() {
    var source = RandomPrograms.generate(-4936696906804348824L);
    var ir = Compiler.check(SourceFile.of("random.opt", source), Pipeline.Options.DEFAULT).program();
    var program = new OptProgram(SourceFile.of("random.opt", source), ir, List.of(), "x");
    for (double flag : new double[] {0, 1}) {
      var overrides = Map.of("h0", flag);
      var group = roundToFloat(RandomPrograms.group(ir, new Random(3), overrides));
      var expected = Interpreter.step(ir, group, overrides, 1, Interpreter.Precision.F64);
      for (var fusion : Fusion.values()) {
        compare(program, fusion, group, overrides, expected, source + "(h0 = " + flag + ", fusion " + fusion.label()
            + ")");
      }
    }
  }

  /** The Java engine holds inputs as float; the interpreter gets the same values. */
  static List<Interpreter.TensorData> roundToFloat(List<Interpreter.TensorData> group) {
    var out = new ArrayList<Interpreter.TensorData>();
    for (var t : group) {
      var states = new HashMap<String, double[]>();
      t.states().forEach((k, v) -> states.put(k, round(v)));
      out.add(new Interpreter.TensorData(t.rows(), t.cols(), round(t.w()), round(t.g()), states));
    }
    return out;
  }

  static double[] round(double[] a) {
    var b = new double[a.length];
    for (int i = 0; i < a.length; i++) {
      b[i] = (float) a[i];
    }
    return b;
  }

  static float[] floats(double[] a) {
    var b = new float[a.length];
    for (int i = 0; i < a.length; i++) {
      b[i] = (float) a[i];
    }
    return b;
  }

  static void compare(OptProgram program, Fusion fusion, List<Interpreter.TensorData> group,
      Map<String, Double> overrides, Interpreter.Result expected, String context) {
    var tensors = new ArrayList<Optimizer.Tensor>();
    for (int i = 0; i < group.size(); i++) {
      var t = group.get(i);
      tensors.add(new Optimizer.Tensor("t" + i, new long[] {t.rows(), t.cols()}, floats(t.w())));
    }
    var metrics = new ArrayList<Optimizer.StepMetrics>();
    try (var opt = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F64, 2))
        .fusion(fusion).group(overrides, tensors).build()) {
      opt.onMetrics(metrics::add);
      for (int i = 0; i < group.size(); i++) {
        var t = group.get(i);
        opt.setGrad("t" + i, floats(t.g()));
        for (var e : t.states().entrySet()) {
          opt.setState(e.getKey(), i, floats(e.getValue()));
        }
      }
      opt.step();
      for (int i = 0; i < group.size(); i++) {
        var want = expected.tensors().get(i);
        check(want.w(), opt.weights("t" + i), "w of t" + i, context);
        for (var s : program.ir().states()) {
          check(want.states().get(s.name()), opt.state(s.name(), "t" + i), s.name() + " of t" + i, context);
        }
        for (var m : program.ir().metrics()) {
          double got = metrics.getFirst().values().get(m.name())[i];
          double wantMetric = expected.metrics().get(i).get(m.name());
          check(new double[] {wantMetric}, new float[] {(float) got}, "metric " + m.name(), context);
        }
      }
    }
  }

  /**
   * The engine's buffers are float64 here but downloads round to float32; compare at float32 precision,
   * NaN equal to NaN.
   */
  static void check(double[] want, float[] got, String what, String context) {
    for (int i = 0; i < want.length; i++) {
      float w = (float) want[i];
      float g = got[i];
      if (Float.isNaN(w) && Float.isNaN(g) || w == g) {
        continue;
      }
      double tolerance = 1e-5 * Math.max(Math.abs(w), Math.abs(g)) + 1e-30;
      if (!(Math.abs(w - g) <= tolerance)) {
        fail(what + "[" + i + "]: expected " + w + ", got " + g + "\n" + context);
      }
    }
  }
}
