package dev.optc.compiler.pass;

import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.NodeFactory;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.ir.UnaryOp;
import java.util.ArrayList;
import java.util.List;

/**
 * Adds the metrics every optimizer can report, per tensor: {@code grad_norm} (‖g‖), {@code weight_norm}
 * (‖w‖ before the step), {@code update_norm} (‖w_new − w‖), {@code update_ratio} (update_norm /
 * weight_norm) and {@code effective_lr} (update_norm / grad_norm). Not one of the {@link Pipeline}'s passes:
 * the runtime runs it on request ({@code simulate --metrics}), because the norms are reductions that cost
 * a little in every step. A program's own metric of the same name is kept instead. The norms of the update
 * are accumulated in the phase that computes the new weights, so no phase is added.
 */
public final class StandardMetrics implements Pass {
  public static final List<String> NAMES =
      List.of("grad_norm", "weight_norm", "update_norm", "update_ratio", "effective_lr");

  @Override
  public String name() {
    return "standard-metrics";
  }

  @Override
  public IrProgram run(IrProgram p) {
    var f = p.factory();
    var w = f.load("w", Kind.ELEM);
    var g = f.load("g", Kind.ELEM);
    var wNew = p.outputs().stream().filter(o -> o.buffer().equals("w")).map(IrProgram.Output::value)
        .findFirst().orElse(w);
    var gradNorm = norm(f, g);
    var weightNorm = norm(f, w);
    var updateNorm = norm(f, f.binary(BinaryOp.SUB, wNew, w));
    var values = List.of(gradNorm, weightNorm, updateNorm, f.binary(BinaryOp.DIV, updateNorm, weightNorm),
        f.binary(BinaryOp.DIV, updateNorm, gradNorm));
    var metrics = new ArrayList<>(p.metrics());
    var at = p.source().span(0, 0);
    for (int i = 0; i < NAMES.size(); i++) {
      var name = NAMES.get(i);
      if (metrics.stream().noneMatch(m -> m.name().equals(name))) {
        metrics.add(new IrProgram.Metric(name, values.get(i), at));
      }
    }
    return new IrProgram(p.name(), p.source(), f, p.hypers(), p.states(), p.outputs(), metrics, p.bindings(),
        p.hoisted(), p.evaluate());
  }

  private static Node norm(NodeFactory f, Node x) {
    return f.unary(UnaryOp.SQRT, f.reduce(ReduceOp.SUM, f.binary(BinaryOp.MUL, x, x)));
  }
}
