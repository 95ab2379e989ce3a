package dev.optc.compiler.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.testing.RandomPrograms;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The planner's invariants on adversarial and random programs, at every fusion level: no phase reads a
 * buffer's old value after an earlier phase overwrote it (write-after-read hazard), every result is
 * stored exactly once, a value is read back only after the phase that wrote it, and the cheapest plan
 * is never worse than the plain one.
 */
class PlannerTest {

  static IrProgram compile(String source) {
    var result = Compiler.check(SourceFile.of("t.opt", source), new Pipeline.Options(null, true));
    assertTrue(result.ok(), () -> result.diagnostics().toString());
    return result.program();
  }

  static void checkInvariants(Plan plan, String context) {
    var p = plan.program();
    var stored = new HashMap<String, Integer>();
    for (var phase : plan.phases()) {
      for (var n : plan.needed(phase)) {
        if (n instanceof Node.Load l && stored.containsKey(l.buffer()) && !plan.available(phase, n)) {
          fail(context + ": phase " + phase.index() + " reads the old " + l.buffer() + " after phase "
              + stored.get(l.buffer()) + " stored it");
        }
        if (plan.locations().containsKey(n) && plan.available(phase, n)
            && plan.writtenIn(n) >= phase.index()) {
          fail(context + ": phase " + phase.index() + " reads a value before it is written");
        }
      }
      for (var s : phase.stores()) {
        if (stored.put(s.buffer(), phase.index()) != null) {
          fail(context + ": " + s.buffer() + " is stored twice");
        }
      }
    }
    var outputs = new HashSet<String>();
    p.outputs().forEach(o -> outputs.add(o.buffer()));
    assertEquals(outputs, stored.keySet(), context + ": every result stored once");
  }

  /** A state read (old) after the value that depends on its new value needs a reduction. */
  static final String[] ADVERSARIAL = {
      """
      hyper lr = 0.1
      state m
      old = m
      m = 0.9*m + g
      n = norm(m)
      w -= lr * (m / (n + 1) + old)
      """,
      """
      hyper lr = 0.1
      state m
      state v
      m = 0.9*m + g
      v = v + norm(m)*g
      w -= lr * (m + v) / (norm(v) + 1) + lr * m
      """,
      """
      hyper lr = 0.1
      state s : scalar
      state r : row
      r = r + rowmean(g*s)
      s = s + mean(r)
      w -= lr * g * s / (r + 1) + lr * norm(w) * 0.001
      """,
      """
      hyper lr = 0.1
      state m
      m = m + g
      x = norm(m)
      m = m * (1 / (x + 1))
      y = norm(m)
      w -= lr * m / (y + 1)
      """,
  };

  @Test
  void adversarialProgramsAreHazardFree() {
    for (var source : ADVERSARIAL) {
      var p = compile(source);
      for (var f : Fusion.values()) {
        checkInvariants(Planner.plan(p, f), f.label() + " plan of\n" + source);
      }
    }
  }

  @Test
  void randomProgramsAreHazardFree() {
    long seed = System.nanoTime();
    var r = new Random(seed);
    for (int i = 0; i < 300; i++) {
      long s = r.nextLong();
      var source = RandomPrograms.generate(s);
      var p = compile(source);
      for (var f : Fusion.values()) {
        checkInvariants(Planner.plan(p, f), f.label() + " plan (program seed " + s + ")\n" + source);
      }
    }
  }

  @Test
  void aProgramWithoutReductionsIsOneKernel() {
    var p = compile("""
        hyper lr = 1e-3; hyper beta1 = 0.9; hyper beta2 = 0.999; hyper eps = 1e-8; hyper wd = 0.01
        state m; state v
        w *= 1 - lr*wd
        m = beta1*m + (1-beta1)*g
        v = beta2*v + (1-beta2)*g*g
        w -= lr/(1-beta1^t) * m / (sqrt(v/(1-beta2^t)) + eps)
        """);
    assertEquals(1, Planner.plan(p, Fusion.FULL).phases().size());
  }

  /** AdamW's amsgrad state is neither read nor written while amsgrad is 0 (Guards). */
  @Test
  void aStateUnderAnOffFlagMovesNoBytes() {
    var p = compile("""
        hyper lr = 1e-3; hyper amsgrad = false
        state v; state vmax
        v = 0.9*v + 0.1*g*g
        vmax = amsgrad ? max(vmax, v) : vmax
        w -= lr * g / (sqrt(amsgrad ? vmax : v) + 1e-8)
        """);
    var plan = Planner.plan(p, Fusion.FULL);
    var guards = Guards.of(plan, plan.phases().getFirst());
    assertEquals(java.util.Set.of("vmax"), guards.stores().keySet());
    assertEquals(1, guards.loads().size());
    var cost = Cost.of(plan);
    assertEquals(20, cost.bytesPerElement(), "w g v read, w v written");
    assertEquals(8, cost.conditionalBytes(), "vmax read and written while amsgrad is on");
  }

  /**
   * A state every kernel touches only under one hyper's guard needs no memory while the hyper is off
   * (Guards.flagStates), at every fusion level (at statement and none a later kernel reads the value stored in
   * it back under the guard); one also read unguarded (a sum over it) does.
   */
  @Test
  void aStateOnlyAFlagUsesIsAFlagState() {
    var source = """
        hyper lr = 1e-3; hyper amsgrad = false; hyper plain = true
        state v; state vmax; state u
        v = 0.9*v + 0.1*g*g
        vmax = amsgrad ? max(vmax, v) : vmax
        u = plain ? u : u + g
        w -= lr * g / (sqrt(amsgrad ? vmax : v) + 1e-8) + (plain ? 0 : u)
        """;
    var p = compile(source);
    assertEquals(List.of(new Guards.FlagState("vmax", "amsgrad", true), new Guards.FlagState("u", "plain", false)),
        Guards.flagStates(Planner.plan(p, Fusion.FULL)));
    var u = Guards.flagStates(Planner.plan(p, Fusion.FULL)).get(1);
    assertTrue(u.neededAt(0));
    assertFalse(u.neededAt(1));
    assertTrue(u.neededAt(1e-50), "a value float32 rounds to 0 is 0 in the kernels");
    // At statement and none fusion later kernels read the stored values back, under the same guard.
    for (var fusion : List.of(Fusion.STATEMENT, Fusion.NONE)) {
      assertEquals(Guards.flagStates(Planner.plan(p, Fusion.FULL)), Guards.flagStates(Planner.plan(p, fusion)),
          fusion.toString());
    }
    var summed = compile(source + "w -= 1e-9 * sum(vmax)\n");
    assertEquals(List.of(new Guards.FlagState("u", "plain", false)),
        Guards.flagStates(Planner.plan(summed, Fusion.FULL)));
  }

  @Test
  void lambIsTwoKernelsWithinOneAndAHalfTimesTheBound() {
    var p = compile("""
        hyper lr = 1e-3; hyper beta1 = 0.9; hyper beta2 = 0.999; hyper eps = 1e-6; hyper wd = 0.01
        state m; state v
        m = beta1*m + (1-beta1)*g
        v = beta2*v + (1-beta2)*g*g
        r = m/(1-beta1^t) / (sqrt(v/(1-beta2^t)) + eps) + wd*w
        wn = norm(w); rn = norm(r)
        w -= lr * (wn > 0 and rn > 0 ? wn/rn : 1) * r
        """);
    var plan = Planner.plan(p, Fusion.FULL);
    assertEquals(2, plan.phases().size(), "the norms, then the update");
    var cost = Cost.of(plan);
    assertEquals(28, cost.lowerBound(), "read w g m v, write w m v");
    assertTrue(cost.bytesPerElement() <= 1.5 * cost.lowerBound(),
        "bytes moved " + cost.bytesPerElement() + " vs bound " + cost.lowerBound());
  }
}
