package dev.optc.runtime.java;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Library;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The float32 reference's vector loops compute the scalar loops' bits: each library optimizer and test
 * program at each fusion level, emitted with and without vector loops, stepped over the same fresh random
 * buffers (two tensors at odd offsets and sizes, chunkable phases in odd chunks, so vector loops start
 * and stop mid-buffer and leave scalar tails), must leave every buffer bit for bit the same. (Here rather
 * than beside the emitter because the in-memory javac is the runtime's.)
 */
class VectorLoopsTest {
  static final Path GOLDEN = Path.of("../compiler/src/test/resources/golden");

  /** The compiler's golden cases: every library optimizer and every test program. */
  static List<SourceFile> cases() throws Exception {
    var sources = new ArrayList<SourceFile>();
    for (var name : Library.NAMES) {
      sources.add(SourceFile.of(name + ".opt", Library.source(name).orElseThrow()));
    }
    try (var files = Files.list(GOLDEN)) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        sources.add(SourceFile.of(f.getFileName().toString(), Files.readString(f)));
      }
    }
    // The one reduction no test program above has: maxabs over elements (sums over elements they have).
    sources.add(SourceFile.of("maxabs_scale.opt", """
        optimizer maxabs_scale
        hyper lr = 0.1
        state m
        m = 0.9 * m + g
        w -= lr * m / (maxabs(m) + 1)
        """));
    return sources;
  }

  /** Two tensors: 7 x 151 (1,057 elements) from element 0, then 1 x 37 from element 1,057. */
  static final List<JavaStep.Segment> SEGMENTS = List.of(new JavaStep.Segment(0, 0, 1057, 7, 151, 0, 0),
      new JavaStep.Segment(1, 1057, 37, 1, 37, 7, 151));
  static final int ELEMS = 1094;
  static final int ROWS = 8;
  static final int COLS = 188;
  /** The Gram matrices of SEGMENTS: rows × rows (49 + 1 entries), cols × cols (22801 + 1369). */
  static final List<JavaStep.Segment> GRAM_RR = List.of(new JavaStep.Segment(0, 0, 49, 7, 7, 0, 0),
      new JavaStep.Segment(1, 49, 1, 1, 1, 0, 0));
  static final List<JavaStep.Segment> GRAM_CC = List.of(new JavaStep.Segment(0, 0, 22801, 151, 151, 0, 0),
      new JavaStep.Segment(1, 22801, 1369, 37, 37, 0, 0));
  /** What uniforms are drawn from: flags both ways, typical hyper values, a negative. */
  static final double[] UNIFORMS = {0, 1, 0.9, 0.999, 1e-3, 1e-8, 0.5, 2, -1, 0.01};

  @TestFactory
  Stream<DynamicTest> vectorLoopsGiveTheScalarLoopsBits() throws Exception {
    assumeTrue(JavaEmitter.vectorApi(), "this JVM has no Vector API (--add-modules jdk.incubator.vector)");
    long seed = System.nanoTime();
    var tests = new ArrayList<DynamicTest>();
    for (var c : cases()) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(c.name() + " " + fusion.label(), () -> {
          var result = Compiler.check(c, Pipeline.Options.DEFAULT);
          assertTrue(result.ok(), () -> c.name() + ": " + result.diagnostics());
          var plan = Planner.plan(result.program(), fusion);
          var scalar = JavaSourceCompiler.<MemorySegment>instantiate(JavaEmitter.emit(plan, JavaEmitter.Precision.F32,
              false));
          var vector = JavaSourceCompiler.<MemorySegment>instantiate(JavaEmitter.emit(plan, JavaEmitter.Precision.F32,
              true));
          try (var arena = Arena.ofConfined()) {
            var r = new Random(seed ^ c.name().hashCode() ^ fusion.ordinal());
            var a = buffers(plan, arena, r);
            var b = new MemorySegment[a.length];
            for (int k = 0; k < a.length; k++) {
              b[k] = arena.allocate(a[k].byteSize(), 4).copyFrom(a[k]);
            }
            var uniforms = new double[SEGMENTS.size()][plan.program().hoisted().size()];
            for (var u : uniforms) {
              for (int k = 0; k < u.length; k++) {
                u[k] = UNIFORMS[r.nextInt(UNIFORMS.length)];
              }
            }
            for (int step = 0; step < 3; step++) {
              run(scalar, plan, a, uniforms);
              run(vector, plan, b, uniforms);
            }
            for (int k = 0; k < a.length; k++) {
              for (long i = 0; i < a[k].byteSize() / 4; i++) {
                float x = a[k].getAtIndex(JAVA_FLOAT, i);
                float y = b[k].getAtIndex(JAVA_FLOAT, i);
                if (Float.floatToIntBits(x) != Float.floatToIntBits(y)) {
                  fail(c.name() + " " + fusion.label() + " (seed " + seed + "): buffer " + k + " [" + i + "]: scalar "
                      + x + ", vector " + y);
                }
              }
            }
          }
        }));
      }
    }
    return tests.stream();
  }

  /** The float32 reference indexes its buffers from their start: no offsets the engine should choose. */
  @Test
  void theGeneratedJavaIndexesItsBuffersPlainly() throws Exception {
    for (var c : cases()) {
      var result = Compiler.check(c, Pipeline.Options.DEFAULT);
      for (var precision : JavaEmitter.Precision.values()) {
        var source = JavaEmitter.emit(Planner.plan(result.program(), Fusion.FULL), precision, true).toString();
        assertTrue(!source.contains("i + 272") && !source.contains("stagger"), c.name() + " " + precision);
      }
    }
  }

  /** w, g, the states, the temporaries: fresh values, states positive (square roots of moments). */
  static MemorySegment[] buffers(Plan plan, Arena arena, Random r) {
    var kinds = new ArrayList<Kind>(List.of(Kind.ELEM, Kind.ELEM));
    plan.program().states().forEach(s -> kinds.add(s.shape().kind()));
    kinds.addAll(plan.temps());
    // A quantized state's absmax and float32 arenas: SEGMENTS keep such states in float32, at their offsets.
    while (kinds.size() < JavaEmitter.bufferNames(plan).size()) {
      kinds.add(Kind.ELEM);
    }
    var out = new MemorySegment[kinds.size()];
    for (int k = 0; k < out.length; k++) {
      int n = length(kinds.get(k));
      out[k] = arena.allocate(4L * n, 4);
      for (int i = 0; i < n; i++) {
        out[k].setAtIndex(JAVA_FLOAT, i, k < 2 ? (float) r.nextGaussian() : r.nextFloat());
      }
    }
    return out;
  }

  private static int length(Kind kind) {
    return switch (kind) {
      case ELEM -> ELEMS;
      case ROW -> ROWS;
      case COL -> COLS;
      case UNIFORM, CONST -> SEGMENTS.size();
      case RR -> 50;
      case CC -> 22801 + 1369;
    };
  }

  /** Every phase over both tensors; chunkable phases in three chunks of odd sizes. */
  static void run(JavaStep<MemorySegment> step, Plan plan, MemorySegment[] buffers, double[][] uniforms) {
    var red = new double[plan.reductions().size()][];
    for (int k = 0; k < red.length; k++) {
      red[k] = new double[length(plan.reductions().get(k).kind())];
    }
    for (int phase = 0; phase < step.phases(); phase++) {
      // A pass over Gram matrices runs over their segments; a product phase does nothing in the class (the engine
      // runs it), so what the products would have written is the buffers' random values.
      var segments = switch (plan.phases().get(phase).domain()) {
        case RR -> GRAM_RR;
        case CC -> GRAM_CC;
        case ELEM, PRODUCTS -> SEGMENTS;
      };
      for (var s : segments) {
        var u = uniforms[s.index()];
        if (step.chunkable(phase)) {
          int a = Math.min(s.numel(), 13);
          int b = Math.min(s.numel(), 13 + 517);
          step.run(phase, s, buffers, u, red, 0, a);
          step.run(phase, s, buffers, u, red, a, b);
          step.run(phase, s, buffers, u, red, b, s.numel());
        } else {
          step.run(phase, s, buffers, u, red, 0, s.numel());
        }
      }
    }
  }
}
