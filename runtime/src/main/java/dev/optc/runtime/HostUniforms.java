package dev.optc.runtime;

import dev.optc.compiler.ir.Node;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * Evaluates per-tensor (uniform) IR values on the host in float64: hyper defaults, state initial values,
 * hoisted uniforms and metrics. float64 is the DSL's choice for per-tensor scalar math, as torch.optim
 * computes bias corrections in Python floats; values are rounded to float32 where they meet elements.
 */
public final class HostUniforms {

  /** What a host evaluation can read. Any of the functions may be null when the values cannot occur. */
  public record Env(
      ToDoubleFunction<String> hyper,
      long t,
      int numel,
      int rows,
      int cols,
      double[] hoisted,
      ToDoubleFunction<Node.Reduce> reduced,
      ToDoubleFunction<String> scalarState) {}

  private final Env env;
  private final Map<Node, Double> memo = new IdentityHashMap<>();

  public HostUniforms(Env env) {
    this.env = env;
  }

  public double eval(Node n) {
    var cached = memo.get(n);
    if (cached != null) {
      return cached;
    }
    double v = switch (n) {
      case Node.Const c -> c.value();
      case Node.Hyper h -> env.hyper().applyAsDouble(h.name());
      case Node.Step s -> env.t();
      case Node.Size s -> switch (s.which()) {
        case NUMEL -> env.numel();
        case ROWS -> env.rows();
        case COLS -> env.cols();
      };
      case Node.Uniform u -> env.hoisted()[u.slot()];
      case Node.Load l -> env.scalarState().applyAsDouble(l.buffer());
      case Node.Reduce r -> env.reduced().applyAsDouble(r);
      case Node.Unary u -> u.op().apply(eval(u.x()));
      case Node.Binary b -> b.op().apply(eval(b.a()), eval(b.b()));
      case Node.Select s -> {
        double c = eval(s.cond());
        yield c != 0 || Double.isNaN(c) ? eval(s.a()) : eval(s.b());
      }
    };
    memo.put(n, v);
    return v;
  }
}
