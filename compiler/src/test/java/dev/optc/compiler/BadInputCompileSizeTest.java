package dev.optc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.c.CEmitter;
import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Infix;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bad input, issue 10 group 5: huge programs. Compile time and memory used to be quadratic (a 40k-term sum
 * took 54 s and 6 GB in {@code check}), and deep expressions overflowed recursive walks. These programs
 * are far larger than any real optimizer; each must compile, plan and emit. The timeouts only keep a
 * regression from hanging the build: they are hang guards, many times what the work takes, not
 * performance claims ({@code benchmarks/compile_time.sh} measures that).
 */
class BadInputCompileSizeTest {

  private static IrProgram compile(String source) {
    // With the verifier after every pass: it asked "is this a host uniform?" by walking each node's
    // whole subgraph, quadratic on a long chain.
    var result = Compiler.check(SourceFile.of("big.opt", source), new Pipeline.Options(null, true));
    assertTrue(result.ok(), () -> result.diagnostics().stream().limit(3).toList().toString());
    return result.program();
  }

  private static void emitAll(IrProgram p) {
    var plan = Planner.plan(p, Fusion.FULL);
    assertTrue(CEmitter.emit(plan, KernelConfig.of(Dialect.OPENCL, 256)).source().length() > 0);
    assertTrue(CEmitter.emit(plan, KernelConfig.of(Dialect.CUDA, 256)).source().length() > 0);
    assertTrue(JavaEmitter.emit(plan, JavaEmitter.Precision.F32).toString().length() > 0);
  }

  /** {@code g+g+...}: a left spine 200,000 levels deep through the parse tree, the AST and the IR. */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void aSumOf200kTermsCompilesAndPlans() {
    var sb = new StringBuilder("hyper lr = 0.01\nw -= lr * (g");
    sb.append("+g".repeat(199_999)).append(")\n");
    var p = compile(sb.toString());
    var plan = Planner.plan(p, Fusion.FULL);
    assertEquals(1, plan.phases().size());
    assertTrue(CEmitter.emit(plan, KernelConfig.of(Dialect.OPENCL, 256)).source().length() > 200_000);
  }

  /** 20,000 statements, each reading the one before (each binding's subgraph is everything before it). */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void twentyThousandChainedStatementsCompileAndEmit() {
    var sb = new StringBuilder("hyper lr = 0.01\nx1 = g * 0.5\n");
    for (int i = 2; i <= 20_000; i++) {
      sb.append('x').append(i).append(" = x").append(i - 1).append(" * 0.5 + g\n");
    }
    sb.append("w -= lr * x20000\n");
    emitAll(compile(sb.toString()));
  }

  /** 5,000 states: every backend looked each state up by a search of all of them. */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void fiveThousandStatesCompileAndEmit() {
    var sb = new StringBuilder("hyper lr = 0.01\n");
    for (int i = 1; i <= 5_000; i++) {
      sb.append("state s").append(i).append('\n');
    }
    var sum = new StringBuilder("s1");
    for (int i = 1; i <= 5_000; i++) {
      sb.append('s').append(i).append(" = 0.9 * s").append(i).append(" + g\n");
      if (i > 1) {
        sum.append(" + s").append(i);
      }
    }
    sb.append("w -= lr * (").append(sum).append(")\n");
    var p = compile(sb.toString());
    assertEquals(5_000, p.states().size());
    emitAll(p);
  }

  /** 20,000 calls of defs: each call used to copy every name in scope for the def's body. */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void twentyThousandDefCallsCompile() {
    var sb = new StringBuilder("hyper lr = 0.01\ndef half(a) = a * 0.5\nx1 = half(g)\n");
    for (int i = 2; i <= 20_000; i++) {
      sb.append('x').append(i).append(" = half(x").append(i - 1).append(") + cosine(t, 1000, 0.1) * g\n");
    }
    sb.append("w -= lr * x20000\n");
    compile(sb.toString());
  }

  /**
   * Host values printed as comments ({@code // u0 = ...}) grew as 3^depth for selects over shared values:
   * 40 nested selects would never finish printing. The print stops after a fixed number of nodes.
   */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void aHoistedValueOfManySharedSelectsPrintsShort() {
    var sb = new StringBuilder("hyper lr = 0.01\nx0 = lr\n");
    for (int i = 1; i <= 40; i++) {
      sb.append('x').append(i).append(" = x").append(i - 1).append(" > 0.5 ? x").append(i - 1)
          .append(" : x").append(i - 1).append(" * 2\n");
    }
    sb.append("w -= x40 * g\n");
    var p = compile(sb.toString());
    assertEquals(1, p.hoisted().size());
    assertTrue(Infix.print(p.hoisted().getFirst()).length() < 10_000);
    emitAll(p);
  }

  /**
   * Nesting is as deep as the parser's stack allows: 1,000 levels compile; 200,000 levels compile or are
   * one diagnostic ("nested too deeply"), never a crash.
   */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void deepNestingCompilesOrIsOneDiagnostic() {
    for (var open : new String[] {"(", "sin(", "-("}) {
      emitAll(compile("hyper lr = 0.01\nw -= lr * " + open.repeat(1_000) + "g" + ")".repeat(1_000) + "\n"));
      var source = "hyper lr = 0.01\nw -= lr * " + open.repeat(200_000) + "g" + ")".repeat(200_000) + "\n";
      var result = Compiler.check(SourceFile.of("deep.opt", source));
      assertTrue(result.ok() || result.diagnostics().size() == 1, () -> result.diagnostics().toString());
    }
  }
}
