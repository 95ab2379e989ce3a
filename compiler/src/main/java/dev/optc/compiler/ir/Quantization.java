package dev.optc.compiler.ir;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which map each quantized state ({@code as q8}, {@code as q4}) is stored with: the unsigned map where the
 * compiler proves the state never negative, the signed one otherwise (DSL.md §11).
 *
 * <p>The proof is a sign analysis over the step's expression DAG, by induction over steps: a state is
 * non-negative when its init is and the value stored into it is, given that every state the proof assumes
 * non-negative held non-negative values before the step (the greatest such set: start from every
 * quantized state, drop those whose proof fails, repeat). Rules: {@code x*x}, {@code abs}, {@code sqrt},
 * {@code exp}, comparisons and flags are {@code >= 0}; sums, products, quotients, min, max, selects and
 * powers combine signs as usual; a per-tensor reduction's sign follows its argument ({@code maxabs}: always).
 *
 * <p>A uniform expression of hypers, {@code t} and sizes (such as {@code 1 - beta2}) has no sign a proof
 * can know: its sign at the hypers' defaults (at {@code t = 1}) is assumed, and recorded as an
 * {@link Assumption} the runtime checks every step, refusing a hyper value that breaks it (an unsigned map
 * cannot hold a negative value). Anything else ({@code log}, {@code lerp}'s difference) is of unknown sign.
 *
 * @param maps the map of each quantized state, by name, in declaration order
 * @param assumptions what the unsigned maps rely on
 */
public record Quantization(Map<String, QuantMap> maps, List<Assumption> assumptions) {

  /** Quantized storage with the threshold bitsandbytes uses ({@code min_8bit_size}): smaller tensors keep f32. */
  public static final int DEFAULT_MIN_ELEMENTS = 4096;

  public Quantization {
    maps = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(maps));
    assumptions = List.copyOf(assumptions);
  }

  /**
   * A uniform whose sign an unsigned map relies on.
   *
   * @param state the state stored with the unsigned map
   * @param value the uniform expression (hypers, {@code t}, sizes)
   * @param nonNegative whether it must stay {@code >= 0} (else {@code <= 0})
   * @param text the expression as written (a hoisted uniform's definition)
   */
  public record Assumption(String state, Node value, boolean nonNegative, String text) {
    public boolean holds(double v) {
      return nonNegative ? v >= 0 : v <= 0;
    }

    public String describe() {
      return text + (nonNegative ? " >= 0" : " <= 0");
    }
  }

  public boolean any() {
    return !maps.isEmpty();
  }

  public QuantMap map(String state) {
    return maps.get(state);
  }

  /** The maps of {@code p}'s quantized states. */
  public static Quantization of(IrProgram p) {
    var candidates = new LinkedHashSet<String>();
    for (var s : p.states()) {
      if (s.dtype().quantized()) {
        candidates.add(s.name());
      }
    }
    if (candidates.isEmpty()) {
      return new Quantization(Map.of(), List.of());
    }
    var defaults = HostEvaluator.hyperValues(p, Map.of());
    var slots = new HostEvaluator[1];
    var env = new HostEvaluator.Env(defaults::get, 1, 1, 1, 1, slot -> slots[0].eval(p.hoisted().get(slot)), null,
        null);
    slots[0] = new HostEvaluator(env);
    var nonNegative = new LinkedHashSet<>(candidates);
    Map<String, List<Assumption>> used;
    while (true) {
      used = new LinkedHashMap<>();
      var dropped = new ArrayList<String>();
      for (var name : nonNegative) {
        var proof = new Proof(p, nonNegative, env, name);
        var s = p.state(name);
        var stored = p.outputs().stream().filter(o -> o.buffer().equals(name)).findFirst();
        boolean ok = proof.sign(s.init()).nonNegative()
            && (stored.isEmpty() || proof.sign(stored.get().value()).nonNegative());
        if (ok) {
          used.put(name, proof.assumptions);
        } else {
          dropped.add(name);
        }
      }
      if (dropped.isEmpty()) {
        break;
      }
      dropped.forEach(nonNegative::remove);
    }
    var maps = new LinkedHashMap<String, QuantMap>();
    var assumptions = new ArrayList<Assumption>();
    for (var name : candidates) {
      boolean unsigned = nonNegative.contains(name);
      maps.put(name, QuantMap.of(p.state(name).dtype(), unsigned));
      if (unsigned) {
        assumptions.addAll(used.get(name));
      }
    }
    return new Quantization(maps, assumptions);
  }

  /** What is known of a value's sign: {@code >= 0}, {@code <= 0}, both (zero) or neither. */
  record Sign(boolean nonNegative, boolean nonPositive) {
    static final Sign UNKNOWN = new Sign(false, false);
    static final Sign NON_NEGATIVE = new Sign(true, false);
    static final Sign NON_POSITIVE = new Sign(false, true);
    static final Sign ZERO = new Sign(true, true);

    static Sign of(double v) {
      return v == 0 ? ZERO : v > 0 ? NON_NEGATIVE : v < 0 ? NON_POSITIVE : UNKNOWN;
    }

    Sign negate() {
      return new Sign(nonPositive, nonNegative);
    }

    Sign join(Sign o) {
      return new Sign(nonNegative && o.nonNegative, nonPositive && o.nonPositive);
    }

    static Sign product(Sign a, Sign b) {
      return new Sign((a.nonNegative && b.nonNegative) || (a.nonPositive && b.nonPositive)
          || (a.nonNegative && a.nonPositive) || (b.nonNegative && b.nonPositive),
          (a.nonNegative && b.nonPositive) || (a.nonPositive && b.nonNegative)
              || (a.nonNegative && a.nonPositive) || (b.nonNegative && b.nonPositive));
    }
  }

  /** One state's proof: signs of nodes, and the uniforms whose default signs it took for granted. */
  private static final class Proof {
    private final IrProgram p;
    private final Set<String> nonNegative;
    private final HostEvaluator.Env env;
    private final String state;
    private final Map<Node, Sign> memo = new IdentityHashMap<>();
    final List<Assumption> assumptions = new ArrayList<>();
    private final Set<Node> assumed = java.util.Collections.newSetFromMap(new IdentityHashMap<>());

    Proof(IrProgram p, Set<String> nonNegative, HostEvaluator.Env env, String state) {
      this.p = p;
      this.nonNegative = nonNegative;
      this.env = env;
      this.state = state;
    }

    Sign sign(Node n) {
      var known = memo.get(n);
      if (known != null) {
        return known;
      }
      var s = compute(n);
      memo.put(n, s);
      return s;
    }

    private Sign compute(Node n) {
      if (n instanceof Node.Const c) {
        return Sign.of(c.value());
      }
      if (n instanceof Node.Step || n instanceof Node.Size) {
        return Sign.NON_NEGATIVE;
      }
      if (hostOnly(n)) {
        return assume(n);
      }
      return switch (n) {
        case Node.Load l -> nonNegative.contains(l.buffer()) ? Sign.NON_NEGATIVE : Sign.UNKNOWN;
        case Node.Product m -> Sign.UNKNOWN;
        case Node.Reduce r -> switch (r.op()) {
          case MAXABS -> Sign.NON_NEGATIVE;
          case SUM, ROWSUM, COLSUM, GLOBAL_SUM -> sign(r.x()).nonNegative() ? Sign.NON_NEGATIVE
              : sign(r.x()).nonPositive() ? Sign.NON_POSITIVE : Sign.UNKNOWN;
        };
        case Node.Unary u -> switch (u.op()) {
          case NEG -> sign(u.x()).negate();
          case ABS, SQRT, RSQRT, EXP, NOT -> Sign.NON_NEGATIVE;
          case SIGN, TANH, FLOOR -> sign(u.x());
          case LOG, SIN, COS -> Sign.UNKNOWN;
        };
        case Node.Binary b when b.op() == BinaryOp.MUL -> product(b);
        case Node.Binary b -> {
          var x = sign(b.a());
          var y = sign(b.b());
          yield switch (b.op()) {
            case ADD -> new Sign(x.nonNegative() && y.nonNegative(), x.nonPositive() && y.nonPositive());
            case SUB -> new Sign(x.nonNegative() && y.nonPositive(), x.nonPositive() && y.nonNegative());
            case MUL, DIV -> Sign.product(x, y);
            case POW -> x.nonNegative() ? Sign.NON_NEGATIVE : Sign.UNKNOWN;
            // Floored: the divisor's sign.
            case MOD -> new Sign(y.nonNegative(), y.nonPositive());
            case MIN -> new Sign(x.nonNegative() && y.nonNegative(), x.nonPositive() || y.nonPositive());
            case MAX -> new Sign(x.nonNegative() || y.nonNegative(), x.nonPositive() && y.nonPositive());
            case LT, LE, GT, GE, EQ, NE, AND, OR -> Sign.NON_NEGATIVE;
          };
        }
        case Node.Select s -> sign(s.a()).join(sign(s.b()));
        case Node.Uniform u -> sign(p.hoisted().get(u.slot()));
        case Node.Const c -> Sign.of(c.value());
        case Node.Hyper h -> assume(n);
        case Node.Step st -> Sign.NON_NEGATIVE;
        case Node.Size sz -> Sign.NON_NEGATIVE;
      };
    }

    /**
     * A chain of products, {@code (1 - beta2) * g * g} included: a factor that occurs an even number of times
     * is a square ({@code >= 0}); the others combine by sign.
     */
    private Sign product(Node.Binary b) {
      var factors = new ArrayList<Node>();
      flatten(b, factors);
      var counts = new IdentityHashMap<Node, Integer>();
      factors.forEach(f -> counts.merge(f, 1, Integer::sum));
      var result = Sign.NON_NEGATIVE;
      for (var e : counts.entrySet()) {
        if (e.getValue() % 2 == 1) {
          result = Sign.product(result, sign(e.getKey()));
        }
      }
      return result;
    }

    private static void flatten(Node n, List<Node> factors) {
      if (n instanceof Node.Binary b && b.op() == BinaryOp.MUL) {
        flatten(b.a(), factors);
        flatten(b.b(), factors);
      } else {
        factors.add(n);
      }
    }

    /** A uniform of hypers, t and sizes: its sign at the defaults, to be checked at run time. */
    private Sign assume(Node n) {
      double v = new HostEvaluator(env).eval(n);
      var s = Sign.of(v);
      if ((s.nonNegative() || s.nonPositive()) && assumed.add(n)) {
        // A zero default (weight_decay = 0) is assumed to stay >= 0.
        var text = Infix.print(n instanceof Node.Uniform u ? p.hoisted().get(u.slot()) : n);
        assumptions.add(new Assumption(state, n, s.nonNegative(), text));
      }
      return s.nonNegative() ? Sign.NON_NEGATIVE : s.nonPositive() ? Sign.NON_POSITIVE : Sign.UNKNOWN;
    }

    /** Whether {@code n} depends on nothing but hypers, t, sizes and literals. */
    private boolean hostOnly(Node n) {
      return switch (n) {
        case Node.Const c -> true;
        case Node.Hyper h -> true;
        case Node.Step s -> true;
        case Node.Size s -> true;
        case Node.Uniform u -> hostOnly(p.hoisted().get(u.slot()));
        case Node.Load l -> false;
        case Node.Reduce r -> false;
        case Node.Product m -> false;
        case Node.Unary u -> hostOnly(u.x());
        case Node.Binary b -> hostOnly(b.a()) && hostOnly(b.b());
        case Node.Select s -> hostOnly(s.cond()) && hostOnly(s.a()) && hostOnly(s.b());
      };
    }
  }
}
