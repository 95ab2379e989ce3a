package dev.optc.compiler.ir;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The meaning of an {@link IrProgram}, evaluated the obvious way: every node over whole tensors, one
 * node at a time, no fusion, no phases, no reuse of buffers (DSL.md §6, whole-tensor semantics). It is
 * the semantic oracle of the tests, so it is written for clarity, not speed.
 *
 * <p>A value of kind {@code const}/{@code uniform} has one entry per tensor, {@code row} one per row,
 * {@code col} one per column, {@code elem} {@code rows*cols}; conceptually each is the full
 * {@code rows × cols} matrix broadcast from its entries (DSL.md §5). Elementwise operations use
 * {@link UnaryOp#apply} and {@link BinaryOp#apply}; a {@link Node.Select} is true for any nonzero
 * condition, NaN included. Reductions add in float64 in index order (row-major); {@code maxabs} starts
 * at 0 and propagates NaN ({@link Math#max}). {@code GLOBAL_SUM} adds each tensor's {@code SUM} in group
 * order. A {@link Node.Uniform} is slot {@code i} of {@link IrProgram#hoisted()}, evaluated per tensor.
 *
 * <h2>Precision</h2>
 * <ul>
 *   <li>{@link Precision#F64}: every operation in float64; state dtypes are ignored (nothing is rounded
 *       anywhere). This is the meaning passes must keep.
 *   <li>{@link Precision#F32}: models a device that computes per-element code in IEEE float32 with
 *       correctly rounded operations, and a host that computes per-tensor scalar math in float64
 *       (DSL decision, see {@code Simplify}). Precisely:
 *       <ul>
 *         <li><em>host values</em> — nodes that depend on no {@code Load} and no {@code Reduce}: literals,
 *             hypers, {@code t}, sizes, hoisted uniforms and any arithmetic over them — are computed in
 *             float64 and not rounded;
 *         <li>every other node (<em>device values</em>: everything per element, per row or per column,
 *             and uniforms computed from reductions) reads its operands rounded to float32 (a host
 *             value is rounded where it meets device code, like a kernel argument), computes the
 *             operation in float64 and rounds the result to float32. For {@code + - * / sqrt} this is
 *             exactly IEEE float32 arithmetic (double has more than 2·24+2 bits); for {@code exp log
 *             pow tanh sin cos rsqrt} it is the correctly rounded float32 result, which a real device's
 *             math library may miss by an ulp or so;
 *         <li>a reduction reads float32 entries, accumulates in float64 and rounds the total once (a
 *             device's float32 tree sum may differ in the last bits);
 *         <li>a select decides on the unrounded condition and rounds the value it picks;
 *         <li>buffers are storage: {@code w} and {@code g} hold float32, a state float32 rounded to
 *             its {@link Dtype}. Inputs are read rounded so (a caller need not round them), stores round
 *             so, and a buffer the step does not write comes back rounded so; state initial values
 *             likewise;
 *         <li>a state read after it is written in the same step reads the value computed (SSA), not
 *             the stored rounding: {@code m = ...; w -= m} uses the float32 {@code m} even for a bf16
 *             {@code m}.
 *       </ul>
 * </ul>
 */
public final class Interpreter {
  private Interpreter() {}

  /** See the class comment. */
  public enum Precision {
    F64,
    F32
  }

  /**
   * One tensor of a group, in its matrix view.
   *
   * @param w the parameter, {@code rows*cols} values, row-major
   * @param g the gradient, same size
   * @param states every state of the program by name, sized by shape: elem {@code rows*cols}, row
   *     {@code rows}, col {@code cols}, scalar 1
   */
  public record TensorData(int rows, int cols, double[] w, double[] g, Map<String, double[]> states) {
    public TensorData {
      if (rows < 1 || cols < 1) {
        throw new IllegalArgumentException("bad matrix view " + rows + "x" + cols);
      }
      check("w", w, rows * cols);
      check("g", g, rows * cols);
      states = Map.copyOf(states);
    }

    public int numel() {
      return rows * cols;
    }

    /** The same tensor with another gradient (for the next step). */
    public TensorData withGrad(double[] newG) {
      return new TensorData(rows, cols, w, newG, states);
    }

    private static void check(String what, double[] a, int n) {
      if (a == null || a.length != n) {
        throw new IllegalArgumentException(what + " must have " + n + " values");
      }
    }
  }

  /**
   * The outcome of one step.
   *
   * @param tensors per tensor of the group: the new {@code w}, the {@code g} it was given, and the new
   *     value of every state (fresh arrays; a buffer the step does not write keeps its old contents)
   * @param metrics per tensor, every metric of the program by name, in declaration order
   */
  public record Result(List<TensorData> tensors, List<Map<String, Double>> metrics) {
    public Result {
      tensors = List.copyOf(tensors);
      metrics = List.copyOf(metrics);
    }
  }

  /** Supplies the gradient of step {@code t} for tensor {@code index} of the group, given its data. */
  @FunctionalInterface
  public interface Gradients {
    double[] gradient(long t, int index, TensorData current);
  }

  // ---------------------------------------------------------------- the public entry points

  /** The value of every hyper: the override if there is one, else its default (which may use earlier hypers). */
  public static Map<String, Double> hypers(IrProgram p, Map<String, Double> overrides) {
    for (var name : overrides.keySet()) {
      p.hyper(name); // throws for an unknown name: a typo in a test must not pass silently
    }
    return HostEvaluator.hyperValues(p, overrides);
  }

  /**
   * Every state's initial value for a tensor of {@code rows × cols}, in float64; a state that starts as a copy
   * of the parameter ({@code state NAME = w}) starts at zeros here (see {@link #fresh}, which has weights).
   */
  public static Map<String, double[]> initStates(IrProgram p, int rows, int cols, Map<String, Double> overrides) {
    return initStates(p, rows, cols, overrides, Precision.F64);
  }

  public static Map<String, double[]> initStates(IrProgram p, int rows, int cols, Map<String, Double> overrides,
      Precision precision) {
    return initStates(p, rows, cols, overrides, precision, new double[rows * cols]);
  }

  private static Map<String, double[]> initStates(IrProgram p, int rows, int cols, Map<String, Double> overrides,
      Precision precision, double[] w) {
    var hypers = hypers(p, overrides);
    var eval = new Eval(p, List.of(new Slot(rows, cols, null)), hypers, null, Precision.F64);
    var states = new LinkedHashMap<String, double[]>();
    for (var s : p.states()) {
      var values = s.initFromWeights() ? w.clone() : expand(eval.value(s.init())[0], s.shape().kind(), rows, cols);
      states.put(s.name(), store(values, s.dtype(), precision));
    }
    return states;
  }

  /** A fresh tensor: {@code w} and {@code g} as given, states at their initial values (a copy of w for '= w'). */
  public static TensorData fresh(IrProgram p, int rows, int cols, double[] w, double[] g,
      Map<String, Double> overrides) {
    return new TensorData(rows, cols, w, g, initStates(p, rows, cols, overrides, Precision.F64, w));
  }

  /** One step in float64. */
  public static Result step(IrProgram p, List<TensorData> group, Map<String, Double> overrides, long t) {
    return step(p, group, overrides, t, Precision.F64);
  }

  /** One step of the whole group, {@code t} being the step number (1 on the first step). */
  public static Result step(IrProgram p, List<TensorData> group, Map<String, Double> overrides, long t,
      Precision precision) {
    if (group.isEmpty()) {
      throw new IllegalArgumentException("a group has at least one tensor");
    }
    for (var d : group) {
      for (var s : p.states()) {
        var a = d.states().get(s.name());
        int n = count(s.shape().kind(), d.rows(), d.cols());
        if (a == null || a.length != n) {
          throw new IllegalArgumentException("state " + s.name() + " must have " + n + " values");
        }
      }
    }
    var hypers = hypers(p, overrides);
    var quant = Quantization.of(p);
    var slots = group.stream().map(d -> new Slot(d.rows(), d.cols(), d)).toList();
    var eval = new Eval(p, slots, hypers, t, precision);
    var roots = new ArrayList<Node>();
    p.outputs().forEach(o -> roots.add(o.value()));
    p.metrics().forEach(m -> roots.add(m.value()));
    eval.evaluate(roots);

    var tensors = new ArrayList<TensorData>();
    var metrics = new ArrayList<Map<String, Double>>();
    for (int k = 0; k < group.size(); k++) {
      var d = group.get(k);
      // A buffer the step does not write keeps what memory held (in float32 mode: its input rounded
      // to the storage type, as if it had been stored).
      var w = store(d.w().clone(), Dtype.F32, precision);
      var states = new LinkedHashMap<String, double[]>();
      for (var s : p.states()) {
        // A quantized state's values are taken as stored (a block read back is not quantized again).
        states.put(s.name(), s.dtype().quantized() ? d.states().get(s.name()).clone()
            : store(d.states().get(s.name()).clone(), s.dtype(), precision));
      }
      for (var o : p.outputs()) {
        var v = eval.value(o.value())[k];
        if (o.buffer().equals("w")) {
          w = store(expand(v, Kind.ELEM, d.rows(), d.cols()), Dtype.F32, precision);
        } else {
          var s = p.state(o.buffer());
          var values = store(expand(v, s.shape().kind(), d.rows(), d.cols()), s.dtype(), precision);
          if (s.dtype().quantized() && precision == Precision.F32 && values.length >= QUANTIZE_FROM) {
            values = quantized(values, quant.map(s.name()));
          }
          states.put(s.name(), values);
        }
      }
      tensors.add(new TensorData(d.rows(), d.cols(), w, d.g(), states));
      var m = new LinkedHashMap<String, Double>();
      for (var metric : p.metrics()) {
        m.put(metric.name(), eval.value(metric.value())[k].v[0]);
      }
      metrics.add(m);
    }
    return new Result(tensors, metrics);
  }

  /**
   * Runs steps {@code t = 1 … steps} from {@code group} (whose gradients are ignored: {@code grads}
   * supplies each step's), returning every step's result in order.
   */
  public static List<Result> run(IrProgram p, List<TensorData> group, Map<String, Double> overrides, int steps,
      Gradients grads, Precision precision) {
    var results = new ArrayList<Result>();
    var current = group;
    for (long t = 1; t <= steps; t++) {
      var withGrads = new ArrayList<TensorData>();
      for (int k = 0; k < current.size(); k++) {
        withGrads.add(current.get(k).withGrad(grads.gradient(t, k, current.get(k))));
      }
      var r = step(p, withGrads, overrides, t, precision);
      results.add(r);
      current = r.tensors();
    }
    return results;
  }

  // ---------------------------------------------------------------- values

  /** How many entries a value of {@code kind} has on a {@code rows × cols} tensor. */
  static int count(Kind kind, int rows, int cols) {
    return switch (kind) {
      case CONST, UNIFORM -> 1;
      case ROW -> rows;
      case COL -> cols;
      case ELEM -> rows * cols;
      case RR -> rows * rows;
      case CC -> cols * cols;
    };
  }

  /** The entries of one node on one tensor. */
  private record Val(Kind kind, double[] v) {
    /** The entry broadcast to element (i, j) of a matrix with {@code cols} columns. */
    double at(int i, int j, int cols) {
      return switch (kind) {
        case CONST, UNIFORM -> v[0];
        case ROW -> v[i];
        case COL -> v[j];
        case ELEM -> v[i * cols + j];
        // A Gram matrix is square: its side is the root of its length (the elementwise loop's own width).
        case RR, CC -> v[i * (int) Math.round(Math.sqrt(v.length)) + j];
      };
    }
  }

  /** A value broadcast to the entries of {@code kind} (which must accept it). */
  private static double[] expand(Val v, Kind kind, int rows, int cols) {
    if (!kind.accepts(v.kind())) {
      throw new IllegalStateException("a " + v.kind() + " value stored as " + kind);
    }
    var out = new double[count(kind, rows, cols)];
    switch (kind) {
      case CONST, UNIFORM -> out[0] = v.v()[0];
      case ROW -> {
        for (int i = 0; i < rows; i++) {
          out[i] = v.at(i, 0, cols);
        }
      }
      case COL -> {
        for (int j = 0; j < cols; j++) {
          out[j] = v.at(0, j, cols);
        }
      }
      case ELEM -> {
        for (int i = 0; i < rows; i++) {
          for (int j = 0; j < cols; j++) {
            out[i * cols + j] = v.at(i, j, cols);
          }
        }
      }
      case RR, CC -> throw new IllegalStateException("no buffer holds a Gram matrix");
    }
    return out;
  }

  /**
   * The fewest elements a tensor has for its quantized states to be stored as codes (the runtime's default
   * threshold); in float64 a quantized state is never quantized.
   */
  public static final int QUANTIZE_FROM = Quantization.DEFAULT_MIN_ELEMENTS;

  /**
   * What a tensor's new values of a quantized state read back as: per block of the map, the float32 absmax of
   * their magnitudes, then each value's code read back ({@link QuantMap}).
   */
  static double[] quantized(double[] values, QuantMap map) {
    var out = new double[values.length];
    for (int from = 0; from < values.length; from += map.block()) {
      int to = Math.min(values.length, from + map.block());
      float absmax = 0;
      for (int i = from; i < to; i++) {
        absmax = Math.max(absmax, Math.abs((float) values[i]));
      }
      for (int i = from; i < to; i++) {
        out[i] = map.dequantize(map.code((float) values[i], absmax), absmax);
      }
    }
    return out;
  }

  private static double[] store(double[] values, Dtype dtype, Precision precision) {
    if (precision == Precision.F64) {
      return values;
    }
    var out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = dtype.round((float) values[i]);
    }
    return out;
  }

  private static double f32(double x) {
    return (double) (float) x;
  }

  // ---------------------------------------------------------------- the evaluator

  /** A tensor as the evaluator sees it: sizes and data (none when only initial values are wanted). */
  private record Slot(int rows, int cols, TensorData data) {}

  /** Evaluates nodes over every tensor of a group at once (a group reduction needs them all). */
  private static final class Eval {
    private final IrProgram p;
    private final List<Slot> slots;
    private final Map<String, Double> hypers;
    private final Long t;
    private final Precision precision;
    /** Per node, its value on each tensor of the group. */
    private final Map<Node, Val[]> values = new HashMap<>();
    /** Per node, whether it is a host value (see the class comment). */
    private final Map<Node, Boolean> host = new HashMap<>();
    /** Per tensor, the host evaluator of its host values (made on first use). */
    private final HostEvaluator[] hosts;

    Eval(IrProgram p, List<Slot> slots, Map<String, Double> hypers, Long t, Precision precision) {
      this.p = p;
      this.slots = slots;
      this.hypers = hypers;
      this.t = t;
      this.precision = precision;
      this.hosts = new HostEvaluator[slots.size()];
    }

    /**
     * Tensor {@code k}'s host evaluator: hypers, {@code t} and sizes, hoisted uniforms from this
     * evaluation (a uniform computed from reductions is a device value, rounded in float32 mode).
     */
    private HostEvaluator host(int k) {
      if (hosts[k] == null) {
        var slot = slots.get(k);
        hosts[k] = new HostEvaluator(new HostEvaluator.Env(
            h -> {
              var v = hypers.get(h);
              if (v == null) {
                throw new IllegalStateException("hyper " + h + " read before it has a value");
              }
              return v;
            },
            t == null ? 0 : t, slot.rows() * slot.cols(), slot.rows(), slot.cols(),
            u -> {
              if (u >= p.hoisted().size()) {
                throw new IllegalStateException("uniform slot u" + u + " out of range");
              }
              return value(p.hoisted().get(u))[k].v()[0];
            },
            null, null));
      }
      return hosts[k];
    }

    Val[] value(Node n) {
      evaluate(List.of(n));
      return values.get(n);
    }

    /** Evaluates every node the roots reach, inputs first (ids grow in creation order). */
    void evaluate(List<Node> roots) {
      for (var n : Graph.topological(roots)) {
        if (values.containsKey(n)) {
          continue;
        }
        boolean isHost = switch (n) {
          case Node.Load l -> false;
          case Node.Reduce r -> false;
          default -> n.inputs().stream().allMatch(host::get);
        };
        host.put(n, isHost);
        var result = new Val[slots.size()];
        if (n instanceof Node.Reduce r && r.op() == ReduceOp.GLOBAL_SUM) {
          double total = 0;
          for (var x : values.get(r.x())) {
            total += sum(x.v());
          }
          for (int k = 0; k < slots.size(); k++) {
            result[k] = new Val(Kind.UNIFORM, new double[] {device(total)});
          }
        } else {
          for (int k = 0; k < slots.size(); k++) {
            result[k] = compute(n, k, isHost);
          }
        }
        values.put(n, result);
      }
    }

    /** Rounds a device value in float32 mode. */
    private double device(double x) {
      return precision == Precision.F32 ? f32(x) : x;
    }

    private Val compute(Node n, int k, boolean isHost) {
      if (isHost) {
        // Literals, hypers, t, sizes, uniforms and arithmetic over them: float64, never rounded.
        return new Val(n.kind(), new double[] {host(k).eval(n)});
      }
      var slot = slots.get(k);
      // Device operations read float32 operands in float32 mode.
      boolean round = precision == Precision.F32;
      return switch (n) {
        case Node.Load l -> load(l, slot);
        case Node.Unary u -> elementwise(n.kind(), slot, round, (i, j) -> {
          double x = values.get(u.x())[k].at(i, j, slot.cols());
          return u.op().apply(round ? f32(x) : x);
        });
        case Node.Binary b -> elementwise(n.kind(), slot, round, (i, j) -> {
          double x = values.get(b.a())[k].at(i, j, slot.cols());
          double y = values.get(b.b())[k].at(i, j, slot.cols());
          return round ? b.op().apply(f32(x), f32(y)) : b.op().apply(x, y);
        });
        case Node.Select s -> elementwise(n.kind(), slot, round, (i, j) -> {
          double c = values.get(s.cond())[k].at(i, j, slot.cols());
          // Any nonzero condition is true, NaN included (c != 0 holds for NaN).
          var chosen = c != 0 ? s.a() : s.b();
          return values.get(chosen)[k].at(i, j, slot.cols());
        });
        case Node.Reduce r -> reduce(r, values.get(r.x())[k], slot);
        case Node.Product m -> product(m, values.get(m.a())[k], values.get(m.b())[k], slot, round);
        case Node.Const c -> throw new IllegalStateException("a literal is a host value");
        case Node.Hyper h -> throw new IllegalStateException("a hyper is a host value");
        case Node.Step st -> throw new IllegalStateException("t is a host value");
        case Node.Size sz -> throw new IllegalStateException("a size is a host value");
        case Node.Uniform u -> throw new IllegalStateException("a uniform is a host value");
      };
    }

    private Val load(Node.Load l, Slot slot) {
      var d = slot.data();
      if (d == null) {
        throw new IllegalStateException("load of " + l.buffer() + " outside a step");
      }
      var raw = switch (l.buffer()) {
        case "w" -> d.w();
        case "g" -> d.g();
        default -> d.states().get(l.buffer());
      };
      if (raw == null || raw.length != count(l.kind(), slot.rows(), slot.cols())) {
        throw new IllegalStateException("no data of the right size for " + l.buffer());
      }
      var dtype = switch (l.buffer()) {
        case "w", "g" -> Dtype.F32;
        default -> p.state(l.buffer()).dtype().quantized() ? Dtype.F32 : p.state(l.buffer()).dtype();
      };
      return new Val(l.kind(), store(raw.clone(), dtype, precision));
    }

    /**
     * {@code op(a)·op(b)} on one tensor: float32 operands in float32 mode, each entry summed in float64 in index
     * order and rounded once (as a reduction is; a BLAS's blocked float32 sums differ in the last bits).
     */
    private Val product(Node.Product m, Val a, Val b, Slot slot, boolean round) {
      var sa = Node.Product.sides(a.kind(), m.transA());
      var sb = Node.Product.sides(b.kind(), m.transB());
      int rows = Math.max(slot.rows(), 1);
      int cols = Math.max(slot.cols(), 1);
      int p = sa[0].equals("rows") ? rows : cols;
      int q = sa[1].equals("rows") ? rows : cols;
      int r = sb[1].equals("rows") ? rows : cols;
      int aw = m.transA() ? p : q; // row widths as stored
      int bw = m.transB() ? q : r;
      var out = new double[p * r];
      for (int i = 0; i < p; i++) {
        for (int j = 0; j < r; j++) {
          double s = 0;
          for (int l = 0; l < q; l++) {
            double x = m.transA() ? a.v()[l * aw + i] : a.v()[i * aw + l];
            double y = m.transB() ? b.v()[j * bw + l] : b.v()[l * bw + j];
            s += round ? f32(x) * f32(y) : x * y;
          }
          out[i * r + j] = device(s);
        }
      }
      return new Val(m.kind(), out);
    }

    private Val reduce(Node.Reduce r, Val x, Slot slot) {
      int rows = slot.rows();
      int cols = slot.cols();
      return switch (r.op()) {
        case SUM -> scalar(device(sum(x.v())));
        case MAXABS -> {
          double m = 0;
          for (double e : x.v()) {
            m = Math.max(m, Math.abs(e));
          }
          yield scalar(device(m));
        }
        case ROWSUM -> {
          var out = new double[rows];
          for (int i = 0; i < rows; i++) {
            double s = 0;
            for (int j = 0; j < cols; j++) {
              s += x.at(i, j, cols);
            }
            out[i] = device(s);
          }
          yield new Val(Kind.ROW, out);
        }
        case COLSUM -> {
          var out = new double[cols];
          for (int j = 0; j < cols; j++) {
            double s = 0;
            for (int i = 0; i < rows; i++) {
              s += x.at(i, j, cols);
            }
            out[j] = device(s);
          }
          yield new Val(Kind.COL, out);
        }
        case GLOBAL_SUM -> throw new IllegalStateException("group sums are evaluated for the whole group");
      };
    }

    @FunctionalInterface
    private interface Entry {
      double at(int i, int j);
    }

    /** A value of {@code kind}, each entry computed at its (row, column) of the matrix view. */
    private static Val elementwise(Kind kind, Slot slot, boolean round, Entry f) {
      int rows = Math.max(slot.rows(), 1);
      int cols = Math.max(slot.cols(), 1);
      var out = new double[count(kind, rows, cols)];
      switch (kind) {
        case CONST, UNIFORM -> out[0] = f.at(0, 0);
        case ROW -> {
          for (int i = 0; i < rows; i++) {
            out[i] = f.at(i, 0);
          }
        }
        case COL -> {
          for (int j = 0; j < cols; j++) {
            out[j] = f.at(0, j);
          }
        }
        case ELEM -> {
          for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
              out[i * cols + j] = f.at(i, j);
            }
          }
        }
        case RR, CC -> {
          int side = kind == Kind.RR ? rows : cols;
          for (int i = 0; i < side; i++) {
            for (int j = 0; j < side; j++) {
              out[i * side + j] = f.at(i, j);
            }
          }
        }
      }
      if (round) {
        for (int i = 0; i < out.length; i++) {
          out[i] = f32(out[i]);
        }
      }
      return new Val(kind, out);
    }

    private static Val scalar(double v) {
      return new Val(Kind.UNIFORM, new double[] {v});
    }
  }

  private static double sum(double[] v) {
    double s = 0;
    for (double e : v) {
      s += e;
    }
    return s;
  }
}
