package dev.optc.compiler.testing;

import dev.optc.compiler.diag.DiagnosticCode;
import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.frontend.Checker;
import dev.optc.compiler.frontend.SyntaxParser;
import dev.optc.compiler.ir.Interpreter;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;

/**
 * Random valid {@code .opt} programs (and random inputs for them) for property tests. A program has
 * hypers with constant defaults, states of every shape and dtype, defs, locals, compound assignments,
 * ternaries with uniform and per-element conditions, every built-in function, metrics, {@code g}
 * rebinding and {@code w} updates. Kinds are tracked while generating, so a value is only stored where
 * it fits (a row state gets row or uniform values) and a reduction never reduces a uniform.
 *
 * <p>Most divisions, roots, logs and powers are guarded ({@code x/(abs(y)+1)}, {@code sqrt(abs(x)+1)})
 * so that values stay finite; a few are not, so NaN and infinities appear too.
 */
public final class RandomPrograms {

  /** Random programs; each try draws a fresh one (no shrinking: a failure prints its source). */
  public static Arbitrary<String> programs() {
    return Arbitraries.randomValue(RandomPrograms::generate);
  }

  public static String generate(long seed) {
    return generate(new Random(seed));
  }

  /**
   * A random program. Unguarded operations over literals alone can fold to inf or NaN ({@code log(0)},
   * {@code (10 ^ 10) ^ 10}), which the checker rejects (E004, tested by the diagnostics corpus); such a
   * draw is replaced by the next one, so every program returned is valid.
   */
  public static String generate(Random random) {
    for (int tries = 0; ; tries++) {
      var source = new RandomPrograms(random).program();
      if (tries == 100 || !foldsToANonFiniteConstant(source)) {
        return source;
      }
    }
  }

  private static boolean foldsToANonFiniteConstant(String source) {
    var diags = new Diagnostics();
    Checker.check(SyntaxParser.parse(SourceFile.of("random.opt", source), diags), diags);
    return diags.sorted().stream().anyMatch(d -> d.code() == DiagnosticCode.CONSTANT_NOT_FINITE);
  }

  // ---------------------------------------------------------------- random inputs

  private static final int[][] SHAPES = {{1, 1}, {1, 7}, {3, 5}, {2, 3}, {5, 1}, {1, 2}, {4, 3}};

  /** A group of 1–3 tensors of small odd shapes with random w, g and states. */
  public static List<Interpreter.TensorData> group(IrProgram p, Random r, Map<String, Double> overrides) {
    int n = 1 + r.nextInt(3);
    var group = new ArrayList<Interpreter.TensorData>();
    for (int k = 0; k < n; k++) {
      var shape = SHAPES[r.nextInt(SHAPES.length)];
      int rows = shape[0];
      int cols = shape[1];
      var states = new LinkedHashMap<String, double[]>();
      var init = Interpreter.initStates(p, rows, cols, overrides);
      for (var s : p.states()) {
        // Half the time the states hold what a first step sees, else anything.
        states.put(s.name(), r.nextBoolean() ? init.get(s.name()) : values(r, init.get(s.name()).length));
      }
      group.add(new Interpreter.TensorData(rows, cols, values(r, rows * cols), values(r, rows * cols), states));
    }
    return group;
  }

  /** Random values: mostly normal with a random scale, some exact zeros, now and then a big one. */
  public static double[] values(Random r, int n) {
    double scale = Math.exp(r.nextDouble(-3, 3));
    var a = new double[n];
    for (int i = 0; i < n; i++) {
      int pick = r.nextInt(20);
      a[i] = pick == 0 ? 0 : pick == 1 ? r.nextGaussian() * 1e3 : pick == 2 ? 1 : r.nextGaussian() * scale;
    }
    return a;
  }

  /** Overrides for some of the program's hypers (none half the time). */
  public static Map<String, Double> hyperOverrides(IrProgram p, Random r) {
    var overrides = new HashMap<String, Double>();
    if (r.nextBoolean()) {
      return overrides;
    }
    double[] picks = {0, 1, 0.5, -0.3, 1e-3, 2, 0.9, 0.999};
    for (var h : p.hypers()) {
      if (r.nextInt(3) == 0) {
        overrides.put(h.name(), r.nextInt(4) == 0 ? r.nextGaussian() : picks[r.nextInt(picks.length)]);
      }
    }
    return overrides;
  }

  /** A step number: small most of the time, sometimes large. */
  public static long step(Random r) {
    return r.nextInt(4) == 0 ? 1 + r.nextInt(5000) : 1 + r.nextInt(12);
  }

  // ---------------------------------------------------------------- the generator

  /** An expression and its exact kind (CONST and UNIFORM are not told apart: nothing here needs it). */
  private record Ex(String text, Kind kind) {}

  private record Def(String name, List<String> params) {}

  private static final String[] LITERALS = {"0.5", "2", "1e-3", "0.9", "3", "1", ".25", "1e-8", "10", "0",
      "1E+1", "0.999", "1.5", "4"};
  private static final String[] SHAPE_NAMES = {"elem", "row", "col", "scalar"};
  private static final String[] DTYPES = {"f32", "bf16", "f16"};

  private final Random r;
  private final StringBuilder out = new StringBuilder();
  private final List<String> hypers = new ArrayList<>();
  /** Each state's shape, as a kind: what an assignment must fit. */
  private final Map<String, Kind> states = new LinkedHashMap<>();
  /** Each state's current value's kind: an elem state assigned a uniform reads as a uniform after. */
  private final Map<String, Kind> stateNow = new LinkedHashMap<>();
  private final Map<String, Kind> locals = new LinkedHashMap<>();
  private final List<String> metrics = new ArrayList<>();
  private final List<Def> defs = new ArrayList<>();
  private int counter;

  private RandomPrograms(Random r) {
    this.r = r;
  }

  private boolean chance(double p) {
    return r.nextDouble() < p;
  }

  private <T> T pick(List<T> list) {
    return list.get(r.nextInt(list.size()));
  }

  private String pick(String[] a) {
    return a[r.nextInt(a.length)];
  }

  private String fresh(String prefix) {
    return prefix + counter++;
  }

  private void line(String s) {
    out.append(s).append(chance(0.1) ? " # a comment\n" : chance(0.1) ? "; " : "\n");
  }

  private String program() {
    if (chance(0.5)) {
      line("optimizer random" + r.nextInt(1000));
    }
    for (int i = 0, n = 1 + r.nextInt(4); i < n; i++) {
      hyper();
    }
    for (int i = 0, n = r.nextInt(5); i < n; i++) {
      state();
    }
    for (int i = 0, n = r.nextInt(3); i < n; i++) {
      def();
    }
    for (int i = 0, n = 3 + r.nextInt(9); i < n; i++) {
      statement();
    }
    // Every state is written at least once, so that no state is only a constant.
    for (var s : List.copyOf(states.keySet())) {
      if (chance(0.7)) {
        var e = gen(states.get(s), 2);
        line(s + " = " + e.text());
        stateNow.put(s, e.kind());
      }
    }
    line("w -= " + gen(Kind.ELEM, 3).text());
    if (chance(0.3)) {
      metric();
    }
    return out.toString();
  }

  // ---------------------------------------------------------------- declarations

  private void hyper() {
    var name = fresh("h");
    line("hyper " + name + " = " + constant(2));
    hypers.add(name);
  }

  /** A hyper's default: literals, booleans, pi and earlier hypers. */
  private String constant(int depth) {
    if (depth <= 0 || chance(0.4)) {
      int pick = r.nextInt(10);
      if (pick == 0) {
        return r.nextBoolean() ? "true" : "false";
      }
      if (pick == 1) {
        return "pi";
      }
      if (pick <= 4 && !hypers.isEmpty()) {
        return pick(hypers);
      }
      return pick(LITERALS);
    }
    return switch (r.nextInt(6)) {
      case 0 -> "(" + constant(depth - 1) + " * " + constant(depth - 1) + ")";
      case 1 -> "(" + constant(depth - 1) + " + " + constant(depth - 1) + ")";
      case 2 -> "(1 - " + constant(depth - 1) + ")";
      case 3 -> "sqrt(abs(" + constant(depth - 1) + ") + 1)";
      case 4 -> "min(" + constant(depth - 1) + ", " + constant(depth - 1) + ")";
      default -> "-" + constant(depth - 1);
    };
  }

  private void state() {
    var name = fresh("s");
    int shape = r.nextInt(5);
    var sb = new StringBuilder("state ").append(name);
    Kind kind = Kind.ELEM;
    if (shape < 4) {
      sb.append(" : ").append(SHAPE_NAMES[shape]);
      kind = switch (shape) {
        case 1 -> Kind.ROW;
        case 2 -> Kind.COL;
        case 3 -> Kind.UNIFORM;
        default -> Kind.ELEM;
      };
    }
    if (chance(0.4)) {
      sb.append(" as ").append(pick(DTYPES));
    }
    if (chance(0.5)) {
      sb.append(" = ").append(switch (r.nextInt(6)) {
        case 0 -> pick(LITERALS);
        case 1 -> pick(hypers);
        case 2 -> "1 / numel";
        case 3 -> "rows * 0.5 + " + pick(hypers);
        case 4 -> "sqrt(cols) - " + pick(LITERALS);
        default -> constant(1);
      });
    }
    line(sb.toString());
    states.put(name, kind);
    stateNow.put(name, kind);
  }

  private void def() {
    var name = fresh("d");
    int arity = 1 + r.nextInt(3);
    var params = new ArrayList<String>();
    for (int i = 0; i < arity; i++) {
      params.add("p" + i);
    }
    var used = new HashSet<String>();
    var body = defBody(params, used, 2);
    for (var p : params) {
      if (!used.contains(p)) {
        body = "(" + body + (r.nextBoolean() ? " + " : " * ") + p + ")";
      }
    }
    line("def " + name + "(" + String.join(", ", params) + ") = " + body);
    defs.add(new Def(name, params));
  }

  /** A def body: elementwise over its parameters, hypers, literals, t and sizes (no captures). */
  private String defBody(List<String> params, Set<String> used, int depth) {
    if (depth <= 0 || chance(0.25)) {
      int pick = r.nextInt(10);
      if (pick < 6) {
        var p = pick(params);
        used.add(p);
        return p;
      }
      return switch (pick) {
        case 6 -> pick(hypers);
        case 7 -> r.nextBoolean() ? "t" : pick(new String[] {"numel", "rows", "cols"});
        default -> pick(LITERALS);
      };
    }
    int pick = r.nextInt(8);
    if (pick == 6 && !defs.isEmpty()) {
      return callDef(pick(defs), params, used, depth - 1);
    }
    var a = defBody(params, used, depth - 1);
    return switch (pick) {
      case 0 -> "(" + a + " + " + defBody(params, used, depth - 1) + ")";
      case 1 -> "(" + a + " * " + defBody(params, used, depth - 1) + ")";
      case 2 -> "(" + a + " / (abs(" + defBody(params, used, depth - 1) + ") + 1))";
      case 3 -> "tanh(" + a + ")";
      case 4 -> "max(" + a + ", " + defBody(params, used, depth - 1) + ")";
      case 5 -> "(" + a + " > 0 ? " + a + " : " + defBody(params, used, depth - 1) + ")";
      case 6 -> "-" + a;
      default -> "sqrt(abs(" + a + ") + 1)";
    };
  }

  private String callDef(Def d, List<String> params, Set<String> used, int depth) {
    var args = new ArrayList<String>();
    for (int i = 0; i < d.params().size(); i++) {
      args.add(defBody(params, used, depth));
    }
    return d.name() + "(" + String.join(", ", args) + ")";
  }

  // ---------------------------------------------------------------- statements

  private static final Kind[] TARGET_KINDS = {Kind.UNIFORM, Kind.ROW, Kind.COL, Kind.ELEM, Kind.ELEM, Kind.ELEM};

  private void statement() {
    switch (r.nextInt(12)) {
      case 0, 1, 2 -> {
        var name = fresh("v");
        var e = gen(TARGET_KINDS[r.nextInt(TARGET_KINDS.length)], 3);
        line(name + " = " + e.text());
        locals.put(name, e.kind());
      }
      case 3 -> {
        if (locals.isEmpty()) {
          statement();
          return;
        }
        var name = pick(List.copyOf(locals.keySet()));
        var e = gen(TARGET_KINDS[r.nextInt(TARGET_KINDS.length)], 2);
        if (r.nextBoolean()) {
          line(name + " = " + e.text());
          locals.put(name, e.kind());
        } else {
          line(name + compound(e));
          locals.put(name, locals.get(name).join(e.kind()));
        }
      }
      case 4, 5, 6 -> {
        if (states.isEmpty()) {
          statement();
          return;
        }
        var name = pick(List.copyOf(states.keySet()));
        var e = gen(states.get(name), 3);
        if (r.nextInt(3) == 0) {
          line(name + compound(e));
          stateNow.put(name, stateNow.get(name).join(e.kind()));
        } else {
          line(name + " = " + e.text());
          stateNow.put(name, e.kind());
        }
      }
      case 7 -> line(r.nextBoolean() ? "g = " + elem(gen(Kind.ELEM, 3)) : "g" + compound(gen(Kind.ELEM, 2)));
      case 8 -> {
        if (r.nextBoolean()) {
          line("w" + compound(gen(Kind.ELEM, 2)));
        } else {
          line("w = " + elem(gen(Kind.ELEM, 3)));
        }
      }
      case 9 -> line("g = " + pick(hypers) + " ? -g : g");
      default -> metric();
    }
  }

  private void metric() {
    var name = fresh("m");
    line("metric " + name + " = " + (chance(0.7) ? reduction(Kind.UNIFORM, 2) : gen(Kind.UNIFORM, 2)).text());
    metrics.add(name);
  }

  /** {@code " op= e"}; a division is guarded most of the time. */
  private String compound(Ex e) {
    return switch (r.nextInt(4)) {
      case 0 -> " += " + e.text();
      case 1 -> " -= " + e.text();
      case 2 -> " *= " + e.text();
      default -> chance(0.8) ? " /= (abs(" + e.text() + ") + 1)" : " /= " + e.text();
    };
  }

  /** {@code e} made per-element if it is not already. */
  private String elem(Ex e) {
    return e.kind() == Kind.ELEM ? e.text() : "(" + e.text() + " + " + nonUniform(Kind.ELEM).text() + ")";
  }

  // ---------------------------------------------------------------- expressions

  /** A random expression whose kind {@code max} accepts. */
  private Ex gen(Kind max, int depth) {
    if (depth <= 0 || chance(0.2)) {
      return atom(max);
    }
    int d = depth - 1;
    return switch (r.nextInt(30)) {
      case 0 -> un("-", gen(max, d));
      case 1 -> wrap("(not ", gen(max, d), ")");
      case 2 -> wrap("abs(", gen(max, d), ")");
      case 3 -> wrap("sign(", gen(max, d), ")");
      case 4 -> chance(0.85) ? wrap("sqrt(abs(", gen(max, d), ") + 1)") : wrap("sqrt(", gen(max, d), ")");
      case 5 -> chance(0.85) ? wrap("rsqrt(abs(", gen(max, d), ") + 0.5)") : wrap("rsqrt(", gen(max, d), ")");
      case 6 -> chance(0.85) ? wrap("exp(clip(", gen(max, d), ", -10, 10))") : wrap("exp(", gen(max, d), ")");
      case 7 -> chance(0.85) ? wrap("log(abs(", gen(max, d), ") + 1)") : wrap("log(", gen(max, d), ")");
      case 8 -> wrap(pick(new String[] {"tanh(", "sin(", "cos("}), gen(max, d), ")");
      case 9, 10 -> bin(gen(max, d), " + ", gen(max, d));
      case 11 -> bin(gen(max, d), " - ", gen(max, d));
      case 12, 13 -> bin(gen(max, d), " * ", gen(max, d));
      case 14 -> chance(0.85) ? call("", gen(max, d), " / (abs(", gen(max, d), ") + 1)")
          : bin(gen(max, d), " / ", gen(max, d));
      case 15 -> switch (r.nextInt(4)) {
        case 0 -> call("(abs(", gen(max, d), ") + 1) ^ clip(", gen(max, d), ", -2, 2)");
        case 1 -> wrap("(", gen(max, d), r.nextBoolean() ? " ^ 2)" : " ^ 0)");
        case 2 -> call("pow(abs(", gen(max, d), ") + 0.5, ", gen(max, d), " * 0 + 1.5)");
        default -> bin(gen(max, d), " ^ ", gen(max, d));
      };
      case 16 -> call(r.nextBoolean() ? "min(" : "max(", gen(max, d), ", ", gen(max, d), ")");
      case 17 -> call3("clip(", gen(max, d), ", ", gen(max, d), ", ", gen(max, d), ")");
      case 18 -> call3("lerp(", gen(max, d), ", ", gen(max, d), ", ", gen(max, d), ")");
      case 19 -> bin(gen(max, d), pick(new String[] {" < ", " <= ", " > ", " >= ", " == ", " != "}), gen(max, d));
      case 20 -> bin(gen(max, d), r.nextBoolean() ? " and " : " or ", gen(max, d));
      case 21, 22 -> ternary(max, d);
      case 23 -> defs.isEmpty() ? gen(max, depth) : defCall(max, d);
      case 24, 25, 26 -> reduction(max, d);
      case 27 -> un("-", atom(max));
      default -> atom(max);
    };
  }

  private Ex un(String op, Ex x) {
    return new Ex("(" + op + x.text() + ")", x.kind());
  }

  private Ex wrap(String before, Ex x, String after) {
    return new Ex(before + x.text() + after, x.kind());
  }

  private Ex bin(Ex a, String op, Ex b) {
    return new Ex("(" + a.text() + op + b.text() + ")", a.kind().join(b.kind()));
  }

  private Ex call(String before, Ex a, String mid, Ex b, String after) {
    return new Ex(before + a.text() + mid + b.text() + after, a.kind().join(b.kind()));
  }

  private Ex call3(String before, Ex a, String m1, Ex b, String m2, Ex c, String after) {
    return new Ex(before + a.text() + m1 + b.text() + m2 + c.text() + after,
        a.kind().join(b.kind()).join(c.kind()));
  }

  /** {@code c ? a : b}; the condition is uniform (a hyper flag or a comparison of uniforms) or not. */
  private Ex ternary(Kind max, int d) {
    Ex c;
    int pick = r.nextInt(5);
    if (pick == 4) {
      // A constant condition (folded away), sometimes with equal branches ("c ? a : a").
      c = new Ex(pick(new String[] {"true", "false", "(2 > 1)", "0", "(1 - 1)"}), Kind.CONST);
      if (r.nextInt(3) == 0) {
        var cond = gen(max, d);
        var a = gen(max, d);
        return new Ex("(" + cond.text() + " ? " + a.text() + " : " + a.text() + ")", cond.kind().join(a.kind()));
      }
    } else if (pick == 0) {
      c = new Ex(pick(hypers), Kind.UNIFORM);
    } else if (pick == 1) {
      c = bin(gen(Kind.UNIFORM, d), " > ", gen(Kind.UNIFORM, d));
    } else if (pick == 2) {
      c = bin(gen(max, d), pick(new String[] {" > ", " < ", " >= "}), atom(max));
    } else {
      c = gen(max, d);
    }
    var a = gen(max, d);
    var b = gen(max, d);
    return new Ex("(" + c.text() + " ? " + a.text() + " : " + b.text() + ")",
        c.kind().join(a.kind()).join(b.kind()));
  }

  private Ex defCall(Kind max, int d) {
    var def = pick(defs);
    var args = new ArrayList<String>();
    Kind kind = Kind.CONST;
    for (int i = 0; i < def.params().size(); i++) {
      var a = gen(max, d);
      args.add(a.text());
      kind = kind.join(a.kind());
    }
    // The body may read hypers, t or sizes: never narrower than uniform (CONST is not told apart here).
    return new Ex(def.name() + "(" + String.join(", ", args) + ")", kind.join(Kind.UNIFORM));
  }

  /** A reduction whose result kind {@code max} accepts. */
  private Ex reduction(Kind max, int d) {
    var options = new ArrayList<String>(List.of("sum", "mean", "norm", "rms", "maxabs", "global_norm",
        "global_sum"));
    if (max == Kind.ROW || max == Kind.ELEM) {
      options.addAll(List.of("rowsum", "rowmean"));
    }
    if (max == Kind.COL || max == Kind.ELEM) {
      options.addAll(List.of("colsum", "colmean"));
    }
    var fn = pick(options);
    var kind = switch (fn) {
      case "rowsum", "rowmean" -> Kind.ROW;
      case "colsum", "colmean" -> Kind.COL;
      default -> Kind.UNIFORM;
    };
    var argMax = pick(List.of(Kind.ELEM, Kind.ELEM, Kind.ROW, Kind.COL));
    var arg = gen(argMax, d);
    if (arg.kind().isUniform()) {
      arg = bin(arg, r.nextBoolean() ? " * " : " + ", nonUniform(argMax));
    }
    return new Ex(fn + "(" + arg.text() + ")", kind);
  }

  /** A leaf whose kind {@code max} accepts; a per-element, row or column one more often than not. */
  private Ex atom(Kind max) {
    var wide = new ArrayList<Ex>();
    if (max == Kind.ELEM) {
      wide.add(new Ex("g", Kind.ELEM));
      wide.add(new Ex("w", Kind.ELEM));
    }
    stateNow.forEach((name, kind) -> {
      if (!kind.isUniform() && max.accepts(kind)) {
        wide.add(new Ex(name, kind));
      }
    });
    locals.forEach((name, kind) -> {
      if (!kind.isUniform() && max.accepts(kind)) {
        wide.add(new Ex(name, kind));
      }
    });
    if (!wide.isEmpty() && chance(0.6)) {
      return pick(wide);
    }
    var narrow = new ArrayList<Ex>();
    for (var l : LITERALS) {
      narrow.add(new Ex(l, Kind.CONST));
    }
    narrow.add(new Ex("pi", Kind.CONST));
    narrow.add(new Ex(r.nextBoolean() ? "true" : "false", Kind.CONST));
    for (var h : hypers) {
      narrow.add(new Ex(h, Kind.UNIFORM));
      narrow.add(new Ex(h, Kind.UNIFORM));
    }
    for (var s : List.of("t", "numel", "rows", "cols")) {
      narrow.add(new Ex(s, Kind.UNIFORM));
    }
    metrics.forEach(m -> narrow.add(new Ex(m, Kind.UNIFORM)));
    stateNow.forEach((name, kind) -> {
      if (kind.isUniform()) {
        narrow.add(new Ex(name, kind));
      }
    });
    locals.forEach((name, kind) -> {
      if (kind.isUniform()) {
        narrow.add(new Ex(name, kind));
      }
    });
    return pick(narrow);
  }

  /** A value of exactly kind {@code kind} (row, col or elem). */
  private Ex nonUniform(Kind kind) {
    var options = new ArrayList<Ex>();
    stateNow.forEach((name, k) -> {
      if (k == kind) {
        options.add(new Ex(name, k));
      }
    });
    locals.forEach((name, k) -> {
      if (k == kind) {
        options.add(new Ex(name, k));
      }
    });
    switch (kind) {
      case ROW -> {
        options.add(new Ex("rowmean(g)", Kind.ROW));
        options.add(new Ex("rowsum(w)", Kind.ROW));
      }
      case COL -> {
        options.add(new Ex("colmean(g)", Kind.COL));
        options.add(new Ex("colsum(w)", Kind.COL));
      }
      case ELEM -> {
        options.add(new Ex("g", Kind.ELEM));
        options.add(new Ex("w", Kind.ELEM));
      }
      case CONST, UNIFORM -> throw new IllegalArgumentException("not a per-element kind: " + kind);
    }
    return pick(options);
  }
}
