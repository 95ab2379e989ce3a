package dev.optc.compiler.ir;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntToDoubleFunction;
import java.util.function.ToDoubleFunction;

/**
 * optc's one evaluator of per-tensor (host) values: hyper defaults, state initial values, hoisted
 * uniforms and metrics at run time, and every host value of the {@link Interpreter}. It computes in
 * float64, the DSL's choice for per-tensor scalar math (torch.optim computes bias corrections in Python
 * floats); values are rounded to float32 where they meet elements, by the caller.
 *
 * <p>A {@link Node.Select} is true for any nonzero condition, NaN included; operations are
 * {@link UnaryOp#apply} and {@link BinaryOp#apply}, as everywhere.
 */
public final class HostEvaluator {

  /**
   * What an evaluation can read. The functions may be null where their values cannot occur (a hyper
   * default reads only earlier hypers: {@link #hyperValues}).
   *
   * @param t the step (0 outside a step)
   * @param hoisted the value of hoisted uniform slot {@code i}
   * @param reduced the value of a per-tensor reduction
   * @param scalarState the value of a scalar state, by name
   */
  public record Env(
      ToDoubleFunction<String> hyper,
      long t,
      int numel,
      int rows,
      int cols,
      IntToDoubleFunction hoisted,
      ToDoubleFunction<Node.Reduce> reduced,
      ToDoubleFunction<String> scalarState) {

    /** Where only hypers can occur: hyper defaults, and nothing that depends on a tensor. */
    public static Env hypersOnly(ToDoubleFunction<String> hyper) {
      return new Env(hyper, 0, 0, 0, 0, null, null, null);
    }
  }

  private final Env env;
  private final Map<Node, Double> memo = new IdentityHashMap<>();

  public HostEvaluator(Env env) {
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
      case Node.Uniform u -> env.hoisted().applyAsDouble(u.slot());
      case Node.Load l -> env.scalarState().applyAsDouble(l.buffer());
      case Node.Reduce r -> env.reduced().applyAsDouble(r);
      case Node.Product m -> throw new IllegalStateException("a product is not a host value");
      case Node.Unary u -> u.op().apply(eval(u.x()));
      case Node.Binary b -> b.op().apply(eval(b.a()), eval(b.b()));
      // Any nonzero condition is true, NaN included (c != 0 holds for NaN).
      case Node.Select s -> eval(s.cond()) != 0 ? eval(s.a()) : eval(s.b());
    };
    memo.put(n, v);
    return v;
  }

  /**
   * Every hyper's value, in declaration order: its value in {@code set} where it has one, else its
   * default, which may read the hypers declared before it.
   */
  public static LinkedHashMap<String, Double> hyperValues(IrProgram p, Map<String, Double> set) {
    var values = new LinkedHashMap<String, Double>();
    for (var h : p.hypers()) {
      var v = set.get(h.name());
      values.put(h.name(), v != null ? v
          : new HostEvaluator(Env.hypersOnly(values::get)).eval(h.defaultValue()));
    }
    return values;
  }
}
