package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.TypeSpec;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.InternalCompilerError;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Interpreter;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.java.JavaSourceCompiler;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bad inputs, issue 10 group 8: programs of thousands of states. They used to pass check and emit and
 * then fail inside javac ("too many parameters", 10,384 lines of source on stderr), and to take PoCL
 * minutes. Each runs against a reference: the Java backend against the IR interpreter (float64), the
 * OpenCL backend against the Java backend (float32). Timeouts are hang guards, not timing claims.
 */
class BadInputLargeTest {

  /** N momentum states, each updated on its own; the weight update averages all of them. */
  static String realistic(int n) {
    var sb = new StringBuilder("optimizer big").append(n).append("\nhyper lr = 0.01\n");
    for (int k = 1; k <= n; k++) {
      sb.append("state s").append(k).append('\n');
    }
    for (int k = 1; k <= n; k++) {
      sb.append("s").append(k).append(" = 0.").append(1 + k % 9).append("*s").append(k).append(" + g\n");
    }
    sb.append("w -= lr * (");
    for (int k = 1; k <= n; k++) {
      sb.append(k > 1 ? " + s" : "s").append(k);
    }
    return sb.append(") / ").append(n).append('\n').toString();
  }

  /**
   * A chain of states, each reading the one before, of every shape (element, scalar, row, column), some
   * stored as bf16, with per-tensor, row and column reductions along the way.
   */
  static String adversarial(int n) {
    var shapes = List.of("elem", "elem", "scalar", "row", "col", "elem");
    var sb = new StringBuilder("optimizer adv").append(n).append("\nhyper lr = 0.01\n");
    for (int k = 1; k <= n; k++) {
      var shape = shapes.get(k % 6);
      sb.append("state a").append(k).append(" : ").append(shape)
          .append(k % 7 == 0 && shape.equals("elem") ? " as bf16" : "").append('\n');
    }
    var prev = "g";
    for (int k = 1; k <= n; k++) {
      switch (shapes.get(k % 6)) {
        case "elem" -> {
          sb.append("a").append(k).append(" = 0.9*a").append(k).append(" + 0.1*").append(prev).append('\n');
          prev = "a" + k;
        }
        case "scalar" -> sb.append("a").append(k).append(" = 0.5*a").append(k).append(" + mean(").append(prev)
            .append("*").append(prev).append(")\n");
        case "row" -> sb.append("a").append(k).append(" = 0.5*a").append(k).append(" + rowmean(").append(prev)
            .append(")\n");
        default -> sb.append("a").append(k).append(" = 0.5*a").append(k).append(" + colmean(g*g)\n");
      }
    }
    return sb.append("w -= lr * (").append(prev).append(" + a3 + a4 + a5) / (1 + sqrt(a2*a2))\n").toString();
  }

  static OptProgram program(String source) {
    try {
      return OptProgram.compile(SourceFile.of("large.opt", source), Pipeline.Options.DEFAULT);
    } catch (CompileException e) {
      throw new AssertionError("the generator made an invalid program: " + e.diagnostics(), e);
    }
  }

  /** Two small tensors with random weights, gradients and states, as the interpreter takes them. */
  static List<Interpreter.TensorData> group(OptProgram program, long seed) {
    var r = new Random(seed);
    var list = new ArrayList<Interpreter.TensorData>();
    for (var shape : List.of(new int[] {3, 5}, new int[] {1, 7})) {
      int rows = shape[0];
      int cols = shape[1];
      var states = new HashMap<String, double[]>();
      for (var s : program.ir().states()) {
        int n = switch (s.shape().kind()) {
          case ELEM -> rows * cols;
          case ROW -> rows;
          case COL -> cols;
          case UNIFORM, CONST -> 1;
          case RR, CC -> throw new IllegalStateException("no state is a Gram matrix");
        };
        states.put(s.name(), random(r, n));
      }
      list.add(new Interpreter.TensorData(rows, cols, random(r, rows * cols), random(r, rows * cols), states));
    }
    return JavaBackendVsInterpreterTest.roundToFloat(list);
  }

  static double[] random(Random r, int n) {
    var a = new double[n];
    for (int i = 0; i < n; i++) {
      a[i] = r.nextGaussian();
    }
    return a;
  }

  static void javaAgainstInterpreter(String source, Fusion fusion) {
    var program = program(source);
    long seed = System.nanoTime();
    var group = group(program, seed);
    var expected = Interpreter.step(program.ir(), group, Map.of(), 1, Interpreter.Precision.F64);
    JavaBackendVsInterpreterTest.compare(program, fusion, group, Map.of(), expected,
        program.name() + " at fusion " + fusion.label() + " (seed " + seed + ")");
  }

  /** Every fusion level: statement and none plan 2,001 and 4,001 phases (the planner was quadratic there). */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.EnumSource(Fusion.class)
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void twoThousandStatesOnJava(Fusion fusion) {
    javaAgainstInterpreter(realistic(2000), fusion);
  }

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void adversarialChainOnJavaAtEveryFusionLevel() {
    // 600 states: phases of well over the 300 statements above which a phase is split into helpers.
    for (var fusion : Fusion.values()) {
      javaAgainstInterpreter(adversarial(600), fusion);
    }
  }

  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES)
  void twoThousandStatesOnOpenCl() {
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var program = program(realistic(2000));
    openClAgainstJava(program, Fusion.FULL);
  }

  @Test
  @Timeout(value = 15, unit = TimeUnit.MINUTES)
  void adversarialChainOnOpenCl() {
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    openClAgainstJava(program(adversarial(300)), Fusion.FULL);
  }

  static void openClAgainstJava(OptProgram program, Fusion fusion) {
    long seed = System.nanoTime();
    var r = new Random(seed);
    var groups = List.of(BackendComparison.tensors(r, new long[][] {{3, 5}, {7}, {2, 9}}, "t"));
    var hypers = List.<Map<String, Double>>of(Map.of());
    var want = BackendComparison.run(program, JavaBackend.reference(), fusion, groups, hypers, 3, seed);
    var got = BackendComparison.run(program, OpenClBackend.select(""), fusion, groups, hypers, 3, seed);
    BackendComparison.assertClose(want, got, BackendComparison.dtypes(program, 3), true,
        program.name() + " on OpenCL at fusion " + fusion.label() + " (seed " + seed + ")");
  }

  @Test
  void javacFailureIsOneLineWithTheSourceInTheDetails() {
    // A class that cannot compile: a field of a type that does not exist.
    var type = TypeSpec.classBuilder("Broken")
        .addField(com.palantir.javapoet.ClassName.get("no.such", "Type"), "x").build();
    var file = JavaFile.builder("dev.optc.generated", type).build();
    var e = assertThrows(InternalCompilerError.class, () -> JavaSourceCompiler.load(file));
    assertFalse(e.getMessage().contains("\n"), e.getMessage());
    assertTrue(e.getMessage().contains("did not compile"), e.getMessage());
    assertTrue(e.details().contains("class Broken"), "the details hold the source");
    assertTrue(e.details().contains("javac output"), "the details hold javac's output");
  }

  @Test
  void adversarialGeneratorMakesEveryShape() {
    // The generators make what the tests above assume: every shape in the adversarial chain.
    var kinds = program(adversarial(12)).ir().states().stream().map(s -> s.shape().kind()).distinct().toList();
    assertTrue(kinds.containsAll(List.of(Kind.ELEM, Kind.ROW, Kind.COL)), kinds.toString());
  }
}
