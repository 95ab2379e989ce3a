package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.java.JavaBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The three fusion levels are the same computation cut differently: on the Java reference they must give
 * bit-identical weights and states (same float32 operations in the same order; reductions accumulate
 * in the same order). Also counts kernels, as tinygrad's tests do.
 */
class FusionLevelsTest {
  static final Path GOLDEN = Path.of("../compiler/src/test/resources/golden");

  static List<OptProgram> programs() throws Exception {
    var list = new ArrayList<OptProgram>();
    for (var name : Library.NAMES) {
      list.add(OptProgram.load(name));
    }
    try (var files = Files.list(GOLDEN)) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        list.add(OptProgram.compile(SourceFile.of(f.getFileName().toString(), Files.readString(f)),
            Pipeline.Options.DEFAULT));
      }
    }
    return list;
  }

  @TestFactory
  Stream<DynamicTest> levelsAgreeBitForBit() throws Exception {
    long seed = System.nanoTime();
    return programs().stream().map(p -> DynamicTest.dynamicTest(p.name(), () -> check(p, seed)));
  }

  static void check(OptProgram program, long seed) {
    var rnd = new Random(seed);
    // A group of tensors of odd shapes, one of them empty and one 1 x 1.
    long[][] shapes = {{7, 13}, {1}, {0, 3}, {5, 1, 3}, {101}, {3, 2}};
    var tensors = new ArrayList<Optimizer.Tensor>();
    for (int i = 0; i < shapes.length; i++) {
      var n = MatrixView.of(shapes[i]).numel();
      var w = new float[n];
      for (int k = 0; k < n; k++) {
        w[k] = (float) rnd.nextGaussian();
      }
      tensors.add(new Optimizer.Tensor("t" + i, shapes[i], w));
    }
    var grads = new ArrayList<float[][]>();
    for (int step = 0; step < 12; step++) {
      var g = new float[tensors.size()][];
      for (int i = 0; i < tensors.size(); i++) {
        g[i] = new float[tensors.get(i).weights().length];
        for (int k = 0; k < g[i].length; k++) {
          g[i][k] = rnd.nextInt(10) == 0 ? 0f : (float) (rnd.nextGaussian() * 0.1);
        }
      }
      grads.add(g);
    }
    float[][] reference = null;
    for (var fusion : Fusion.values()) {
      var result = run(program, fusion, tensors, grads);
      if (reference == null) {
        reference = result;
      } else {
        for (int i = 0; i < result.length; i++) {
          assertArrayEquals(reference[i], result[i], program.name() + " at fusion " + fusion.label()
              + ": buffer " + i + " differs from full (seed " + seed + ")");
        }
      }
    }
  }

  /** Weights then every state of every tensor, after the steps. */
  static float[][] run(OptProgram program, Fusion fusion, List<Optimizer.Tensor> tensors, List<float[][]> grads) {
    try (var opt = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 2))
        .fusion(fusion).group(Map.of(), tensors).build()) {
      for (var g : grads) {
        for (int i = 0; i < tensors.size(); i++) {
          opt.setGrad(tensors.get(i).name(), g[i]);
          // An input (sophia's Hessian estimate): |g|, the same at every level.
          var abs = new float[g[i].length];
          for (int k = 0; k < abs.length; k++) {
            abs[k] = Math.abs(g[i][k]);
          }
          for (var in : opt.inputs()) {
            opt.setInput(in, tensors.get(i).name(), abs);
          }
        }
        opt.step();
      }
      var out = new ArrayList<float[]>();
      for (var t : tensors) {
        out.add(opt.weights(t.name()));
        for (var s : program.ir().states()) {
          out.add(opt.state(s.name(), t.name()));
        }
      }
      return out.toArray(float[][]::new);
    }
  }

  @Test
  void kernelCounts() throws Exception {
    for (var name : Library.NAMES) {
      var ir = OptProgram.load(name).ir();
      if (Planner.plan(ir, Fusion.FULL).reductions().isEmpty()) {
        assertEquals(1, Planner.plan(ir, Fusion.FULL).phases().size(), name + " has no reduction: one kernel");
      }
    }
    assertEquals(1, Planner.plan(OptProgram.load("adamw").ir(), Fusion.FULL).phases().size(), "AdamW: 1");
    assertEquals(2, Planner.plan(OptProgram.load("lamb").ir(), Fusion.FULL).phases().size(), "LAMB: 2");
    assertEquals(2, Planner.plan(OptProgram.load("lars").ir(), Fusion.FULL).phases().size(), "LARS: 2");
    assertEquals(2, Planner.plan(OptProgram.load("adamw_clip").ir(), Fusion.FULL).phases().size(),
        "AdamW with global-norm clipping: 2");
    var lamb = programs().stream().filter(p -> p.name().equals("lamb_like")).findFirst().orElseThrow();
    assertEquals(2, Planner.plan(lamb.ir(), Fusion.FULL).phases().size(), "norms, then the update");
    var adamw = OptProgram.load("adamw").ir();
    assertTrue(Planner.plan(adamw, Fusion.STATEMENT).phases().size() > 1);
    assertTrue(Planner.plan(adamw, Fusion.NONE).phases().size()
        > Planner.plan(adamw, Fusion.STATEMENT).phases().size(), "one kernel per operation is the most");
  }
}
