package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.compiler.ir.Interpreter;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Liveness;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * Matrix products (DSL.md §11) in the runtime: what the IR means (the {@link Interpreter}, products summed in
 * float64) against the Java engine in float64 at every fusion level, on shapes that are wide, tall, square, 1-D
 * and a column; which work a tensor skips (the side of Newton–Schulz it does not take, the iterations a hyper turns
 * off) and which Gram memory it never gets. The device backends are compared with the Java reference by the
 * golden program {@code gram_ops.opt} and the library's muon ({@link BackendComparison}), and with float64 NumPy
 * by {@link FormulaConformanceTest}.
 */
class MatrixProductsTest {
  static final String GRAM_OPS = """
      optimizer gram_ops_small
      hyper lr = 0.01
      hyper beta = 0.9
      state m
      state p
      m = lerp(g, m, beta)
      x = m / max(norm(m), 1e-6)
      a = mm(x, tr(x))
      b = mm(tr(x), x)
      a2 = 0.5 * a - 0.25 * mm(a, a) / (1 + maxabs(a))
      side = rows > cols ? mm(x, b - rms(b)) : mm(a2, x)
      p = 0.01 * mm(mm(x, tr(g)), g) + mm(x, tr(mm(tr(g), x)))
      metric gram_norm = norm(a)
      w -= lr * (side + p)
      """;

  /** Wide, tall, square, 1-D, 1 x 1, a column, 3-D (6 x 2); empty tensors are BackendComparison's (gram_ops.opt). */
  static final long[][] SHAPES = {{5, 9}, {11, 3}, {4, 4}, {7}, {1}, {3, 1}, {2, 3, 2}};

  @ParameterizedTest
  @EnumSource(Fusion.class)
  void theJavaEngineComputesWhatTheProgramMeans(Fusion fusion) throws Exception {
    var program = OptProgram.compile(SourceFile.of("gram_ops_small.opt", GRAM_OPS), Pipeline.Options.DEFAULT);
    long seed = System.nanoTime();
    var r = new Random(seed);
    var group = new ArrayList<Interpreter.TensorData>();
    for (var shape : SHAPES) {
      var view = MatrixView.of(shape);
      int n = view.numel();
      var w = new double[n];
      var g = new double[n];
      for (int i = 0; i < n; i++) {
        w[i] = (float) r.nextGaussian();
        g[i] = (float) (r.nextGaussian() * 0.1);
      }
      var states = Interpreter.initStates(program.ir(), view.rows(), view.cols(), Map.of());
      var m = states.get("m");
      for (int i = 0; i < m.length; i++) {
        m[i] = (float) (r.nextGaussian() * 0.1);
      }
      group.add(new Interpreter.TensorData(view.rows(), view.cols(), w, g, states));
    }
    var expected = Interpreter.step(program.ir(), group, Map.of(), 1, Interpreter.Precision.F64);
    JavaBackendVsInterpreterTest.compare(program, fusion, group, Map.of(), expected,
        "gram_ops_small at " + fusion.label() + " (seed " + seed + ")");
  }

  /** A BLAS reads float32: a product reads w, g and float32 states where they are, a bf16 or q8 state via a temporary. */
  @Test
  void productsReadOnlyFloat32BuffersInPlace() throws Exception {
    var program = OptProgram.compile(SourceFile.of("stored.opt", """
        optimizer stored
        state a as bf16
        state b as q8
        state c
        a = lerp(g, a, 0.9)
        b = lerp(g, b, 0.9)
        c = lerp(g, c, 0.9)
        w -= 0.01 * (mm(mm(a, tr(a)), g) + mm(mm(b, tr(b)), w) + mm(mm(c, tr(c)), g))
        """), Pipeline.Options.DEFAULT);
    for (var fusion : Fusion.values()) {
      var plan = Planner.plan(program.ir(), fusion);
      var read = new java.util.TreeSet<String>();
      for (var phase : plan.phases()) {
        if (phase.products()) {
          phase.writes().forEach(w -> w.value().inputs().forEach(x -> read.add(plan.operandBuffer(x))));
        }
      }
      assertFalse(read.contains("a") || read.contains("b"), fusion + ": " + read);
      assertTrue(read.stream().allMatch(b -> b.equals("w") || b.equals("g") || b.equals("c") || Plan.isTemp(b)),
          fusion + ": " + read);
    }
  }

  @Test
  void muonTakesTheSmallerSideAndOnlyTheIterationsItAsksFor() throws Exception {
    var program = OptProgram.load("muon");
    var plan = Planner.plan(program.ir(), Fusion.FULL);
    var liveness = Liveness.of(plan);
    assertTrue(liveness.selective());
    // A wide and a tall tensor: each keeps memory only for the Gram matrix of its short side.
    var layout = new Layout(List.of(new Layout.Tensor("wide", new long[] {6, 20}, 0, new MatrixView(6, 20)),
        new Layout.Tensor("tall", new long[] {30, 4}, 0, new MatrixView(30, 4))), 1);
    var gram = GramLayout.of(layout, plan);
    assertEquals(36, gram.arenaLength(Kind.RR), "rr: the wide tensor's 6 x 6 only");
    assertEquals(16, gram.arenaLength(Kind.CC), "cc: the tall tensor's 4 x 4 only");
    for (int steps : new int[] {0, 1, 3, 5, 10, 12}) {
      var wide = productsNeeded(plan, liveness, steps, 6, 20);
      var tall = productsNeeded(plan, liveness, steps, 30, 4);
      int taken = Math.min(steps, 10);
      assertEquals(3 * taken, wide.size(), "wide, ns_steps " + steps + ": three products per iteration");
      assertEquals(3 * taken, tall.size(), "tall, ns_steps " + steps);
      // (A product's record prints its whole expression DAG as a tree: report kinds only.)
      assertTrue(wide.stream().noneMatch(m -> m.kind() == Kind.CC || m.a().kind() == Kind.CC), () -> "wide: "
          + wide.stream().map(m -> m.kind().label()).toList());
      assertTrue(tall.stream().noneMatch(m -> m.kind() == Kind.RR || m.a().kind() == Kind.RR), () -> "tall: "
          + tall.stream().map(m -> m.kind().label()).toList());
    }
  }

  /** The products a tensor of {@code rows x cols} needs at a step with {@code ns_steps = steps}. */
  private static List<Node.Product> productsNeeded(Plan plan, Liveness liveness, int steps, int rows, int cols) {
    var hypers = HostEvaluator.hyperValues(plan.program(), Map.of("ns_steps", (double) steps));
    var env = new HostEvaluator.Env(hypers::get, 1, rows * cols, rows, cols, null, null, null);
    var evaluator = new HostEvaluator(env);
    var uniforms = plan.program().hoisted().stream().mapToDouble(evaluator::eval).toArray();
    var needed = liveness.phases(uniforms);
    var out = new ArrayList<Node.Product>();
    for (var phase : plan.phases()) {
      if (phase.products() && needed[phase.index()]) {
        phase.writes().forEach(w -> out.add((Node.Product) w.value()));
      }
    }
    return out;
  }

  @Test
  void aHyperIterationCountGivesWhatTheUnrolledConstantGives() throws Exception {
    // ns_steps = 3 as a hyper (iterations 4-10 skipped at run time) and as a literal (folded away) agree bit for bit.
    var source = Library.source("muon").orElseThrow();
    var constant = OptProgram.compile(SourceFile.of("muon3.opt",
        source.replace("newton_schulz5_eps(update, ns_steps, eps)", "newton_schulz5_eps(update, 3, eps)")
            .replace("optimizer muon", "optimizer muon3")), Pipeline.Options.DEFAULT);
    assertTrue(Planner.plan(constant.ir(), Fusion.FULL).phases().size()
        < Planner.plan(OptProgram.load("muon").ir(), Fusion.FULL).phases().size());
    var r = new Random(11);
    var tensors = Conformance.tensors(r, new long[][] {{6, 10}, {12, 5}}, "t");
    float[][] grads = {new float[60], new float[60]};
    for (var gr : grads) {
      for (int i = 0; i < gr.length; i++) {
        gr[i] = (float) r.nextGaussian();
      }
    }
    var results = new ArrayList<float[][]>();
    for (var program : List.of(OptProgram.load("muon"), constant)) {
      try (var opt = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 1))
          .group(Map.of("ns_steps", 3.0), tensors).build()) {
        for (int step = 0; step < 3; step++) {
          opt.setGrad("t0", grads[0]);
          opt.setGrad("t1", grads[1]);
          opt.step();
        }
        results.add(new float[][] {opt.weights("t0"), opt.weights("t1")});
      }
    }
    assertArrayEquals(results.get(0)[0], results.get(1)[0]);
    assertArrayEquals(results.get(0)[1], results.get(1)[1]);
    assertFalse(java.util.Arrays.equals(results.get(0)[0], tensors.get(0).weights()), "the step moved the weights");
  }
}
