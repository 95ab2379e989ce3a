package dev.optc.compiler.ir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.frontend.Checker;
import dev.optc.compiler.frontend.SyntaxParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The oracle checked against hand computations: torch's Adam, reductions, broadcasting, float32 mode. */
class InterpreterTest {

  private static IrProgram frontend(String source) {
    var diags = new Diagnostics();
    var ir = Checker.check(SyntaxParser.parse(SourceFile.of("test.opt", source), diags), diags);
    if (diags.hasErrors()) {
      throw new AssertionError(diags.sorted().toString());
    }
    return ir;
  }

  private static IrProgram compiled(String source) throws CompileException {
    return Compiler.compile(SourceFile.of("test.opt", source));
  }

  private static String library(String name) throws IOException {
    try (var in = InterpreterTest.class.getClassLoader().getResourceAsStream("dev/optc/optimizers/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static void assertClose(double[] expected, double[] actual, double rel) {
    assertEquals(expected.length, actual.length);
    for (int i = 0; i < expected.length; i++) {
      double tol = rel * Math.max(Math.abs(expected[i]), Math.abs(actual[i]));
      assertEquals(expected[i], actual[i], tol, "entry " + i);
    }
  }

  // ---------------------------------------------------------------- Adam against torch 1.13's formula

  /**
   * torch.optim.Adam, PyTorch 1.13 _single_tensor_adam, in float64, written out by hand: bias-corrected
   * step size, sqrt(v)/sqrt(bc2) + eps, {@code param.addcdiv_(exp_avg, denom, value=-step_size)}.
   */
  private static double[][] torchAdam(double[] w0, double[][] grads, double lr, double beta1, double beta2,
      double eps, double weightDecay, boolean amsgrad) {
    int n = w0.length;
    var w = w0.clone();
    var m = new double[n];
    var v = new double[n];
    var vmax = new double[n];
    for (int step = 1; step <= grads.length; step++) {
      double bc1 = 1 - Math.pow(beta1, step);
      double bc2 = 1 - Math.pow(beta2, step);
      double stepSize = lr / bc1;
      double bc2Sqrt = Math.sqrt(bc2);
      for (int i = 0; i < n; i++) {
        double g = grads[step - 1][i] + weightDecay * w[i];
        m[i] = m[i] * beta1 + (1 - beta1) * g;          // exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
        v[i] = v[i] * beta2 + (1 - beta2) * g * g;      // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, ...)
        double denom;
        if (amsgrad) {
          vmax[i] = Math.max(vmax[i], v[i]);
          denom = Math.sqrt(vmax[i]) / bc2Sqrt + eps;
        } else {
          denom = Math.sqrt(v[i]) / bc2Sqrt + eps;
        }
        w[i] = w[i] - stepSize * (m[i] / denom);
      }
    }
    return new double[][] {w, m, v};
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void adamReproducesTorch(boolean variant) throws Exception {
    var source = library("adam.opt");
    int rows = 3;
    int cols = 5;
    var r = new Random(42);
    var w0 = new double[rows * cols];
    var grads = new double[5][rows * cols];
    for (int i = 0; i < w0.length; i++) {
      w0[i] = r.nextGaussian();
    }
    for (var g : grads) {
      for (int i = 0; i < g.length; i++) {
        g[i] = r.nextGaussian() * (i == 0 ? 0 : 1);   // one element has a zero gradient throughout
      }
    }
    Map<String, Double> hypers = variant
        ? Map.of("lr", 0.05, "weight_decay", 0.1, "amsgrad", 1.0, "beta2", 0.9)
        : Map.of();
    var expected = variant
        ? torchAdam(w0, grads, 0.05, 0.9, 0.9, 1e-8, 0.1, true)
        : torchAdam(w0, grads, 1e-3, 0.9, 0.999, 1e-8, 0, false);
    for (var p : List.of(frontend(source), compiled(source))) {
      var start = Interpreter.fresh(p, rows, cols, w0, new double[rows * cols], hypers);
      var results = Interpreter.run(p, List.of(start), hypers, 5, (t, k, d) -> grads[(int) t - 1],
          Interpreter.Precision.F64);
      var last = results.getLast().tensors().getFirst();
      assertClose(expected[0], last.w(), 1e-13);
      assertClose(expected[1], last.states().get("exp_avg"), 1e-13);
      assertClose(expected[2], last.states().get("exp_avg_sq"), 1e-13);
    }
  }

  // ---------------------------------------------------------------- reductions and broadcasting

  @Test
  void reductionsFollowTheMatrixView() {
    var p = frontend("""
        state r : row
        state c : col
        state s : scalar
        state e
        r = rowsum(g)
        c = colmean(g)
        s = maxabs(g)
        e = rowsum(c) + colsum(r)      # row + col: an outer broadcast
        metric total = sum(g)
        metric row_entries = sum(r)    # a row value has rows entries, not rows*cols
        metric col_rms = rms(c)
        metric gnorm = global_norm(g)
        metric gsum = global_sum(r)
        metric numel_mean = mean(r)
        w -= r + c
        """);
    // tensor 0: 2x3, tensor 1: 1x2
    var g0 = new double[] {1, 2, 3, 4, 5, -6};
    var g1 = new double[] {-7, 0.5};
    Map<String, double[]> s0 = Map.of("r", new double[2], "c", new double[3], "s", new double[1], "e", new double[6]);
    Map<String, double[]> s1 = Map.of("r", new double[1], "c", new double[2], "s", new double[1], "e", new double[2]);
    var group = List.of(new Interpreter.TensorData(2, 3, new double[6], g0, s0),
        new Interpreter.TensorData(1, 2, new double[2], g1, s1));
    var result = Interpreter.step(p, group, Map.of(), 1);
    var t0 = result.tensors().get(0);
    var t1 = result.tensors().get(1);
    assertArrayEquals(new double[] {6, 3}, t0.states().get("r"));
    assertArrayEquals(new double[] {2.5, 3.5, -1.5}, t0.states().get("c"));
    assertArrayEquals(new double[] {6}, t0.states().get("s"));
    // rowsum of a col value: every row gets the sum of the columns (4.5); colsum of a row value: 9
    assertArrayEquals(new double[] {13.5, 13.5, 13.5, 13.5, 13.5, 13.5}, t0.states().get("e"));
    assertArrayEquals(new double[] {-8.5, -9.5, -4.5, -5.5, -6.5, -1.5}, t0.w());
    assertArrayEquals(new double[] {-6.5}, t1.states().get("r"));
    assertArrayEquals(new double[] {-7, 0.5}, t1.states().get("c"));
    assertArrayEquals(new double[] {7}, t1.states().get("s"));
    assertArrayEquals(new double[] {13.5, 6}, t1.w());
    var m0 = result.metrics().get(0);
    var m1 = result.metrics().get(1);
    assertEquals(9, m0.get("total"));
    assertEquals(9, m0.get("row_entries"));
    assertEquals(Math.sqrt((2.5 * 2.5 + 3.5 * 3.5 + 1.5 * 1.5) / 3), m0.get("col_rms"), 1e-15);
    double gn = Math.sqrt(1 + 4 + 9 + 16 + 25 + 36 + 49 + 0.25);
    assertEquals(gn, m0.get("gnorm"), 1e-15);
    assertEquals(gn, m1.get("gnorm"), 1e-15);
    assertEquals(9 - 6.5, m0.get("gsum"));
    assertEquals(9 - 6.5, m1.get("gsum"));
    assertEquals(4.5, m0.get("numel_mean"));   // mean of a row value divides by rows
    assertEquals(-6.5, m1.get("numel_mean"));
  }

  @Test
  void hypersDefaultsUseEarlierHypersAndOverrides() {
    var p = frontend("""
        hyper a = 2
        hyper b = a * 3
        state s : row = rows * 0.5 + b
        w -= a * b * g + s
        s = s + 1
        """);
    assertEquals(Map.of("a", 2.0, "b", 6.0), Interpreter.hypers(p, Map.of()));
    assertEquals(Map.of("a", 5.0, "b", 15.0), Interpreter.hypers(p, Map.of("a", 5.0)));
    assertEquals(Map.of("a", 5.0, "b", 1.0), Interpreter.hypers(p, Map.of("a", 5.0, "b", 1.0)));
    assertArrayEquals(new double[] {16.5, 16.5, 16.5}, Interpreter.initStates(p, 3, 4, Map.of("a", 5.0)).get("s"));
    assertThrows(IllegalArgumentException.class, () -> Interpreter.hypers(p, Map.of("nope", 1.0)));
  }

  /** {@code state NAME = w}: a fresh tensor's state is a copy of its weights; {@code evaluate} is kept in the IR. */
  @Test
  void aStateFromWStartsAsTheWeightsAndTheEvaluationPointIsKept() throws CompileException {
    var source = """
        state x = w
        state h as bf16 = w
        evaluate x
        w -= g
        x = (x + w) / 2
        h = h
        """;
    var p = frontend(source);
    assertEquals("x", p.evaluate());
    assertTrue(p.state("x").initFromWeights());
    var w = new double[] {1, 2, 3.001};
    var d = Interpreter.fresh(p, 1, 3, w, new double[] {2, 2, 2}, Map.of());
    assertArrayEquals(w, d.states().get("x"));
    assertArrayEquals(new double[] {0, 0, 0}, Interpreter.initStates(p, 1, 3, Map.of()).get("x"));
    var optimized = compiled(source);
    assertEquals("x", optimized.evaluate(), "the passes keep the evaluation point");
    assertTrue(IrPrinter.print(optimized).contains("\nevaluate x\n"), IrPrinter.print(optimized));
    var r = Interpreter.step(p, List.of(d), Map.of(), 1);
    assertArrayEquals(new double[] {0, 1, 2.001}, r.tensors().getFirst().states().get("x"), 1e-12);
    assertEquals("w", frontend("w -= g").evaluate());
  }

  @Test
  void selectTreatsNanAsTrue() {
    var p = frontend("w = g ? 1 + w * 0 : 2 + w * 0");
    var d = new Interpreter.TensorData(1, 3, new double[3], new double[] {Double.NaN, 0, -0.0}, Map.of());
    assertArrayEquals(new double[] {1, 2, 2}, Interpreter.step(p, List.of(d), Map.of(), 1).tensors().getFirst().w());
  }

  @Test
  void hoistedUniformsAreEvaluated() throws CompileException {
    var source = "hyper lr = 0.1\nhyper beta = 0.9\nw -= lr / (1 - beta ^ t) * g\n";
    var p = compiled(source);
    assertEquals(1, p.hoisted().size(), IrPrinter.print(p));
    var d = new Interpreter.TensorData(1, 2, new double[] {1, 2}, new double[] {3, 4}, Map.of());
    var w = Interpreter.step(p, List.of(d), Map.of(), 3).tensors().getFirst().w();
    double scale = 0.1 / (1 - Math.pow(0.9, 3));
    assertArrayEquals(new double[] {1 - scale * 3, 2 - scale * 4}, w);
  }

  // ---------------------------------------------------------------- float32 mode

  @Test
  void float32ModeRoundsDeviceCodeAndNotHostMath() throws CompileException {
    var source = """
        hyper lr = 0.1
        hyper beta = 0.9
        state m as bf16
        state v : scalar as f16
        m = beta * m + (1 - beta) * g
        v = sum(g * g)
        w -= lr / (1 - beta ^ t) * m / (sqrt(v) + 1e-8)
        """;
    var r = new Random(3);
    var w0 = new double[7];
    var g0 = new double[7];
    var m0 = new double[7];
    for (int i = 0; i < 7; i++) {
      w0[i] = r.nextGaussian();
      g0[i] = r.nextGaussian();
      m0[i] = Dtype.BF16.round((float) r.nextGaussian());
    }
    // The same step in Java float arithmetic; host math (the hoisted lr/(1-beta^t)) in double.
    long t = 4;
    var m = new double[7];
    var w = new double[7];
    float beta = 0.9f;
    float oneMinusBeta = (float) (1 - 0.9);
    float sum = 0;
    double sumD = 0;
    for (int i = 0; i < 7; i++) {
      float gi = (float) g0[i];
      sumD += (double) (gi * gi);
    }
    sum = (float) sumD;
    float v = Dtype.F16.round(sum);
    float scale = (float) (0.1 / (1 - Math.pow(0.9, t)));
    for (int i = 0; i < 7; i++) {
      float gi = (float) g0[i];
      float mi = beta * (float) m0[i] + oneMinusBeta * gi;
      m[i] = Dtype.BF16.round(mi);
      // the stored m is rounded to bf16, but the update reads the f32 value computed this step
      w[i] = (float) w0[i] - scale * mi / ((float) Math.sqrt(sum) + 1e-8f);
    }
    for (var p : List.of(frontend(source), compiled(source))) {
      var d = new Interpreter.TensorData(1, 7, w0, g0, Map.of("m", m0, "v", new double[1]));
      var out = Interpreter.step(p, List.of(d), Map.of(), t, Interpreter.Precision.F32).tensors().getFirst();
      assertArrayEquals(m, out.states().get("m"));
      assertArrayEquals(new double[] {v}, out.states().get("v"));
      assertArrayEquals(w, out.w());
    }
  }
}
