package dev.optc.compiler.plan;

import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The static cost of a plan per parameter element: bytes each phase reads and writes of per-element
 * buffers and the arithmetic it does per element. Row, column and scalar values are O(rows + cols) per
 * tensor and are left out of per-element figures.
 */
public final class Cost {
  private Cost() {}

  /** What one phase moves and computes per element. */
  public record PhaseCost(int index, Set<String> reads, Set<String> writes, int bytesRead, int bytesWritten,
      int flops, Set<String> conditional, int conditionalBytes) {
    public int bytes() {
      return bytesRead + bytesWritten;
    }
  }

  /**
   * @param lowerBound bytes per element if every buffer the step reads is read once and every buffer it
   *     writes is written once
   * @param conditionalBytes bytes per element moved only while a flag is on ({@link Guards}); not in the
   *     other figures
   */
  public record Summary(List<PhaseCost> phases, int bytesPerElement, int lowerBound, int flopsPerElement,
      int conditionalBytes) {}

  public static int bytesOf(IrProgram p, String buffer) {
    return buffer.equals("w") || buffer.equals("g") || Plan.isTemp(buffer) ? 4
        : p.state(buffer).dtype().bytes();
  }

  private static String name(Plan.Location at) {
    return Plan.bufferOf(at);
  }

  private static boolean perElement(Plan plan, Plan.Location at) {
    return switch (at) {
      case Plan.Location.Buffer b -> b.name().equals("w")
          || plan.program().state(b.name()).shape().kind() == Kind.ELEM;
      case Plan.Location.Temp t -> t.kind() == Kind.ELEM;
    };
  }

  public static Summary of(Plan plan) {
    var p = plan.program();
    var phases = new ArrayList<PhaseCost>();
    var allReads = new LinkedHashSet<String>();
    var allWrites = new LinkedHashSet<String>();
    int total = 0;
    int flops = 0;
    int conditional = 0;
    for (var phase : plan.phases()) {
      var guards = Guards.of(plan, phase);
      var reads = new LinkedHashSet<String>();
      var skippable = new LinkedHashSet<String>();
      var guardedReads = new LinkedHashSet<String>();
      int f = 0;
      for (var n : plan.needed(phase)) {
        if (guards.loads().containsKey(n)) {
          // A guarded load, or a state's value an earlier phase stored read back under a guard.
          var at = plan.locations().get(n);
          var buffer = at != null && plan.available(phase, n) ? name(at) : ((Node.Load) n).buffer();
          skippable.add(buffer);
          guardedReads.add(buffer);
          continue;
        }
        var at = plan.locations().get(n);
        if (at != null && plan.available(phase, n)) {
          if (perElement(plan, at)) {
            reads.add(name(at));
          }
          continue;
        }
        switch (n) {
          case Node.Load l when l.kind() == Kind.ELEM -> reads.add(l.buffer());
          case Node.Unary u when u.kind() == Kind.ELEM -> f++;
          case Node.Binary b when b.kind() == Kind.ELEM -> f++;
          case Node.Select s when s.kind() == Kind.ELEM -> f++;
          default -> { }
        }
      }
      for (var r : phase.reductions()) {
        if (r.x().kind() == Kind.ELEM) {
          f++;
        }
      }
      var writes = new LinkedHashSet<String>();
      phase.writes().stream().filter(w -> perElement(plan, w.location()))
          .forEach(w -> (guards.stores().containsKey(name(w.location())) ? skippable : writes)
              .add(name(w.location())));
      int extra = guardedReads.stream().mapToInt(b -> bytesOf(p, b)).sum()
          + guards.stores().keySet().stream().mapToInt(b -> bytesOf(p, b)).sum();
      conditional += extra;
      int r = reads.stream().mapToInt(b -> bytesOf(p, b)).sum();
      int w = writes.stream().mapToInt(b -> bytesOf(p, b)).sum();
      phases.add(new PhaseCost(phase.index(), reads, writes, r, w, f, skippable, extra));
      allReads.addAll(reads);
      allWrites.addAll(writes);
      total += r + w;
      flops += f;
    }
    // The bound counts program buffers only: temporaries are the plan's own cost.
    int bound = allReads.stream().filter(b -> !Plan.isTemp(b)).mapToInt(b -> bytesOf(p, b)).sum()
        + allWrites.stream().filter(b -> !Plan.isTemp(b)).mapToInt(b -> bytesOf(p, b)).sum();
    return new Summary(phases, total, bound, flops, conditional);
  }
}
