package dev.optc.compiler.codegen.java;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.ir.UnaryOp;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A float32 {@link JavaStep} that runs a plan without generating a class: each phase's values are computed one
 * operation at a time over blocks of {@value #BLOCK} elements, by loops every program shares. There is no javac
 * and no warm-up per program (a new generated class runs interpreted, then C1-compiled, for its first few dozen
 * steps: 3-10 ms a step for a 26,634-parameter model against 0.05 ms once C2 has it), which is what a program
 * search pays for every candidate ({@code docs/search.md}).
 *
 * <p>Bit for bit the generated class's results: each operation is the float32 expression {@link JavaEmitter}
 * writes for its scalar loop (whose vector loops give the same bits), sums add elements one after the other into
 * a double, guarded loads and stores are skipped as there, and a phase is chunkable exactly when the generated
 * one is. {@code InterpretedStepTest} compares the two on random programs. Plans with row or column values
 * (factored states, {@code rowsum}/{@code colsum}) have no interpreted form here: {@link #of} returns empty
 * and the caller generates the class.
 */
public final class InterpretedStep implements JavaStep<MemorySegment> {
  /** Elements per block: a phase's few dozen block arrays stay in the L2 cache. */
  static final int BLOCK = 1024;

  private final PhaseCode[] phases;
  private final ThreadLocal<Frame> frames;

  private InterpretedStep(PhaseCode[] phases) {
    this.phases = phases;
    int arrays = 1;
    int scalars = 1;
    int accs = 1;
    for (var p : phases) {
      arrays = Math.max(arrays, p.arrays);
      scalars = Math.max(scalars, p.scalars);
      accs = Math.max(accs, p.reductions.length);
    }
    int a = arrays;
    int s = scalars;
    int r = accs;
    this.frames = ThreadLocal.withInitial(() -> new Frame(new float[a + 1][BLOCK], new float[s], new double[r]));
  }

  /**
   * The interpreted step of a plan, or empty where it has values this class does not run (rows, columns) or
   * quantized states (their block loops are the generated class's).
   */
  public static Optional<JavaStep<MemorySegment>> of(Plan plan) {
    if (plan.program().states().stream().anyMatch(st -> st.dtype().quantized()) || plan.hasProducts()) {
      return Optional.empty();
    }
    var buffers = JavaEmitter.bufferNames(plan);
    var index = new HashMap<String, Integer>();
    for (int i = 0; i < buffers.size(); i++) {
      index.put(buffers.get(i), i);
    }
    var phases = new PhaseCode[plan.phases().size()];
    for (var phase : plan.phases()) {
      var code = new Translator(plan, phase, index).translate();
      if (code == null) {
        return Optional.empty();
      }
      phases[phase.index()] = code;
    }
    return Optional.of(new InterpretedStep(phases));
  }

  @Override
  public int phases() {
    return phases.length;
  }

  @Override
  public boolean chunkable(int phase) {
    return phases[phase].chunkable;
  }

  @Override
  public void run(int phase, Segment s, MemorySegment[] b, double[] u, double[][] red, int lo, int hi) {
    var p = phases[phase];
    var f = frames.get();
    float[] sv = f.scalars;
    for (var op : p.scalarOps) {
      sv[op.out] = op.eval(sv, s, b, u, red);
    }
    var acc = f.acc;
    Arrays.fill(acc, 0, p.reductions.length, 0.0);
    if (p.elemLoop && hi > lo) {
      float[][] v = f.arrays;
      int width = Math.min(BLOCK, hi - lo);
      for (var bc : p.broadcasts) {
        Arrays.fill(v[bc.array], 0, width, sv[bc.scalar]);
      }
      float[] staging = v[v.length - 1];
      for (long i = (long) s.offset() + lo, end = (long) s.offset() + hi; i < end; i += BLOCK) {
        int n = (int) Math.min(BLOCK, end - i);
        for (var op : p.elemOps) {
          op.run(v, sv, b, i, n);
        }
        for (int k = 0; k < p.reductions.length; k++) {
          var r = p.reductions[k];
          float[] x = v[r.array];
          double a = acc[k];
          if (r.op == ReduceOp.MAXABS) {
            for (int j = 0; j < n; j++) {
              a = Math.max(a, Math.abs((double) x[j]));
            }
          } else {
            for (int j = 0; j < n; j++) {
              a += x[j];
            }
          }
          acc[k] = a;
        }
        for (var w : p.elemWrites) {
          if (w.guard >= 0 && (sv[w.guard] != 0f) != w.whenNonZero) {
            continue;
          }
          float[] x = v[w.array];
          if (w.dtype != Dtype.F32) {
            for (int j = 0; j < n; j++) {
              staging[j] = w.dtype.round(x[j]);
            }
            x = staging;
          }
          MemorySegment.copy(x, 0, b[w.buffer], JAVA_FLOAT, 4L * i, n);
        }
      }
    }
    for (var w : p.tailWrites) {
      float x = sv[w.scalar];
      b[w.buffer].setAtIndex(JAVA_FLOAT, s.index(), w.dtype == Dtype.F32 ? x : w.dtype.round(x));
    }
    for (int k = 0; k < p.reductions.length; k++) {
      red[p.reductions[k].slot][s.index()] = acc[k];
    }
  }

  /** One thread's block arrays (the last one stages rounded stores), per-tensor values and sums. */
  private record Frame(float[][] arrays, float[] scalars, double[] acc) {}

  private record Broadcast(int array, int scalar) {}

  private record Reduction(int slot, ReduceOp op, int array) {}

  /** A per-element store; {@code guard} is the scalar the store waits on, or -1. */
  private record ElemWrite(int buffer, int array, Dtype dtype, int guard, boolean whenNonZero) {}

  private record TailWrite(int buffer, int scalar, Dtype dtype) {}

  private record PhaseCode(ScalarOp[] scalarOps, ElemOp[] elemOps, Broadcast[] broadcasts,
      Reduction[] reductions, ElemWrite[] elemWrites, TailWrite[] tailWrites, boolean elemLoop,
      boolean chunkable, int arrays, int scalars) {}

  /** A per-tensor value, computed once per call of {@link #run}. */
  private abstract static class ScalarOp {
    final int out;

    ScalarOp(int out) {
      this.out = out;
    }

    abstract float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red);
  }

  /** The values of one block. */
  private interface ElemOp {
    void run(float[][] v, float[] sv, MemorySegment[] b, long i, int n);
  }

  /** Turns one phase of a plan into operations, or null where it has something this class does not run. */
  private static final class Translator {
    private final Plan plan;
    private final Plan.Phase phase;
    private final Map<String, Integer> index;
    private final Guards.PhaseGuards guards;
    private final Map<Node, Integer> scalar = new HashMap<>();
    private final Map<Node, Integer> array = new HashMap<>();
    private final Map<Integer, Integer> broadcastOf = new HashMap<>();
    private final List<ScalarOp> scalarOps = new ArrayList<>();
    private final List<ElemOp> elemOps = new ArrayList<>();
    private final List<Broadcast> broadcasts = new ArrayList<>();
    private int scalars;
    private int arrays;

    Translator(Plan plan, Plan.Phase phase, Map<String, Integer> index) {
      this.plan = plan;
      this.phase = phase;
      this.index = index;
      this.guards = Guards.of(plan, phase);
    }

    PhaseCode translate() {
      boolean elemValues = false;
      // Per-tensor values first, as the generated method computes them before its loop: a guarded load waits
      // on a flag that may come later in id order.
      var needed = new ArrayList<Node>();
      for (var n : plan.needed(phase)) {
        if (n.kind() == Kind.ROW || n.kind() == Kind.COL) {
          return null;
        }
        if (n.kind() != Kind.ELEM) {
          needed.add(n);
        }
      }
      plan.needed(phase).stream().filter(n -> n.kind() == Kind.ELEM).forEach(needed::add);
      for (var n : needed) {
        boolean elem = n.kind() == Kind.ELEM;
        elemValues |= elem;
        if (plan.locations().containsKey(n) && plan.available(phase, n)) {
          int buffer = index.get(Plan.bufferOf(plan.locations().get(n)));
          if (elem) {
            // A state's value read back under a guard (Guards.of): zeros, the buffer untouched, while it is off.
            var guard = guards.loads().get(n);
            elemOps.add(load(newArray(n), buffer, guard == null ? -1 : scalarOf(guard.cond()),
                guard == null || guard.whenNonZero()));
          } else {
            scalarOps.add(loadScalar(newScalar(n), buffer));
          }
          continue;
        }
        if (!(elem ? translateElem(n) : translateScalar(n))) {
          return null;
        }
      }
      var reductions = new ArrayList<Reduction>();
      for (var r : phase.reductions()) {
        if (r.op() == ReduceOp.ROWSUM || r.op() == ReduceOp.COLSUM || r.x().kind() != Kind.ELEM) {
          return null;
        }
        reductions.add(new Reduction(plan.reductionSlot(r), r.op(), arrayOf(r.x())));
      }
      var elemWrites = new ArrayList<ElemWrite>();
      var tailWrites = new ArrayList<TailWrite>();
      for (var w : phase.writes()) {
        var name = Plan.bufferOf(w.location());
        int buffer = index.get(name);
        var dtype = storedAs(name);
        switch (kindOf(w.location())) {
          case ELEM -> {
            var guard = guards.stores().get(name);
            elemWrites.add(new ElemWrite(buffer, arrayOf(w.value()), dtype,
                guard == null ? -1 : scalarOf(guard.cond()), guard == null || guard.whenNonZero()));
          }
          case UNIFORM, CONST -> tailWrites.add(new TailWrite(buffer, scalarOf(w.value()), dtype));
          case ROW, COL -> {
            return null;
          }
        }
      }
      boolean elemLoop = !elemWrites.isEmpty() || elemValues || !reductions.isEmpty();
      boolean chunkable = phase.reductions().isEmpty() && tailWrites.isEmpty();
      return new PhaseCode(scalarOps.toArray(ScalarOp[]::new), elemOps.toArray(ElemOp[]::new),
          broadcasts.toArray(Broadcast[]::new), reductions.toArray(Reduction[]::new),
          elemWrites.toArray(ElemWrite[]::new), tailWrites.toArray(TailWrite[]::new), elemLoop, chunkable,
          arrays, scalars);
    }

    private Kind kindOf(Plan.Location at) {
      return switch (at) {
        case Plan.Location.Buffer b -> b.name().equals("w") ? Kind.ELEM
            : plan.program().state(b.name()).shape().kind();
        case Plan.Location.Temp t -> t.kind();
      };
    }

    /** How a buffer keeps a float32 value: w and temporaries as it is, a state as its dtype. */
    private Dtype storedAs(String buffer) {
      return buffer.equals("w") || Plan.isTemp(buffer) ? Dtype.F32 : plan.program().state(buffer).dtype();
    }

    private int newScalar(Node n) {
      int slot = scalars++;
      scalar.put(n, slot);
      return slot;
    }

    private int newArray(Node n) {
      int slot = arrays++;
      array.put(n, slot);
      return slot;
    }

    /** The scalar slot holding a per-tensor value; a literal gets one of its own. */
    private int scalarOf(Node n) {
      var slot = scalar.get(n);
      if (slot != null) {
        return slot;
      }
      if (n instanceof Node.Const c) {
        float value = (float) c.value();
        int out = newScalar(n);
        scalarOps.add(new ScalarOp(out) {
          @Override
          float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red) {
            return value;
          }
        });
        return out;
      }
      throw new IllegalStateException("node #" + n.id() + " used before it is computed");
    }

    /** The block array holding a value inside the element loop: its own, or a per-tensor value broadcast. */
    private int arrayOf(Node n) {
      var slot = array.get(n);
      if (slot != null) {
        return slot;
      }
      int s = scalarOf(n);
      return broadcastOf.computeIfAbsent(s, k -> {
        int a = arrays++;
        broadcasts.add(new Broadcast(a, k));
        return a;
      });
    }

    private static ScalarOp loadScalar(int out, int buffer) {
      return new ScalarOp(out) {
        @Override
        float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red) {
          return b[buffer].getAtIndex(JAVA_FLOAT, s.index());
        }
      };
    }

    /** Loads a block of {@code buffer}, or zeros while the load's guard is off. */
    private static ElemOp load(int out, int buffer, int guard, boolean whenNonZero) {
      return (v, sv, b, i, n) -> {
        if (guard >= 0 && (sv[guard] != 0f) != whenNonZero) {
          Arrays.fill(v[out], 0, n, 0f);
        } else {
          MemorySegment.copy(b[buffer], JAVA_FLOAT, 4L * i, v[out], 0, n);
        }
      };
    }

    private boolean translateScalar(Node n) {
      switch (n) {
        case Node.Uniform u -> {
          int slot = u.slot();
          scalarOps.add(new ScalarOp(newScalar(n)) {
            @Override
            float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red) {
              return (float) u[slot];
            }
          });
        }
        case Node.Reduce r -> {
          if (r.op() == ReduceOp.ROWSUM || r.op() == ReduceOp.COLSUM) {
            return false;
          }
          int slot = plan.reductionSlot(r);
          scalarOps.add(new ScalarOp(newScalar(n)) {
            @Override
            float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red) {
              return (float) red[slot][s.index()];
            }
          });
        }
        case Node.Load l -> scalarOps.add(loadScalar(newScalar(n), index.get(l.buffer())));
        case Node.Unary un -> {
          int x = scalarOf(un.x());
          var op = un.op();
          scalarOps.add(new ScalarOp(newScalar(n)) {
            @Override
            float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red) {
              return unary(op, sv[x]);
            }
          });
        }
        case Node.Binary bn -> {
          int x = scalarOf(bn.a());
          int y = scalarOf(bn.b());
          var op = bn.op();
          scalarOps.add(new ScalarOp(newScalar(n)) {
            @Override
            float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red) {
              return binary(op, sv[x], sv[y]);
            }
          });
        }
        case Node.Select sel -> {
          int c = scalarOf(sel.cond());
          int x = scalarOf(sel.a());
          int y = scalarOf(sel.b());
          scalarOps.add(new ScalarOp(newScalar(n)) {
            @Override
            float eval(float[] sv, Segment s, MemorySegment[] b, double[] u, double[][] red) {
              return sv[c] != 0f ? sv[x] : sv[y];
            }
          });
        }
        case Node.Const c -> scalarOf(c);
        // not hoisted: the generated class cannot run it either
        case Node.Hyper h -> {
          return false;
        }
        case Node.Step t -> {
          return false;
        }
        case Node.Size z -> {
          return false;
        }
        case Node.Product m -> {
          return false;
        }
      }
      return true;
    }

    private boolean translateElem(Node n) {
      switch (n) {
        case Node.Load l -> {
          var guard = guards.loads().get(l);
          elemOps.add(load(newArray(n), index.get(l.buffer()), guard == null ? -1 : scalarOf(guard.cond()),
              guard == null || guard.whenNonZero()));
        }
        case Node.Unary un -> {
          int x = arrayOf(un.x());
          int out = newArray(n);
          var op = un.op();
          elemOps.add((v, sv, b, i, len) -> unary(op, v[x], v[out], len));
        }
        case Node.Binary bn -> {
          int x = arrayOf(bn.a());
          int y = arrayOf(bn.b());
          int out = newArray(n);
          var op = bn.op();
          elemOps.add((v, sv, b, i, len) -> binary(op, v[x], v[y], v[out], len));
        }
        case Node.Select sel -> {
          int c = arrayOf(sel.cond());
          int x = arrayOf(sel.a());
          int y = arrayOf(sel.b());
          int out = newArray(n);
          elemOps.add((v, sv, b, i, len) -> select(v[c], v[x], v[y], v[out], len));
        }
        default -> {
          return false;
        }
      }
      return true;
    }
  }

  // The operations, each as JavaEmitter.compute writes it for float32. The IR's own double operations rounded to
  // float give the same bits (double has more than 2 x 24 + 2 bits, so +, -, *, / and sqrt rounded twice are
  // rounded once; pow, exp, log and the like the generated code also computes in double; min, max, comparisons
  // and logic are exact), except rsqrt, which the generated code rounds after the square root and again after the
  // division.

  static float unary(UnaryOp op, float x) {
    return op == UnaryOp.RSQRT ? 1f / (float) Math.sqrt(x) : (float) op.apply(x);
  }

  static float binary(BinaryOp op, float x, float y) {
    return (float) op.apply(x, y);
  }

  /** {@link #unary(UnaryOp, float)} over a block: a loop per operation, so that the JIT compiles each tight. */
  static void unary(UnaryOp op, float[] x, float[] o, int n) {
    switch (op) {
      case NEG -> {
        for (int k = 0; k < n; k++) {
          o[k] = -x[k];
        }
      }
      case NOT -> {
        for (int k = 0; k < n; k++) {
          o[k] = x[k] == 0f ? 1f : 0f;
        }
      }
      case ABS -> {
        for (int k = 0; k < n; k++) {
          o[k] = Math.abs(x[k]);
        }
      }
      case SIGN -> {
        for (int k = 0; k < n; k++) {
          o[k] = Ops.sign(x[k]);
        }
      }
      case SQRT -> {
        for (int k = 0; k < n; k++) {
          o[k] = (float) Math.sqrt(x[k]);
        }
      }
      case RSQRT -> {
        for (int k = 0; k < n; k++) {
          o[k] = 1f / (float) Math.sqrt(x[k]);
        }
      }
      case EXP -> {
        for (int k = 0; k < n; k++) {
          o[k] = (float) Math.exp(x[k]);
        }
      }
      case LOG -> {
        for (int k = 0; k < n; k++) {
          o[k] = (float) Math.log(x[k]);
        }
      }
      case TANH -> {
        for (int k = 0; k < n; k++) {
          o[k] = (float) Math.tanh(x[k]);
        }
      }
      case SIN -> {
        for (int k = 0; k < n; k++) {
          o[k] = (float) Math.sin(x[k]);
        }
      }
      case COS -> {
        for (int k = 0; k < n; k++) {
          o[k] = (float) Math.cos(x[k]);
        }
      }
      case FLOOR -> {
        for (int k = 0; k < n; k++) {
          o[k] = (float) Math.floor(x[k]);
        }
      }
    }
  }

  static void binary(BinaryOp op, float[] x, float[] y, float[] o, int n) {
    switch (op) {
      case ADD -> {
        for (int k = 0; k < n; k++) {
          o[k] = x[k] + y[k];
        }
      }
      case SUB -> {
        for (int k = 0; k < n; k++) {
          o[k] = x[k] - y[k];
        }
      }
      case MUL -> {
        for (int k = 0; k < n; k++) {
          o[k] = x[k] * y[k];
        }
      }
      case DIV -> {
        for (int k = 0; k < n; k++) {
          o[k] = x[k] / y[k];
        }
      }
      case MIN -> {
        for (int k = 0; k < n; k++) {
          o[k] = Math.min(x[k], y[k]);
        }
      }
      case MAX -> {
        for (int k = 0; k < n; k++) {
          o[k] = Math.max(x[k], y[k]);
        }
      }
      default -> {
        for (int k = 0; k < n; k++) {
          o[k] = binary(op, x[k], y[k]);
        }
      }
    }
  }

  static void select(float[] c, float[] x, float[] y, float[] o, int n) {
    for (int k = 0; k < n; k++) {
      o[k] = c[k] != 0f ? x[k] : y[k];
    }
  }
}
