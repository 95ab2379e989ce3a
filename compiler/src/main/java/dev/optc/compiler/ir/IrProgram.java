package dev.optc.compiler.ir;

import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.diag.Span;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * A whole optimizer step as a pure function (w, g, old states, hypers, t) → (new w, new states, metrics),
 * every value a node of one {@link NodeFactory}.
 *
 * @param outputs the buffers the step writes, states in declaration order then {@code w}; a buffer
 *     the program never changes is absent
 * @param metrics values reported after each step
 * @param bindings one per assignment statement, in source order: what each statement computed. Fused
 *     code ignores them; statement-level fusion materializes them, and generated code quotes them
 * @param hoisted uniforms computed on the host once per tensor per step, in float64; slot {@code i} of
 *     a {@link Node.Uniform} is {@code hoisted.get(i)}. Empty until the hoisting pass runs
 * @param evaluate the buffer that holds the point a model is evaluated at: an elem state named by
 *     {@code evaluate NAME} (Schedule-Free's {@code x}; DSL.md §11), else {@code w}
 */
public record IrProgram(
    String name,
    SourceFile source,
    NodeFactory factory,
    List<HyperInfo> hypers,
    List<StateInfo> states,
    List<Output> outputs,
    List<Metric> metrics,
    List<Binding> bindings,
    List<Node> hoisted,
    String evaluate) {

  public IrProgram {
    java.util.Objects.requireNonNull(evaluate, "evaluate");
    hypers = Named.of(hypers, HyperInfo::name);
    states = Named.of(states, StateInfo::name);
    outputs = List.copyOf(outputs);
    metrics = List.copyOf(metrics);
    bindings = List.copyOf(bindings);
    hoisted = List.copyOf(hoisted);
  }

  /**
   * A hyperparameter; its default may refer to earlier hypers and is evaluated at bind time. A
   * {@code flag} was declared with a truth value ({@code hyper nesterov = false}, a comparison, and, or,
   * not): 1 is true and 0 false, and it is shown as {@code true}/{@code false}.
   */
  public record HyperInfo(String name, Node defaultValue, Span span, boolean flag) {}

  /**
   * A persistent state buffer; {@code init} is a host uniform (hypers, literals, sizes) or, for an elem state
   * written {@code state NAME = w}, the load of {@code w} (see {@link #initFromWeights}). An {@code input}
   * ({@code input NAME}, DSL.md §11) is an elem f32 buffer the program only reads and the caller writes
   * before every step, as it writes {@code g}; it is never an output, never saved in a checkpoint.
   */
  public record StateInfo(String name, Shape shape, Dtype dtype, Node init, Span span, boolean input) {

    /**
     * Whether the state starts as a copy of the parameter ({@code state NAME = w}, DSL.md §11) rather than as
     * the value of a host uniform.
     */
    public boolean initFromWeights() {
      return init instanceof Node.Load l && l.buffer().equals("w");
    }
  }

  /** The per-element inputs the caller supplies each step, in declaration order. */
  public List<StateInfo> inputs() {
    return states.stream().filter(StateInfo::input).toList();
  }

  /** The value left in buffer {@code buffer} ({@code w} or a state) after the step. */
  public record Output(String buffer, Node value) {}

  public record Metric(String name, Node value, Span span) {}

  /** The value assigned by one statement. */
  public record Binding(String target, Node value, Span span) {}

  public StateInfo state(String name) {
    var s = ((Named<StateInfo>) states).byName.get(name);
    if (s == null) {
      throw new IllegalArgumentException("no state " + name);
    }
    return s;
  }

  public HyperInfo hyper(String name) {
    var h = ((Named<HyperInfo>) hypers).byName.get(name);
    if (h == null) {
      throw new IllegalArgumentException("no hyper " + name);
    }
    return h;
  }

  /**
   * An immutable list that also finds its items by name (the first with a name, as a search would):
   * backends look a state up at every access, and a search made a program of many states quadratic.
   */
  private static final class Named<T> extends AbstractList<T> implements RandomAccess {
    private final List<T> items;
    private final Map<String, T> byName = new HashMap<>();

    private Named(List<T> items, Function<T, String> name) {
      this.items = List.copyOf(items);
      this.items.forEach(x -> byName.putIfAbsent(name.apply(x), x));
    }

    static <T> List<T> of(List<T> items, Function<T, String> name) {
      return items instanceof Named<T> n ? n : new Named<>(items, name);
    }

    @Override
    public T get(int index) {
      return items.get(index);
    }

    @Override
    public int size() {
      return items.size();
    }
  }

  /** Every root of the DAG, in a stable order. */
  public List<Node> roots() {
    var roots = new ArrayList<Node>();
    hypers.forEach(h -> roots.add(h.defaultValue()));
    states.forEach(s -> roots.add(s.init()));
    outputs.forEach(o -> roots.add(o.value()));
    metrics.forEach(m -> roots.add(m.value()));
    bindings.forEach(b -> roots.add(b.value()));
    roots.addAll(hoisted);
    return roots;
  }

  /**
   * Applies {@code f} to every root (a {@link Rewriter} usually), returning this same instance when no
   * root changed.
   */
  public IrProgram mapRoots(UnaryOperator<Node> f) {
    var h = hypers.stream()
        .map(x -> new HyperInfo(x.name(), f.apply(x.defaultValue()), x.span(), x.flag())).toList();
    var s = states.stream()
        .map(x -> new StateInfo(x.name(), x.shape(), x.dtype(), f.apply(x.init()), x.span(), x.input())).toList();
    var o = outputs.stream().map(x -> new Output(x.buffer(), f.apply(x.value()))).toList();
    var m = metrics.stream().map(x -> new Metric(x.name(), f.apply(x.value()), x.span())).toList();
    var b = bindings.stream().map(x -> new Binding(x.target(), f.apply(x.value()), x.span())).toList();
    var u = hoisted.stream().map(f).toList();
    var copy = new IrProgram(name, source, factory, h, s, o, m, b, u, evaluate);
    return copy.roots().equals(roots()) ? this : copy;
  }

  public IrProgram withOutputs(List<Output> newOutputs) {
    return new IrProgram(name, source, factory, hypers, states, newOutputs, metrics, bindings, hoisted, evaluate);
  }

  public IrProgram withBindings(List<Binding> newBindings) {
    return new IrProgram(name, source, factory, hypers, states, outputs, metrics, newBindings, hoisted, evaluate);
  }

  public IrProgram withHoisted(List<Node> newHoisted, UnaryOperator<Node> rewriteRoots) {
    var rewritten = new IrProgram(name, source, factory, hypers, states, outputs, metrics, bindings, List.of(),
        evaluate).mapRoots(rewriteRoots);
    return new IrProgram(name, source, factory, rewritten.hypers, rewritten.states, rewritten.outputs,
        rewritten.metrics, rewritten.bindings, newHoisted, evaluate);
  }
}
