package dev.optc.compiler.pass;

import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import java.util.ArrayList;

/**
 * Dead-code elimination. Nodes no output or metric reaches are never generated anyway (codegen walks
 * from the outputs); this pass drops what would still cost: stores of a buffer's own unchanged value
 * (after simplification {@code m = m*1} is such a store) and statements whose value nothing uses, which
 * statement-level fusion would otherwise materialize.
 */
public final class Dce implements Pass {
  @Override
  public String name() {
    return "dce";
  }

  @Override
  public IrProgram run(IrProgram p) {
    var outputs = p.outputs().stream()
        .filter(o -> !(o.value() instanceof Node.Load l && l.buffer().equals(o.buffer())))
        .toList();
    var roots = new ArrayList<Node>();
    outputs.forEach(o -> roots.add(o.value()));
    p.metrics().forEach(m -> roots.add(m.value()));
    var live = Graph.reachable(roots);
    var bindings = p.bindings().stream().filter(b -> live.contains(b.value())).toList();
    if (outputs.equals(p.outputs()) && bindings.equals(p.bindings())) {
      return p;
    }
    return p.withOutputs(outputs).withBindings(bindings);
  }
}
