package dev.optc.compiler.plan;

import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Cuts a program into phases at its reductions (DSL.md §8). A reduction needs every element of its
 * argument, so a value that depends on a reduction's result can only be computed in a later pass.
 *
 * <p>The depth of a node is the number of reductions on its longest path from the inputs; a reduction
 * of an argument of depth d is accumulated in phase d and readable from phase d+1. Every store happens in
 * the last phase. That is hazard-free by construction: no phase reads a buffer that an earlier phase
 * overwrote, because no earlier phase overwrites anything. Metrics are uniform and are evaluated after
 * the last phase from reduction results and uniforms. A program without reductions is one phase.
 */
public final class Planner {
  private Planner() {}

  public static Plan plan(IrProgram p, Fusion fusion) {
    var depth = depths(p);
    var reductions = depth.keySet().stream()
        .filter(n -> n instanceof Node.Reduce)
        .map(n -> (Node.Reduce) n)
        .sorted((x, y) -> Integer.compare(x.id(), y.id()))
        .toList();
    int last = 0;
    for (var o : p.outputs()) {
      last = Math.max(last, depth.get(o.value()));
    }
    for (var r : reductions) {
      last = Math.max(last, depth.get(r.x()));
    }
    var phases = new ArrayList<Plan.Phase>();
    for (int i = 0; i <= last; i++) {
      int phase = i;
      var here = reductions.stream().filter(r -> depth.get(r.x()) == phase).toList();
      phases.add(new Plan.Phase(i, i == last ? p.outputs() : List.of(), here));
    }
    return new Plan(p, fusion, phases, reductions);
  }

  /** Depth of each node reachable from the outputs and metrics (for tests and {@code info}). */
  public static Map<Node, Integer> depths(IrProgram p) {
    var roots = new ArrayList<Node>();
    p.outputs().forEach(o -> roots.add(o.value()));
    p.metrics().forEach(m -> roots.add(m.value()));
    var depth = new HashMap<Node, Integer>();
    for (var n : Graph.topological(roots)) {
      int d = n.inputs().stream().mapToInt(depth::get).max().orElse(0);
      depth.put(n, n instanceof Node.Reduce ? d + 1 : d);
    }
    return depth;
  }
}
