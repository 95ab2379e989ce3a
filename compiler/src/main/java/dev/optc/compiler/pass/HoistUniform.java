package dev.optc.compiler.pass;

import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.Rewriter;
import dev.optc.compiler.ir.Verifier;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;

/**
 * Moves uniform work out of the per-element code: every largest subexpression that depends only on
 * literals, hypers, {@code t} and sizes (a bias correction {@code 1 - beta1^t}, {@code lr/bc1}) becomes
 * a {@link Node.Uniform} slot, computed once per tensor per step on the host in float64 and passed to
 * kernels as an argument. Literals stay inline.
 */
public final class HoistUniform implements Pass {
  @Override
  public String name() {
    return "hoist-uniform";
  }

  @Override
  public IrProgram run(IrProgram p) {
    var roots = new ArrayList<Node>();
    p.outputs().forEach(o -> roots.add(o.value()));
    p.metrics().forEach(m -> roots.add(m.value()));
    p.bindings().forEach(b -> roots.add(b.value()));
    var topo = Graph.topological(roots);
    var host = Verifier.hostUniform(topo);
    // A host value is hoisted where device code (or the step's result) uses it directly.
    var hoist = new LinkedHashMap<Node, Integer>();
    var candidates = new ArrayList<Node>();
    for (var n : topo) {
      if (!host.contains(n)) {
        candidates.addAll(n.inputs().stream().filter(host::contains).toList());
      }
    }
    // Stores and metrics of host values are hoisted too; a statement's binding is not (statement-level
    // fusion only materializes per-element values).
    p.outputs().forEach(o -> candidates.add(o.value()));
    p.metrics().forEach(m -> candidates.add(m.value()));
    candidates.removeIf(n -> !host.contains(n));
    candidates.stream()
        .filter(n -> !(n instanceof Node.Const))
        .distinct()
        .sorted((a, b) -> Integer.compare(a.id(), b.id()))
        .forEach(n -> hoist.put(n, hoist.size()));
    if (hoist.isEmpty()) {
      return p;
    }
    var existing = p.hoisted();
    var slots = new HashMap<Node, Node>();
    var hoisted = new ArrayList<>(existing);
    for (var n : hoist.keySet()) {
      slots.put(n, p.factory().uniform(hoisted.size()));
      hoisted.add(n);
    }
    var rewrite = new Rewriter(p.factory(), slots::get, n -> n);
    var result = p.withHoisted(hoisted, n -> n);
    return new IrProgram(result.name(), result.source(), result.factory(), result.hypers(),
        result.states(),
        result.outputs().stream().map(o -> new IrProgram.Output(o.buffer(), rewrite.apply(o.value())))
            .toList(),
        result.metrics().stream().map(m -> new IrProgram.Metric(m.name(), rewrite.apply(m.value()),
            m.span())).toList(),
        result.bindings().stream().map(b -> new IrProgram.Binding(b.target(), rewrite.apply(b.value()),
            b.span())).toList(),
        hoisted, result.evaluate());
  }
}
