package dev.optc.runtime.java;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.codegen.java.InterpretedStep;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import dev.optc.compiler.testing.RandomPrograms;
import dev.optc.runtime.Library;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * {@link InterpretedStep} leaves every buffer with the generated float32 class's bits: every library optimizer and
 * test program and fresh random programs, at each fusion level, stepped three times over the same fresh random
 * buffers (two tensors, one of 1,057 elements: more than a block, so blocks end mid-tensor; chunkable phases in
 * odd chunks), flags both ways. Plans with row or column values must be the only ones it declines.
 */
class InterpretedStepTest {
  static final int RANDOM_PROGRAMS = Integer.getInteger("optc.randomPrograms", 40);

  @TestFactory
  Stream<DynamicTest> interpretedStepsGiveTheGeneratedClassesBits() throws Exception {
    long seed = System.nanoTime();
    var cases = new ArrayList<>(VectorLoopsTest.cases());
    var random = new Random(seed);
    for (int k = 0; k < RANDOM_PROGRAMS; k++) {
      long programSeed = random.nextLong();
      cases.add(SourceFile.of("random-" + programSeed + ".opt", RandomPrograms.generate(programSeed)));
    }
    var tests = new ArrayList<DynamicTest>();
    for (var c : cases) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(c.name() + " " + fusion.label(), () -> {
          var context = c.name() + " " + fusion.label() + " (seed " + seed + ")\n" + c.text();
          var result = Compiler.check(c, Pipeline.Options.DEFAULT);
          assertTrue(result.ok(), () -> context + ": " + result.diagnostics());
          var plan = Planner.plan(result.program(), fusion);
          var interpreted = InterpretedStep.of(plan);
          // Row/column values, quantized states' block loops and products are the generated class's alone.
          boolean quantized = plan.program().states().stream().anyMatch(st -> st.dtype().quantized());
          assertEquals(!hasRowsOrColumns(plan) && !quantized && !plan.hasProducts(), interpreted.isPresent(),
              "interpreted or not: " + context);
          if (interpreted.isEmpty()) {
            return;
          }
          var generated = JavaSourceCompiler.<MemorySegment>instantiate(JavaEmitter.emit(plan, JavaEmitter.Precision.F32,
              false));
          var step = interpreted.get();
          assertEquals(generated.phases(), step.phases(), context);
          for (int p = 0; p < step.phases(); p++) {
            assertEquals(generated.chunkable(p), step.chunkable(p), "phase " + p + " chunkable: " + context);
          }
          try (var arena = Arena.ofConfined()) {
            var r = new Random(seed ^ c.name().hashCode() ^ fusion.ordinal());
            var a = VectorLoopsTest.buffers(plan, arena, r);
            var b = new MemorySegment[a.length];
            for (int k = 0; k < a.length; k++) {
              b[k] = arena.allocate(a[k].byteSize(), 4).copyFrom(a[k]);
            }
            var uniforms = new double[VectorLoopsTest.SEGMENTS.size()][plan.program().hoisted().size()];
            for (var u : uniforms) {
              for (int k = 0; k < u.length; k++) {
                u[k] = VectorLoopsTest.UNIFORMS[r.nextInt(VectorLoopsTest.UNIFORMS.length)];
              }
            }
            for (int s = 0; s < 3; s++) {
              VectorLoopsTest.run(generated, plan, a, uniforms);
              VectorLoopsTest.run(step, plan, b, uniforms);
            }
            for (int k = 0; k < a.length; k++) {
              for (long i = 0; i < a[k].byteSize() / 4; i++) {
                float x = a[k].getAtIndex(JAVA_FLOAT, i);
                float y = b[k].getAtIndex(JAVA_FLOAT, i);
                if (Float.floatToIntBits(x) != Float.floatToIntBits(y)) {
                  fail("buffer " + JavaEmitter.bufferNames(plan).get(k) + " [" + i + "]: generated " + x
                      + ", interpreted " + y + "\n" + context);
                }
              }
            }
          }
        }));
      }
    }
    return tests.stream();
  }

  /**
   * Through the engine: AdamW and a LAMB-like program over tensors past the engine's chunk (65,536) on two
   * threads, stepped five times, equal to the generated class's engine bit for bit.
   */
  @Test
  void theInterpretedEngineSteps() throws Exception {
    for (var source : List.of(Library.source("adamw").orElseThrow(), Library.source("lamb").orElseThrow())) {
      var program = OptProgram.compile(SourceFile.of("p.opt", source), Pipeline.Options.DEFAULT);
      var r = new Random(7);
      var tensors = List.of(new Optimizer.Tensor("a", new long[] {301, 233}, random(r, 301 * 233)),
          new Optimizer.Tensor("b", new long[] {1031}, random(r, 1031)));
      try (var generated = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 2))
              .group(Map.of(), tensors).build();
          var interpreted = Optimizer.builder(program).backend(JavaBackend.interpreted(2))
              .group(Map.of(), tensors).build()) {
        assertTrue(InterpretedStep.of(interpreted.plan()).isPresent());
        for (int s = 0; s < 5; s++) {
          for (var t : tensors) {
            var grad = random(r, t.weights().length);
            generated.setGrad(t.name(), grad);
            interpreted.setGrad(t.name(), grad);
          }
          generated.step();
          interpreted.step();
        }
        for (var t : tensors) {
          var x = generated.weights(t.name());
          var y = interpreted.weights(t.name());
          for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToIntBits(x[i]), Float.floatToIntBits(y[i]), t.name() + "[" + i + "]");
          }
        }
      }
    }
  }

  private static float[] random(Random r, int n) {
    var a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) r.nextGaussian();
    }
    return a;
  }

  private static boolean hasRowsOrColumns(Plan plan) {
    for (var phase : plan.phases()) {
      for (var n : plan.needed(phase)) {
        if (n.kind() == Kind.ROW || n.kind() == Kind.COL) {
          return true;
        }
      }
      for (var r : phase.reductions()) {
        if (r.op() == dev.optc.compiler.ir.ReduceOp.ROWSUM || r.op() == dev.optc.compiler.ir.ReduceOp.COLSUM) {
          return true;
        }
      }
      for (var w : phase.writes()) {
        if (w.location() instanceof Plan.Location.Temp t && (t.kind() == Kind.ROW || t.kind() == Kind.COL)) {
          return true;
        }
        if (w.location() instanceof Plan.Location.Buffer b && !b.name().equals("w")) {
          var kind = plan.program().state(b.name()).shape().kind();
          if (kind == Kind.ROW || kind == Kind.COL) {
            return true;
          }
        }
      }
    }
    return false;
  }
}
