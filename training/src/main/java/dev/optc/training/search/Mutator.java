package dev.optc.training.search;

import dev.optc.compiler.frontend.Ast;
import dev.optc.runtime.OptcException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Random edits of a {@link Genome}, chosen by weight: insert a statement (a random expression over {@code g},
 * {@code w}, states, locals, hypers, {@code t} and constants with the language's functions), delete one,
 * modify one operand or function, perturb a constant (a literal or a hyper's default, never {@code lr}'s),
 * add or remove a per-element state. A mutation may make a program the compiler rejects; the search counts
 * and drops those. A mutation that would pass a cap, or has nothing to act on, returns null.
 */
public final class Mutator {
  /** The kinds of mutation, with their names in {@code --mutations}. */
  public enum Kind {
    INSERT, DELETE, MODIFY, CONSTANT, ADD_STATE, REMOVE_STATE;

    String label() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  /** Relative weights of the kinds (0 disables one), and the caps on states and statements. */
  public record Settings(Map<Kind, Double> weights, int maxStates, int maxStatements) {
    public static final Settings DEFAULT = new Settings(Map.of(Kind.INSERT, 2.0, Kind.DELETE, 1.0, Kind.MODIFY, 3.0,
        Kind.CONSTANT, 2.0, Kind.ADD_STATE, 0.5, Kind.REMOVE_STATE, 0.5), 4, 16);

    public Settings {
      weights = Map.copyOf(weights);
      if (weights.values().stream().mapToDouble(Double::doubleValue).sum() <= 0) {
        throw new OptcException("mutation weights must not all be 0");
      }
    }

    /** {@code insert=2,delete=1,...}: the kinds named get those weights, the others keep theirs. */
    public Settings withWeights(String spec) {
      var w = new LinkedHashMap<>(weights);
      for (var part : spec.split(",", -1)) {
        int eq = part.indexOf('=');
        Kind kind = null;
        for (var k : Kind.values()) {
          if (eq > 0 && k.label().equals(part.substring(0, eq).strip())) {
            kind = k;
          }
        }
        double v;
        try {
          v = eq > 0 ? Double.parseDouble(part.substring(eq + 1).strip()) : Double.NaN;
        } catch (NumberFormatException e) {
          v = Double.NaN;
        }
        if (kind == null || !(v >= 0) || Double.isInfinite(v)) {
          throw new OptcException("--mutations '" + spec + "': give KIND=WEIGHT,... with KIND one of "
              + String.join(", ", java.util.Arrays.stream(Kind.values()).map(Kind::label).toList())
              + " and WEIGHT a number >= 0");
        }
        w.put(kind, v);
      }
      return new Settings(w, maxStates, maxStatements);
    }
  }

  private static final String[] UNARY = {"abs", "sign", "sqrt", "rsqrt", "exp", "log", "tanh"};
  private static final String[] REDUCTIONS = {"rms", "norm", "mean"};
  private static final double[] CONSTANTS = {0.5, 0.9, 0.99, 0.999, 1, 2, 1e-8, 1e-3, 0.1};
  private static final Ast.BinaryOperator[] ARITH = {Ast.BinaryOperator.ADD, Ast.BinaryOperator.SUB,
      Ast.BinaryOperator.MUL, Ast.BinaryOperator.DIV};

  private final Settings settings;

  public Mutator(Settings settings) {
    this.settings = settings;
  }

  /** A mutation of {@code parent}, or null when the one drawn could not apply; {@code kind} receives its kind. */
  public Genome mutate(Genome parent, SplittableRandom random, Kind[] kind) {
    var k = draw(random);
    kind[0] = k;
    return switch (k) {
      case INSERT -> insert(parent, random);
      case DELETE -> delete(parent, random);
      case MODIFY -> modify(parent, random);
      case CONSTANT -> constant(parent, random);
      case ADD_STATE -> addState(parent, random);
      case REMOVE_STATE -> removeState(parent, random);
    };
  }

  private Kind draw(SplittableRandom random) {
    double total = 0;
    for (var k : Kind.values()) {
      total += settings.weights().getOrDefault(k, 0.0);
    }
    double r = random.nextDouble() * total;
    for (var k : Kind.values()) {
      r -= settings.weights().getOrDefault(k, 0.0);
      if (r < 0) {
        return k;
      }
    }
    return Kind.MODIFY;
  }

  // ---------------------------------------------------------------- the mutations

  private Genome insert(Genome p, SplittableRandom random) {
    if (p.statements().size() >= settings.maxStatements()) {
      return null;
    }
    int at = random.nextInt(p.statements().size() + 1);
    var scope = new Scope(p, at);
    String target;
    double r = random.nextDouble();
    if (r < 0.35) {
      target = fresh(p, "v");
    } else {
      var targets = new ArrayList<String>(scope.tensors);
      targets.remove("w");
      targets.removeAll(scope.metrics);
      target = targets.get(random.nextInt(targets.size()));
    }
    var op = random.nextDouble() < 0.8 ? Ast.AssignOp.SET : random.nextBoolean() ? Ast.AssignOp.ADD : Ast.AssignOp.MUL;
    var stmts = new ArrayList<>(p.statements());
    stmts.add(at, new Genome.Stmt(target, op, expr(scope, random, 2)));
    return with(p, p.states(), stmts);
  }

  private Genome delete(Genome p, SplittableRandom random) {
    if (p.statements().size() <= 1) {
      return null;
    }
    var stmts = new ArrayList<>(p.statements());
    stmts.remove(random.nextInt(stmts.size()));
    return with(p, p.states(), stmts);
  }

  private Genome modify(Genome p, SplittableRandom random) {
    if (p.statements().isEmpty()) {
      return null;
    }
    int i = random.nextInt(p.statements().size());
    var s = p.statements().get(i);
    var scope = new Scope(p, i);
    int n = size(s.value());
    int pick = random.nextInt(n);
    var value = replace(s.value(), new int[] {pick}, e -> modified(e, scope, random));
    var stmts = new ArrayList<>(p.statements());
    stmts.set(i, s.with(value));
    return with(p, p.states(), stmts);
  }

  private Ast.Expr modified(Ast.Expr e, Scope scope, SplittableRandom random) {
    if (random.nextDouble() < 0.25) {
      return expr(scope, random, 1);
    }
    return switch (e) {
      case Ast.Name n -> leaf(scope, random);
      case Ast.Number n -> Genome.num(CONSTANTS[random.nextInt(CONSTANTS.length)]);
      case Ast.Bool b -> new Ast.Bool(!b.value(), null);
      case Ast.Call c -> {
        var fn = c.function().name();
        String[] pool = List.of(REDUCTIONS).contains(fn) ? REDUCTIONS : List.of(UNARY).contains(fn) ? UNARY
            : fn.equals("min") || fn.equals("max") ? new String[] {"min", "max"} : null;
        yield pool == null ? expr(scope, random, 1)
            : new Ast.Call(new Ast.Ident(pool[random.nextInt(pool.length)], null), c.args(), null);
      }
      case Ast.Unary u -> u.op() == Ast.UnaryOperator.NEG ? u.operand() : expr(scope, random, 1);
      case Ast.Binary b -> List.of(ARITH).contains(b.op())
          ? Genome.binary(ARITH[random.nextInt(ARITH.length)], b.left(), b.right())
          : expr(scope, random, 1);
      case Ast.Ternary t -> random.nextBoolean() ? t.then() : t.otherwise();
    };
  }

  private Genome constant(Genome p, SplittableRandom random) {
    // The places: every literal of the statements, then every numeric hyper default but lr.
    int literals = 0;
    for (var s : p.statements()) {
      literals += count(s.value(), true);
    }
    var hypers = new ArrayList<Integer>();
    for (int i = 0; i < p.hypers().size(); i++) {
      var h = p.hypers().get(i);
      if (!h.name().equals("lr") && h.value() instanceof Ast.Number) {
        hypers.add(i);
      }
    }
    if (literals + hypers.size() == 0) {
      return null;
    }
    int pick = random.nextInt(literals + hypers.size());
    if (pick >= literals) {
      int i = hypers.get(pick - literals);
      var h = p.hypers().get(i);
      var hs = new ArrayList<>(p.hypers());
      hs.set(i, new Genome.Hyper(h.name(), Genome.num(perturb(((Ast.Number) h.value()).value(), random))));
      return new Genome(p.name(), hs, p.states(), p.defs(), p.statements());
    }
    var stmts = new ArrayList<>(p.statements());
    for (int i = 0; i < stmts.size(); i++) {
      var s = stmts.get(i);
      int c = count(s.value(), true);
      if (pick < c) {
        var value = replaceNumber(s.value(), new int[] {pick}, random);
        stmts.set(i, s.with(value));
        return with(p, p.states(), stmts);
      }
      pick -= c;
    }
    throw new AssertionError();
  }

  /** A nearby value: moves a value in (0, 1) such as a decay on the scale of {@code 1 - v}, others by a factor. */
  static double perturb(double v, SplittableRandom random) {
    double factor = Math.exp(random.nextGaussian() * 0.7);
    if (v > 0 && v < 1 && random.nextBoolean()) {
      return Double.parseDouble(Genome.format(1 - (1 - v) * Math.min(factor, 1 / (1 - v))));
    }
    if (v == 0) {
      return 0.01 * factor;
    }
    double n = v * factor;
    return n < 0 ? -Double.parseDouble(Genome.format(-n)) : Double.parseDouble(Genome.format(n));
  }

  private Genome addState(Genome p, SplittableRandom random) {
    if (p.states().size() >= settings.maxStates() || p.statements().size() >= settings.maxStatements()) {
      return null;
    }
    var name = fresh(p, "s");
    var states = new ArrayList<>(p.states());
    states.add(new Genome.State(name, ""));
    var withState = new Genome(p.name(), p.hypers(), states, p.defs(), p.statements());
    // an update of the state (a moving average of something in scope) ...
    int at = random.nextInt(p.statements().size() + 1);
    var scope = new Scope(withState, at);
    var source = random.nextDouble() < 0.5 ? Genome.name("g") : expr(scope, random, 1);
    var update = Genome.call("lerp", source, Genome.name(name),
        Genome.num(CONSTANTS[random.nextInt(4)]));
    var stmts = new ArrayList<>(p.statements());
    stmts.add(at, new Genome.Stmt(name, Ast.AssignOp.SET, update));
    // ... read by a later statement in place of one of its names
    var later = new ArrayList<Integer>();
    for (int i = at + 1; i < stmts.size(); i++) {
      if (count(stmts.get(i).value(), false) > 0) {
        later.add(i);
      }
    }
    if (!later.isEmpty()) {
      int i = later.get(random.nextInt(later.size()));
      var s = stmts.get(i);
      int pick = random.nextInt(count(s.value(), false));
      stmts.set(i, s.with(replaceName(s.value(), new int[] {pick}, name)));
    }
    return with(withState, states, stmts);
  }

  private Genome removeState(Genome p, SplittableRandom random) {
    if (p.states().isEmpty()) {
      return null;
    }
    var gone = p.states().get(random.nextInt(p.states().size())).name();
    var states = new ArrayList<>(p.states());
    states.removeIf(s -> s.name().equals(gone));
    var stmts = new ArrayList<Genome.Stmt>();
    for (var s : p.statements()) {
      if (!s.target().equals(gone)) {
        stmts.add(s.with(substitute(s.value(), gone, Genome.num(0))));
      }
    }
    if (stmts.isEmpty()) {
      return null;
    }
    return with(p, states, stmts);
  }

  private static Genome with(Genome p, List<Genome.State> states, List<Genome.Stmt> stmts) {
    return new Genome(p.name(), p.hypers(), states, p.defs(), stmts);
  }

  // ---------------------------------------------------------------- random expressions

  /** The names a statement at position {@code at} may read. */
  private static final class Scope {
    final List<String> tensors = new ArrayList<>();
    final List<String> hypers = new ArrayList<>();
    final List<String> metrics = new ArrayList<>();

    Scope(Genome p, int at) {
      tensors.addAll(List.of("g", "g", "w")); // g twice: read most often
      Set<String> seen = new LinkedHashSet<>(List.of("g", "w"));
      for (var s : p.states()) {
        if (seen.add(s.name())) {
          tensors.add(s.name());
        }
      }
      for (int i = 0; i < at; i++) {
        if (p.statements().get(i).metric()) {
          metrics.add(p.statements().get(i).target());
        }
        if (seen.add(p.statements().get(i).target())) {
          tensors.add(p.statements().get(i).target());
        }
      }
      for (var h : p.hypers()) {
        if (h.value() instanceof Ast.Number) {
          hypers.add(h.name());
        }
      }
    }
  }

  private static Ast.Expr leaf(Scope scope, SplittableRandom random) {
    double r = random.nextDouble();
    if (r < 0.6) {
      return Genome.name(scope.tensors.get(random.nextInt(scope.tensors.size())));
    }
    if (r < 0.85) {
      return Genome.num(CONSTANTS[random.nextInt(CONSTANTS.length)]);
    }
    if (r < 0.95 && !scope.hypers.isEmpty()) {
      return Genome.name(scope.hypers.get(random.nextInt(scope.hypers.size())));
    }
    return Genome.name("t");
  }

  private static Ast.Expr expr(Scope scope, SplittableRandom random, int depth) {
    if (depth == 0 || random.nextDouble() < 0.2) {
      return leaf(scope, random);
    }
    double r = random.nextDouble();
    if (r < 0.25) {
      return Genome.call(UNARY[random.nextInt(UNARY.length)], expr(scope, random, depth - 1));
    }
    if (r < 0.6) {
      return Genome.binary(ARITH[random.nextInt(ARITH.length)], expr(scope, random, depth - 1),
          expr(scope, random, depth - 1));
    }
    if (r < 0.7) {
      return Genome.call(random.nextBoolean() ? "min" : "max", expr(scope, random, depth - 1),
          expr(scope, random, depth - 1));
    }
    if (r < 0.8) {
      return Genome.call("lerp", expr(scope, random, depth - 1), expr(scope, random, depth - 1),
          Genome.num(CONSTANTS[random.nextInt(4)]));
    }
    if (r < 0.87) {
      double c = CONSTANTS[random.nextInt(CONSTANTS.length)];
      return Genome.call("clip", expr(scope, random, depth - 1), Genome.num(-c), Genome.num(c));
    }
    var x = expr(scope, random, depth - 1);
    var reduced = Genome.call(REDUCTIONS[random.nextInt(REDUCTIONS.length)], x);
    // a reduction mostly normalizes what it reduces
    return random.nextBoolean() ? Genome.binary(Ast.BinaryOperator.DIV, x,
        Genome.binary(Ast.BinaryOperator.ADD, reduced, Genome.num(1e-8))) : reduced;
  }

  private static String fresh(Genome p, String prefix) {
    var used = new LinkedHashSet<String>();
    p.states().forEach(s -> used.add(s.name()));
    p.statements().forEach(s -> used.add(s.target()));
    p.hypers().forEach(h -> used.add(h.name()));
    for (int i = 1; ; i++) {
      if (!used.contains(prefix + i)) {
        return prefix + i;
      }
    }
  }

  // ---------------------------------------------------------------- tree surgery (preorder positions)

  static int size(Ast.Expr e) {
    int n = 1;
    for (var c : children(e)) {
      n += size(c);
    }
    return n;
  }

  /** Numbers ({@code numbers}) or names in {@code e}. */
  private static int count(Ast.Expr e, boolean numbers) {
    int n = numbers ? (e instanceof Ast.Number ? 1 : 0) : (e instanceof Ast.Name ? 1 : 0);
    for (var c : children(e)) {
      n += count(c, numbers);
    }
    return n;
  }

  private static List<Ast.Expr> children(Ast.Expr e) {
    return switch (e) {
      case Ast.Number n -> List.of();
      case Ast.Bool b -> List.of();
      case Ast.Name n -> List.of();
      case Ast.Call c -> c.args();
      case Ast.Unary u -> List.of(u.operand());
      case Ast.Binary b -> List.of(b.left(), b.right());
      case Ast.Ternary t -> List.of(t.cond(), t.then(), t.otherwise());
    };
  }

  private static Ast.Expr withChildren(Ast.Expr e, List<Ast.Expr> c) {
    return switch (e) {
      case Ast.Number n -> n;
      case Ast.Bool b -> b;
      case Ast.Name n -> n;
      case Ast.Call call -> new Ast.Call(call.function(), c, null);
      case Ast.Unary u -> new Ast.Unary(u.op(), c.get(0), null);
      case Ast.Binary b -> new Ast.Binary(b.op(), c.get(0), c.get(1), null);
      case Ast.Ternary t -> new Ast.Ternary(c.get(0), c.get(1), c.get(2), null);
    };
  }

  /** Replaces the node at preorder position {@code at[0]} (counted down as the walk goes). */
  private static Ast.Expr replace(Ast.Expr e, int[] at, java.util.function.UnaryOperator<Ast.Expr> f) {
    if (at[0]-- == 0) {
      return f.apply(e);
    }
    var kids = children(e);
    if (kids.isEmpty() || at[0] < 0) {
      return e;
    }
    var next = new ArrayList<Ast.Expr>();
    for (var k : kids) {
      next.add(at[0] >= 0 ? replace(k, at, f) : k);
    }
    return withChildren(e, next);
  }

  private static Ast.Expr replaceNumber(Ast.Expr e, int[] at, SplittableRandom random) {
    if (e instanceof Ast.Number n) {
      return at[0]-- == 0 ? Genome.num(perturb(n.value(), random)) : e;
    }
    var next = new ArrayList<Ast.Expr>();
    for (var k : children(e)) {
      next.add(at[0] >= 0 ? replaceNumber(k, at, random) : k);
    }
    return withChildren(e, next);
  }

  private static Ast.Expr replaceName(Ast.Expr e, int[] at, String name) {
    if (e instanceof Ast.Name) {
      return at[0]-- == 0 ? Genome.name(name) : e;
    }
    var next = new ArrayList<Ast.Expr>();
    for (var k : children(e)) {
      next.add(at[0] >= 0 ? replaceName(k, at, name) : k);
    }
    return withChildren(e, next);
  }

  private static Ast.Expr substitute(Ast.Expr e, String name, Ast.Expr by) {
    if (e instanceof Ast.Name n) {
      return n.name().equals(name) ? by : e;
    }
    var next = new ArrayList<Ast.Expr>();
    for (var k : children(e)) {
      next.add(substitute(k, name, by));
    }
    return withChildren(e, next);
  }
}
