package dev.optc.compiler.frontend;

import dev.optc.compiler.diag.DiagnosticCode;
import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.Span;
import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.IrPrinter;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.NodeFactory;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.ir.Shape;
import dev.optc.compiler.ir.UnaryOp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Semantic analysis: resolves names in declaration order, checks declarations, assignments, kinds and
 * shapes (DSL.md §3–7), inlines {@code def}s, and lowers the program to the IR in the same walk.
 * Statements run in order over whole tensors, so each assignment simply rebinds its target to a new
 * SSA node; a state read before it is assigned reads the previous step's value ({@code load}).
 *
 * <p>Every problem is reported to {@link Diagnostics} and analysis goes on; an expression with an error
 * evaluates to {@code null} ("poison") and its users stay silent, so one mistake is reported once.
 */
public final class Checker {

  /** Names of the language that a program cannot declare or assign. */
  static final Set<String> BUILTIN_VALUES = Set.of("w", "g", "t", "numel", "rows", "cols", "pi");

  /** Where an expression appears: it decides which names it may read. */
  private enum Context {
    HYPER_DEFAULT,
    STATE_INIT,
    DEF_BODY,
    STATEMENT
  }

  sealed interface Symbol {
    Span span();
  }

  private record HyperSym(String name, Span span) implements Symbol {}

  private record StateSym(String name, Shape shape, Dtype dtype, Span span) implements Symbol {}

  record DefSym(Ast.DefDecl decl, boolean valid, Span span) implements Symbol {}

  private record LocalSym(String name, Span span) implements Symbol {}

  private record InputSym(String name, Span span) implements Symbol {}

  private record MetricSym(String name, Span span) implements Symbol {}

  /** A name whose statement did not parse: known, but its value is poison. */
  private record PoisonSym(Span span) implements Symbol {}

  private final NodeFactory factory;
  private final Diagnostics diags;
  private final Ast.Program program;
  private final Map<String, Symbol> scope;
  /** Current SSA value of w, g, states, locals and metrics; null value = poison. */
  private final Map<String, Node> current = new HashMap<>();
  /** Names declared or assigned somewhere in the file, for "declared later" hints. */
  private final Map<String, Span> everywhere;
  /** Whether each hyper, local and def is read; a nested checker marks reads in its parent's map. */
  private final Map<String, Boolean> read;
  /** The prelude's defs by name: callable from every program unless it declares its own. */
  private Map<String, DefSym> preludeDefs = Map.of();

  /** Inlined def calls by (def, argument ids): nested defs would otherwise be inlined exponentially. */
  private final Map<List<Object>, Node> inlined;

  private final List<IrProgram.HyperInfo> hypers = new ArrayList<>();
  private final List<IrProgram.StateInfo> states = new ArrayList<>();
  private final List<IrProgram.Metric> metrics = new ArrayList<>();
  private final List<IrProgram.Binding> bindings = new ArrayList<>();
  private final Map<String, Boolean> written = new HashMap<>();
  private String optimizerName;
  /** The {@code evaluate} line, if any, and the state it names once checked ({@code w} without one). */
  private Ast.EvaluateDecl evaluateDecl;
  private String evaluate = "w";
  private Span optimizerSpan;

  private Checker(Ast.Program program, Diagnostics diags) {
    this(program, diags, new NodeFactory(), new HashMap<>(), new LinkedHashMap<>(), new HashMap<>(),
        new HashMap<>());
  }

  /** A checker sharing a factory, the inlining memo and the maps of names, for def bodies. */
  private Checker(Ast.Program program, Diagnostics diags, NodeFactory factory,
      Map<List<Object>, Node> inlined, Map<String, Symbol> scope, Map<String, Span> everywhere,
      Map<String, Boolean> read) {
    this.program = program;
    this.diags = diags;
    this.factory = factory;
    this.inlined = inlined;
    this.scope = scope;
    this.everywhere = everywhere;
    this.read = read;
  }

  /**
   * A checker for a def body: this checker's names (shared, not copied: a body declares nothing, and
   * copying them at every call made a program of many calls quadratic), reporting into {@code sink}.
   */
  private Checker nested(Diagnostics sink, NodeFactory f, Map<List<Object>, Node> memo) {
    var sub = new Checker(program, sink, f, memo, scope, everywhere, read);
    sub.preludeDefs = preludeDefs;
    return sub;
  }

  /** Checks {@code program} and lowers it; the result is meaningful only if no error was reported. */
  public static IrProgram check(Ast.Program program, Diagnostics diags) {
    return new Checker(program, diags).run();
  }

  private boolean syntaxErrors;

  private IrProgram run() {
    preludeDefs = Prelude.defs();
    syntaxErrors = program.statements().stream().anyMatch(s -> s instanceof Ast.Invalid) || diags.hasErrors();
    for (var s : program.statements()) {
      var name = switch (s) {
        case Ast.HyperDecl h -> h.name();
        case Ast.StateDecl st -> st.name();
        case Ast.InputDecl in -> in.name();
        case Ast.EvaluateDecl e -> null;
        case Ast.DefDecl d -> d.name();
        case Ast.MetricDecl m -> m.name();
        case Ast.Assign a -> a.target();
        case Ast.Invalid i -> i.declares();
        case Ast.OptimizerDecl o -> null;
      };
      if (name != null) {
        everywhere.putIfAbsent(name.name(), name.span());
      }
    }
    current.put("w", factory.load("w", Kind.ELEM));
    current.put("g", factory.load("g", Kind.ELEM));
    for (var s : program.statements()) {
      switch (s) {
        case Ast.OptimizerDecl o -> optimizer(o);
        case Ast.HyperDecl h -> hyper(h);
        case Ast.StateDecl st -> state(st);
        case Ast.InputDecl in -> input(in);
        case Ast.EvaluateDecl e -> evaluate(e);
        case Ast.DefDecl d -> def(d);
        case Ast.MetricDecl m -> metric(m);
        case Ast.Assign a -> assign(a);
        case Ast.Invalid i -> {
          if (i.declares() != null && !scope.containsKey(i.declares().name())
              && !BUILTIN_VALUES.contains(i.declares().name())) {
            scope.put(i.declares().name(), new PoisonSym(i.declares().span()));
            current.put(i.declares().name(), null);
          }
        }
      }
    }
    return finish();
  }

  // ---------------------------------------------------------------- declarations

  private void optimizer(Ast.OptimizerDecl o) {
    if (optimizerName != null) {
      diags.report(DiagnosticCode.DUPLICATE_DECLARATION, o.span(), "the optimizer is named twice",
          "it is already named '" + optimizerName + "' at line " + optimizerSpan.line());
      return;
    }
    optimizerName = o.name().name();
    optimizerSpan = o.span();
  }

  /** Reports a bad or duplicate declared name; returns whether the name can be declared. */
  private boolean declarable(Ast.Ident name, String what) {
    var n = name.name();
    if (BUILTIN_VALUES.contains(n)) {
      diags.report(DiagnosticCode.RESERVED_NAME, name.span(), "'" + n + "' is a built-in name",
          "choose another name for the " + what);
      return false;
    }
    if (Builtins.isFunction(n)) {
      diags.report(DiagnosticCode.RESERVED_NAME, name.span(), "'" + n + "' is a built-in function",
          "choose another name for the " + what);
      return false;
    }
    var existing = scope.get(n);
    if (existing != null) {
      diags.report(DiagnosticCode.DUPLICATE_DECLARATION, name.span(), "'" + n + "' is already declared",
          "first declared at line " + existing.span().line() + "; choose another name");
      return false;
    }
    return true;
  }

  private void hyper(Ast.HyperDecl h) {
    var value = rootExpr(h.value(), Context.HYPER_DEFAULT, Map.of());
    if (!declarable(h.name(), "hyper")) {
      return;
    }
    scope.put(h.name().name(), new HyperSym(h.name().name(), h.name().span()));
    read.put(h.name().name(), false);
    hypers.add(new IrProgram.HyperInfo(h.name().name(), value == null ? factory.constant(0) : value,
        h.name().span(), isTruthValue(h.value())));
  }

  /** Whether an expression is written as a truth value: true/false, a comparison, and, or, not. */
  private static boolean isTruthValue(Ast.Expr e) {
    return switch (e) {
      case Ast.Bool b -> true;
      case Ast.Unary u -> u.op() == Ast.UnaryOperator.NOT;
      case Ast.Binary b -> switch (b.op()) {
        case LT, LE, GT, GE, EQ, NE, AND, OR -> true;
        default -> false;
      };
      default -> false;
    };
  }

  private void state(Ast.StateDecl s) {
    var shape = Shape.ELEM;
    if (s.shape() != null) {
      var parsed = Shape.parse(s.shape().name());
      if (parsed.isEmpty()) {
        var hint = Suggest.didYouMean(s.shape().name(), List.of("elem", "row", "col", "scalar"));
        diags.report(DiagnosticCode.UNKNOWN_SHAPE, s.shape().span(),
            "unknown state shape '" + s.shape().name() + "'",
            hint != null ? hint : "a state shape is elem (the default), row, col or scalar");
      } else {
        shape = parsed.get();
      }
    }
    var dtype = Dtype.F32;
    if (s.dtype() != null) {
      var parsed = Dtype.parse(s.dtype().name());
      if (parsed.isEmpty()) {
        var hint = Suggest.didYouMean(s.dtype().name(), List.of("f32", "bf16", "f16", "q8", "q4"));
        diags.report(DiagnosticCode.UNKNOWN_DTYPE, s.dtype().span(),
            "unknown state dtype '" + s.dtype().name() + "'",
            hint != null ? hint : "a state is stored as f32 (the default), bf16, f16, q8 or q4");
      } else {
        dtype = parsed.get();
        if (dtype.quantized() && shape != Shape.ELEM) {
          diags.report(DiagnosticCode.QUANTIZED_SHAPE, s.dtype().span(),
              "a " + shape.label() + " state cannot be stored as " + dtype.label(),
              dtype.label() + " quantizes blocks of consecutive elements: only elem states have them (a "
                  + shape.label() + " state is small; keep it f32, bf16 or f16)");
          dtype = Dtype.F32;
        }
      }
    }
    Node init = factory.constant(0);
    if (s.init() instanceof Ast.Name n && n.name().equals("w")) {
      // A copy of the parameter (DSL.md §11), taken by the runtime before the first step.
      if (shape != Shape.ELEM) {
        diags.report(DiagnosticCode.BAD_STATE_INIT, n.span(),
            "a " + shape.label() + " state cannot start as a copy of 'w'",
            "only an elem state has one value per parameter element; drop ': " + shape.label()
                + "', or start it from a uniform value and assign it in a statement");
      } else {
        init = factory.load("w", Kind.ELEM);
      }
    } else if (s.init() != null) {
      var value = rootExpr(s.init(), Context.STATE_INIT, Map.of());
      if (value != null) {
        init = value;
      }
    }
    if (!declarable(s.name(), "state")) {
      return;
    }
    var name = s.name().name();
    scope.put(name, new StateSym(name, shape, dtype, s.name().span()));
    states.add(new IrProgram.StateInfo(name, shape, dtype, init, s.name().span(), false));
    current.put(name, factory.load(name, shape.kind()));
    written.put(name, false);
  }

  /** {@code input NAME}: an elem float32 buffer the caller writes before each step; read-only here. */
  private void input(Ast.InputDecl in) {
    if (!declarable(in.name(), "input")) {
      return;
    }
    var name = in.name().name();
    scope.put(name, new InputSym(name, in.name().span()));
    states.add(new IrProgram.StateInfo(name, Shape.ELEM, Dtype.F32, factory.constant(0), in.name().span(), true));
    current.put(name, factory.load(name, Kind.ELEM));
  }

  /**
   * {@code evaluate NAME}: names the elem state that holds the point a model is evaluated at (DSL.md §11). The
   * state must be declared before it, and named once (a second valid line is an error; a line with a bad name
   * reports only that); the choice is kept for {@link #finish}.
   */
  private void evaluate(Ast.EvaluateDecl e) {
    var name = e.name().name();
    var states = scope.entrySet().stream().filter(x -> x.getValue() instanceof StateSym s && s.shape() == Shape.ELEM)
        .map(Map.Entry::getKey).toList();
    String problem = switch (scope.get(name)) {
      case StateSym s when s.shape() == Shape.ELEM -> null;
      case StateSym s -> "'" + name + "' is a " + s.shape().label() + " state";
      case null -> name.equals("w") ? "'w' is the evaluation point already"
          : BUILTIN_VALUES.contains(name) ? "'" + name + "' is a built-in name"
          : everywhere.containsKey(name) && everywhere.get(name).start() > e.span().start()
              ? "'" + name + "' is declared later, at line " + everywhere.get(name).line()
              : "unknown name '" + name + "'";
      case PoisonSym p -> "";
      case InputSym i -> "'" + name + "' is an input";
      case HyperSym h -> "'" + name + "' is a hyper";
      case LocalSym l -> "'" + name + "' is a local";
      case MetricSym m -> "'" + name + "' is a metric";
      case DefSym d -> "'" + name + "' is a def";
    };
    if (problem == null && evaluateDecl != null) {
      diags.report(DiagnosticCode.BAD_EVALUATE, e.span(), "the evaluation point is named twice",
          "it is already '" + evaluateDecl.name().name() + "' at line " + evaluateDecl.span().line()
              + "; keep one 'evaluate' line");
    } else if (problem == null) {
      evaluateDecl = e;
      evaluate = name;
    } else if (!problem.isEmpty()) {
      String hint;
      if (name.equals("w")) {
        hint = "without an 'evaluate' line a model is evaluated at w; remove the line";
      } else if (problem.contains("declared later")) {
        hint = "move 'evaluate " + name + "' below its declaration";
      } else {
        var suggestion = Suggest.didYouMean(name, states);
        hint = suggestion != null ? suggestion : "evaluate names an elem state (one value per parameter element) "
            + "that holds the point to evaluate the model at, e.g. 'state x = w' then 'evaluate x'";
      }
      diags.report(DiagnosticCode.BAD_EVALUATE, e.name().span(),
          "'evaluate' needs an elem state, but " + problem, hint);
    }
  }

  private void def(Ast.DefDecl d) {
    var seen = new HashMap<String, Span>();
    boolean valid = true;
    for (var p : d.params()) {
      if (seen.put(p.name(), p.span()) != null) {
        diags.report(DiagnosticCode.DUPLICATE_PARAMETER, p.span(),
            "parameter '" + p.name() + "' appears twice in '" + d.name().name() + "'",
            "give each parameter its own name");
        valid = false;
      }
    }
    // Check the body once with stand-in arguments so that its name errors are reported here, once,
    // and not at every call. Kind errors depend on the arguments and are reported at the calls.
    var probe = new Diagnostics();
    var sub = nested(probe, new NodeFactory(), new HashMap<>());
    var standIns = new HashMap<String, Node>();
    d.params().forEach(p -> standIns.put(p.name(), sub.factory.load("$" + p.name(), Kind.ELEM)));
    sub.currentDef = d.name().name();
    sub.probe = true;
    sub.expr(d.body(), Context.DEF_BODY, standIns);
    // Reads through the probe count as reads (a hyper used only inside a def is used): it shares read.
    probe.sorted().forEach(x -> diags.report(x.code(), x.span(), x.message(), x.hint()));
    valid &= !probe.hasErrors();
    if (!declarable(d.name(), "def")) {
      return;
    }
    scope.put(d.name().name(), new DefSym(d, valid, d.name().span()));
    read.put(d.name().name(), false);
  }

  /** The def whose body is being checked (for recursion), or null. */
  private String currentDef;

  private void metric(Ast.MetricDecl m) {
    var value = rootExpr(m.value(), Context.STATEMENT, Map.of());
    if (value != null && !value.kind().isUniform()) {
      diags.report(DiagnosticCode.METRIC_NOT_UNIFORM, m.value().span(),
          "metric '" + m.name().name() + "' is one value per " + kindNoun(value.kind())
              + ", not one per tensor",
          "reduce it, e.g. norm(...), mean(...) or maxabs(...)");
      value = null;
    }
    if (!declarable(m.name(), "metric")) {
      return;
    }
    scope.put(m.name().name(), new MetricSym(m.name().name(), m.name().span()));
    current.put(m.name().name(), value);
    if (value != null) {
      metrics.add(new IrProgram.Metric(m.name().name(), value, m.name().span()));
    }
  }

  private static String kindNoun(Kind k) {
    return switch (k) {
      case CONST, UNIFORM -> "tensor";
      case ROW -> "row";
      case COL -> "column";
      case ELEM -> "element";
      case RR -> "entry of a rows × rows matrix";
      case CC -> "entry of a cols × cols matrix";
    };
  }

  // ---------------------------------------------------------------- statements

  private void assign(Ast.Assign a) {
    var target = a.target().name();
    var sym = scope.get(target);
    String readOnly = switch (target) {
      case "t" -> "the step number 't' is read-only";
      case "numel", "rows", "cols" -> "the size '" + target + "' is read-only";
      case "pi" -> "the constant 'pi' is read-only";
      default -> switch (sym) {
        case HyperSym h -> "'" + target + "' is a hyper, set from outside the program";
        case DefSym d -> "'" + target + "' is a def, not a variable";
        case MetricSym m -> "'" + target + "' is a metric, defined once";
        case InputSym in -> "'" + target + "' is an input, supplied by the caller each step";
        case null, default -> null;
      };
    };
    var value = rootExpr(a.value(), Context.STATEMENT, Map.of());
    if (readOnly != null) {
      diags.report(DiagnosticCode.READ_ONLY, a.target().span(), readOnly,
          sym instanceof HyperSym ? "hypers are set from outside; assign to a new local, e.g. '" + target
              + "_t = ...'" : "assign to a new local with another name instead");
      return;
    }
    if (Builtins.isFunction(target)) {
      diags.report(DiagnosticCode.RESERVED_NAME, a.target().span(),
          "'" + target + "' is a built-in function", "choose another name for the local");
      return;
    }
    boolean known = sym != null || target.equals("w") || target.equals("g");
    if (a.op() != Ast.AssignOp.SET) {
      if (!known) {
        diags.report(DiagnosticCode.COMPOUND_UNDEFINED, a.target().span(),
            "'" + target + "' has no value yet for '" + a.op().symbol() + "'",
            "give it a value first with '" + target + " = ...'");
        return;
      }
      var old = current.get(target);
      markRead(target);
      if (old == null || value == null) {
        value = null;
      } else {
        var op = switch (a.op()) {
          case ADD -> BinaryOp.ADD;
          case SUB -> BinaryOp.SUB;
          case MUL -> BinaryOp.MUL;
          case DIV -> BinaryOp.DIV;
          case SET -> throw new IllegalStateException();
        };
        if (op == BinaryOp.DIV && constants.valueOf(old) == null && constants.valueOf(value) instanceof Double zero
            && zero == 0) {
          diags.report(DiagnosticCode.DIVISION_BY_ZERO, a.value().span(), "division by a constant zero",
              "the result is inf or NaN wherever it is used; divide by a value that cannot be 0");
        }
        value = factory.binary(op, old, value);
        if (rejectedConstant(a.span(), value, true)) {
          value = null;
        }
      }
    }
    if (sym instanceof StateSym st && value != null && !st.shape().kind().accepts(value.kind())) {
      diags.report(DiagnosticCode.SHAPE_MISMATCH, a.value().span(),
          (value.kind() == Kind.ELEM ? "an " : "a ") + value.kind().label() + " value does not fit "
              + st.shape().label() + " state '"
              + target + "'",
          shapeHint(st.shape(), value.kind()));
      value = null;
    }
    if (sym == null && !known) {
      scope.put(target, new LocalSym(target, a.target().span()));
      read.put(target, false);
    }
    if (sym instanceof StateSym) {
      written.put(target, true);
    }
    if (target.equals("w")) {
      written.put("w", true);
    }
    current.put(target, value);
    if (value != null) {
      bindings.add(new IrProgram.Binding(target, value, a.span()));
    }
  }

  private static String shapeHint(Shape state, Kind value) {
    return switch (state) {
      case ROW -> value == Kind.COL ? "a col value has one entry per column; this state has one per row"
          : "reduce it to one value per row with rowmean(...) or rowsum(...)";
      case COL -> value == Kind.ROW ? "a row value has one entry per row; this state has one per column"
          : "reduce it to one value per column with colmean(...) or colsum(...)";
      case SCALAR -> "reduce it to one value per tensor with mean(...), sum(...) or norm(...)";
      case ELEM -> "every value fits an elem state";
    };
  }

  // ---------------------------------------------------------------- expressions

  private void markRead(String name) {
    if (read.containsKey(name)) {
      read.put(name, true);
    }
  }

  /**
   * The IR of {@code e}, or null when it has an error (already reported). Also checks the constant
   * arithmetic the program writes out: a subexpression of literals only that is infinite or undefined
   * ({@code 1/0}, {@code log(0)}, {@code sqrt(-1)}) is an error at that subexpression; a constant that is
   * finite in float64 but past float32's range ({@code 1e38*1e38}) is an error where it meets per-tensor
   * or per-element values, which are float32 (constants fold in float64 first, so {@code 1e38*1e38/1e38}
   * is fine); a non-constant divided by a constant zero is a warning.
   */
  private Node expr(Ast.Expr e, Context ctx, Map<String, Node> params) {
    return checked(e, lower(e, ctx, params));
  }

  /** The checks of {@link #expr} on {@code x}, what {@code e} lowered to (null: already reported). */
  private Node checked(Ast.Expr e, Node x) {
    if (x == null) {
      return null;
    }
    if (constants.valueOf(x) != null) {
      if (rejectedConstant(e.span(), x, false)) {
        return null;
      }
      values.put(e, x);
      return x;
    }
    for (var child : children(e)) {
      if (!inFloat32(child)) {
        return null;
      }
    }
    if (e instanceof Ast.Binary b && b.op() == Ast.BinaryOperator.DIV
        && constants.valueOf(values.get(b.right())) instanceof Double zero && zero == 0) {
      diags.report(DiagnosticCode.DIVISION_BY_ZERO, b.right().span(), "division by a constant zero",
          "the result is inf or NaN wherever it is used; divide by a value that cannot be 0, e.g. (x + eps)");
    }
    values.put(e, x);
    return x;
  }

  /** The value an expression's parent or a declaration uses: a constant must fit float32 there. */
  private boolean inFloat32(Ast.Expr e) {
    return !rejectedConstant(e.span(), values.get(e), true);
  }

  /**
   * Reports E004 at {@code span} when {@code x} is a constant that is inf or NaN, or (with {@code range})
   * finite but past float32's range; whether it did.
   */
  private boolean rejectedConstant(Span span, Node x, boolean range) {
    var value = x == null ? null : constants.valueOf(x);
    var problem = value == null ? null : Constants.problem(value, range);
    if (problem != null) {
      diags.report(DiagnosticCode.CONSTANT_NOT_FINITE, span, "this constant expression is " + problem,
          Constants.why(x, value));
    }
    return problem != null;
  }

  /** {@link #expr} for a whole declaration or statement value: its constant must fit float32 too. */
  private Node rootExpr(Ast.Expr e, Context ctx, Map<String, Node> params) {
    var x = expr(e, ctx, params);
    return x != null && inFloat32(e) ? x : null;
  }

  private static List<Ast.Expr> children(Ast.Expr e) {
    return switch (e) {
      case Ast.Number n -> List.of();
      case Ast.Bool b -> List.of();
      case Ast.Name n -> List.of();
      case Ast.Unary u -> List.of(u.operand());
      case Ast.Binary b -> List.of(b.left(), b.right());
      case Ast.Ternary t -> List.of(t.cond(), t.then(), t.otherwise());
      case Ast.Call c -> c.args();
    };
  }

  /** Float64 values of the constant nodes made so far (literals and folds of literals only). */
  private final Constants constants = new Constants();
  /** What each checked expression lowered to, for its parent's checks. */
  private final Map<Ast.Expr, Node> values = new java.util.IdentityHashMap<>();

  private Node lower(Ast.Expr e, Context ctx, Map<String, Node> params) {
    return switch (e) {
      case Ast.Number n -> {
        if (Double.isInfinite(n.value()) || Math.abs(n.value()) > Float.MAX_VALUE) {
          diags.report(DiagnosticCode.NUMBER_RANGE, n.span(), "'" + n.text() + "' does not fit in float32",
              "the largest float32 is about 3.4e38");
          yield null;
        }
        // Non-zero digits that round to 0: in float32 (1e-46), or already in float64 (1e-400).
        if ((float) n.value() == 0 && (n.value() != 0 || Constants.hasNonZeroDigit(n.text()))) {
          diags.report(DiagnosticCode.NUMBER_RANGE, n.span(), "'" + n.text() + "' is 0 in float32",
              "the smallest float32 above 0 is about 1.4e-45; write 0 if zero is meant");
          yield null;
        }
        yield factory.constant(n.value());
      }
      case Ast.Bool b -> factory.constant(b.value() ? 1 : 0);
      case Ast.Name n -> name(n, ctx, params);
      case Ast.Unary u -> {
        var x = expr(u.operand(), ctx, params);
        yield x == null ? null
            : factory.unary(u.op() == Ast.UnaryOperator.NEG ? UnaryOp.NEG : UnaryOp.NOT, x);
      }
      case Ast.Binary b -> binary(b, ctx, params);
      case Ast.Ternary t -> {
        var c = expr(t.cond(), ctx, params);
        var a = expr(t.then(), ctx, params);
        var b = expr(t.otherwise(), ctx, params);
        yield c == null || a == null || b == null ? null : !mixes(t, List.of(c, a, b)) ? (probe ? a : null)
            : factory.select(c, a, b);
      }
      case Ast.Call c -> call(c, ctx, params);
    };
  }

  /**
   * A binary operator, walking down its left spine without recursion: {@code g+g+...+g} of n terms is an
   * AST n levels deep. Left operands are still checked before right ones, so diagnostics come in order.
   */
  private Node binary(Ast.Binary top, Context ctx, Map<String, Node> params) {
    var spine = new ArrayList<Ast.Binary>();
    Ast.Expr e = top;
    while (e instanceof Ast.Binary b) {
      spine.add(b);
      e = b.left();
    }
    var l = expr(e, ctx, params);
    for (int i = spine.size() - 1; i >= 0; i--) {
      var b = spine.get(i);
      var r = expr(b.right(), ctx, params);
      if (l == null || r == null) {
        l = null;
        continue;
      }
      if (b.op() == Ast.BinaryOperator.MOD && !modulo(b, l, r)) {
        l = null;
        continue;
      }
      if (!mixes(b, List.of(l, r))) {
        // A def body's probe keeps a stand-in: its calls are checked with the real kinds.
        l = probe ? l : null;
        continue;
      }
      var op = switch (b.op()) {
        case POW -> BinaryOp.POW;
        case MUL -> BinaryOp.MUL;
        case DIV -> BinaryOp.DIV;
        case MOD -> BinaryOp.MOD;
        case ADD -> BinaryOp.ADD;
        case SUB -> BinaryOp.SUB;
        case LT -> BinaryOp.LT;
        case LE -> BinaryOp.LE;
        case GT -> BinaryOp.GT;
        case GE -> BinaryOp.GE;
        case EQ -> BinaryOp.EQ;
        case NE -> BinaryOp.NE;
        case AND -> BinaryOp.AND;
        case OR -> BinaryOp.OR;
      };
      l = factory.binary(op, l, r);
      if (i > 0) {
        // The top is checked by expr(); the spine below it here, bottom-up, as expr() would have.
        l = checked(b, l);
      }
    }
    return l;
  }

  /**
   * Checks {@code a % b} (DSL.md §11: on uniforms, for "every k steps"); whether it is fine. A per-element, row or
   * col operand is an error (E052): kernels would need a floored fmod per element, which the language does not
   * promise. A def body's probe has per-element stand-ins for its parameters: its calls are checked instead. A
   * constant zero divisor is an error (E053): the result would be NaN on every step.
   */
  private boolean modulo(Ast.Binary b, Node l, Node r) {
    if (!probe) {
      for (var side : List.of(l, r)) {
        if (!side.kind().isUniform()) {
          var at = side == l ? b.left() : b.right();
          diags.report(DiagnosticCode.MODULO_NOT_UNIFORM, at.span(),
              "'%' takes per-tensor values (literals, hypers, t, sizes, reductions), but this is "
                  + (side.kind() == Kind.ELEM ? "an " : "a ") + side.kind().label() + " value",
              "'%' is for schedules such as 't % k == 0' (every k steps); per element, write x - k * floor(x / k)");
          return false;
        }
      }
    }
    if (constants.valueOf(r) instanceof Double zero && zero == 0) {
      diags.report(DiagnosticCode.MODULO_BY_ZERO, b.right().span(), "modulo by a constant zero",
          "x % 0 is NaN (as torch.remainder); the divisor must not be 0");
      return false;
    }
    return true;
  }

  /** Whether this checker probes a def body with stand-in arguments (kind errors are reported at calls). */
  private boolean probe;

  private Node name(Ast.Name n, Context ctx, Map<String, Node> params) {
    var name = n.name();
    if (params.containsKey(name)) {
      return params.get(name);
    }
    switch (name) {
      case "pi" -> {
        return factory.constant(Math.PI);
      }
      case "t" -> {
        if (ctx == Context.HYPER_DEFAULT || ctx == Context.STATE_INIT) {
          notAllowed(n, ctx, "the step number 't'");
          return null;
        }
        return factory.step();
      }
      case "numel", "rows", "cols" -> {
        if (ctx == Context.HYPER_DEFAULT) {
          notAllowed(n, ctx, "the size '" + name + "'");
          return null;
        }
        return factory.size(switch (name) {
          case "numel" -> Node.SizeKind.NUMEL;
          case "rows" -> Node.SizeKind.ROWS;
          default -> Node.SizeKind.COLS;
        });
      }
      case "w", "g" -> {
        if (ctx == Context.STATE_INIT) {
          // 'state NAME = w' is taken before the expression is checked (state()): here w is inside one.
          diags.report(DiagnosticCode.BAD_STATE_INIT, n.span(), name.equals("w")
                  ? "a state can start as 'w' itself, not as an expression of it"
                  : "a state cannot start from the gradient 'g'",
              name.equals("w")
                  ? "write 'state NAME = w' and adjust the copy in a statement (on the first step: t == 1 ? ... : ...)"
                  : "no gradient exists yet when a state is created (tensors are bound before the first step); start "
                      + "it at 0 and assign it from g in a statement, e.g. m = t == 1 ? g : m");
          return null;
        }
        if (ctx != Context.STATEMENT) {
          notAllowed(n, ctx, "'" + name + "'");
          return null;
        }
        return current.get(name);
      }
      default -> { }
    }
    var sym = scope.get(name);
    switch (sym) {
      case null -> {
        if (Builtins.isFunction(name)) {
          diags.report(DiagnosticCode.FUNCTION_AS_VALUE, n.span(), "'" + name + "' is a function",
              "call it: " + name + "(...)");
          return null;
        }
        String hint;
        var later = everywhere.get(name);
        if (later != null && later.start() > n.span().start()) {
          hint = "'" + name + "' is first given a value at line " + later.line()
              + "; declare or assign it before this use";
        } else {
          var candidates = new ArrayList<>(scope.keySet());
          candidates.addAll(params.keySet());
          candidates.addAll(BUILTIN_VALUES);
          candidates.addAll(List.of("true", "false"));
          hint = Suggest.didYouMean(name, candidates);
        }
        diags.report(DiagnosticCode.UNKNOWN_NAME, n.span(), "unknown name '" + name + "'", hint);
        return null;
      }
      case HyperSym h -> {
        markRead(name);
        return factory.hyper(name);
      }
      case DefSym d -> {
        diags.report(DiagnosticCode.FUNCTION_AS_VALUE, n.span(), "'" + name + "' is a def",
            "call it: " + name + "(...)");
        return null;
      }
      case PoisonSym p -> {
        return null;
      }
      case StateSym s -> {
        if (ctx != Context.STATEMENT) {
          notAllowed(n, ctx, "state '" + name + "'");
          return null;
        }
        return current.get(name);
      }
      case InputSym in -> {
        if (ctx != Context.STATEMENT) {
          notAllowed(n, ctx, "input '" + name + "'");
          return null;
        }
        return current.get(name);
      }
      case LocalSym l -> {
        if (ctx != Context.STATEMENT) {
          notAllowed(n, ctx, "local '" + name + "'");
          return null;
        }
        markRead(name);
        return current.get(name);
      }
      case MetricSym m -> {
        if (ctx != Context.STATEMENT) {
          notAllowed(n, ctx, "metric '" + name + "'");
          return null;
        }
        return current.get(name);
      }
    }
  }

  private void notAllowed(Ast.Name n, Context ctx, String what) {
    switch (ctx) {
      case HYPER_DEFAULT -> diags.report(DiagnosticCode.NOT_CONSTANT, n.span(),
          "a hyper's default must be constant, but it reads " + what,
          "use literals and earlier hypers only; per-tensor or per-step values belong in statements");
      case STATE_INIT -> diags.report(DiagnosticCode.BAD_STATE_INIT, n.span(),
          "a state's initial value cannot read " + what,
          "use literals, hypers and numel/rows/cols; assign per-element values in a statement");
      case DEF_BODY -> diags.report(DiagnosticCode.DEF_CAPTURE, n.span(),
          "the body of '" + currentDef + "' reads " + what + " without taking it as a parameter",
          "pass it as an argument, e.g. def " + currentDef + "(..., " + n.name() + ") = ...");
      case STATEMENT -> throw new IllegalStateException("everything is allowed in statements");
    }
  }

  /**
   * {@code lerp(a, b, s)} moves {@code s} of the way from a to b. torch code writes an average as
   * {@code m.lerp_(g, 1 - beta1)}, and transcribing that as {@code lerp(m, g, beta1)} keeps only 10% of
   * the average: warned when the end point names the gradient and the weight is a hyper whose default
   * lies in (0.5, 1), the range of decay rates.
   */
  private void checkLerpWeight(Ast.Call c) {
    if (!(c.args().get(2) instanceof Ast.Name weight) || !(scope.get(weight.name()) instanceof HyperSym)) {
      return;
    }
    var hyper = hypers.stream().filter(h -> h.name().equals(weight.name())).findFirst();
    if (hyper.isEmpty() || !(hyper.get().defaultValue() instanceof Node.Const d) || !(d.value() > 0.5)
        || !(d.value() < 1)) {
      return;
    }
    // As written: the end point names g and the start point does not (lerp(g, m, beta1) is right).
    if (namesGradient(c.args().get(1)) && !namesGradient(c.args().get(0))) {
      var name = weight.name();
      diags.report(DiagnosticCode.LERP_WEIGHT_INVERTED, c.span(),
          "this lerp moves " + name + " (" + IrPrinter.formatConst(d.value()) + ") of the way toward the gradient "
              + "each step",
          "an average keeping " + name + " of its old value is lerp(new, old, " + name + "), or lerp(old, new, 1 - "
              + name + ") as torch writes old.lerp_(new, 1 - " + name + ")");
    }
  }

  private static boolean namesGradient(Ast.Expr e) {
    if (e instanceof Ast.Name n && n.name().equals("g")) {
      return true;
    }
    for (var child : children(e)) {
      if (namesGradient(child)) {
        return true;
      }
    }
    return false;
  }

  private Node call(Ast.Call c, Context ctx, Map<String, Node> params) {
    var fn = c.function().name();
    if (fn.equals("mm")) {
      return product(c, ctx, params);
    }
    if (fn.equals("tr")) {
      c.args().forEach(a -> expr(a, ctx, params));
      diags.report(DiagnosticCode.TRANSPOSE_ALONE, c.span(), "tr(x) is only an argument of mm",
          "a transposed matrix is read by its product: mm(a, tr(b)) is a·bᵀ, mm(tr(a), b) is aᵀ·b");
      return null;
    }
    var args = new ArrayList<Node>();
    boolean poisoned = false;
    for (var a : c.args()) {
      var v = expr(a, ctx, params);
      poisoned |= v == null;
      args.add(v);
    }
    var builtin = Builtins.get(fn);
    if (builtin != null) {
      if (c.args().size() != builtin.arity()) {
        diags.report(DiagnosticCode.ARITY, c.span(),
            "'" + fn + "' takes " + plural(builtin.arity(), "argument") + ", not " + c.args().size(),
            builtin.signature());
        return null;
      }
      if (poisoned) {
        return null;
      }
      if (!builtin.reduction() && !mixes(c, args)) {
        return probe ? args.getFirst() : null;
      }
      if (builtin.reduction() && args.getFirst().kind().isGram() && !Builtins.reducesGram(fn)) {
        var k = args.getFirst().kind();
        diags.report(DiagnosticCode.GRAM_REDUCTION, c.args().getFirst().span(),
            "'" + fn + "' of " + k.withArticle() + " value (" + k.shape() + ")",
            "a Gram matrix reduces per tensor only: sum, mean, norm, rms, maxabs");
        return null;
      }
      if (builtin.reduction() && !Builtins.reducible(args.getFirst().kind())) {
        diags.report(DiagnosticCode.REDUCE_UNIFORM, c.args().getFirst().span(),
            "'" + fn + "' of a value that is already one per tensor",
            "reductions take per-element, row or col values; use the value directly");
        return null;
      }
      if (fn.equals("lerp")) {
        checkLerpWeight(c);
      }
      return builtin.lower(factory, args);
    }
    if (fn.equals(currentDef)) {
      diags.report(DiagnosticCode.RECURSIVE_DEF, c.function().span(), "'" + fn + "' calls itself",
          "defs are inlined, so they cannot be recursive; write the repetition out");
      return null;
    }
    var sym = scope.containsKey(fn) ? scope.get(fn) : preludeDefs.get(fn);
    if (sym instanceof PoisonSym) {
      return null;
    }
    if (!(sym instanceof DefSym def)) {
      String hint;
      if (sym != null || BUILTIN_VALUES.contains(fn) || params.containsKey(fn)) {
        hint = "'" + fn + "' is a value, not a function";
      } else {
        var later = everywhere.get(fn);
        if (later != null && later.start() > c.span().start()) {
          hint = "'" + fn + "' is declared at line " + later.line() + "; declare it before this use";
        } else {
          var candidates = new ArrayList<>(Builtins.names());
          candidates.addAll(preludeDefs.keySet());
          scope.forEach((k, v) -> {
            if (v instanceof DefSym) {
              candidates.add(k);
            }
          });
          hint = Suggest.didYouMean(fn, candidates);
        }
      }
      diags.report(DiagnosticCode.UNKNOWN_FUNCTION, c.function().span(), "unknown function '" + fn + "'",
          hint);
      return null;
    }
    markRead(fn);
    var decl = def.decl();
    if (c.args().size() != decl.params().size()) {
      diags.report(DiagnosticCode.ARITY, c.span(),
          "'" + fn + "' takes " + plural(decl.params().size(), "argument") + ", not " + c.args().size(),
          "declared at line " + decl.span().line() + " as " + fn + "("
              + String.join(", ", decl.params().stream().map(Ast.Ident::name).toList()) + ")");
      return null;
    }
    if (poisoned || !def.valid()) {
      return null;
    }
    var key = new ArrayList<Object>();
    key.add(fn);
    args.forEach(a -> key.add(a.id()));
    var memo = inlined.get(key);
    if (memo != null) {
      return memo;
    }
    var bound = new HashMap<String, Node>();
    for (int i = 0; i < args.size(); i++) {
      bound.put(decl.params().get(i).name(), args.get(i));
    }
    // Inline: errors here depend on the arguments (kinds), so they are reported at this call.
    var sink = new Diagnostics();
    var result = new Inliner(sink).inline(decl, bound);
    for (var d : sink.sorted()) {
      diags.report(d.code(), c.span(), "in the call of '" + fn + "': " + d.message(), d.hint());
    }
    if (sink.hasErrors()) {
      return null;
    }
    inlined.put(key, result);
    return result;
  }

  /**
   * {@code mm(a, b)} with {@code tr(x)} allowed as either argument (DSL.md §11): both operands matrices (elem,
   * rr, cc) whose inner sides agree, and a product with a kind (a cols × rows one has none). Errors name both
   * shapes. A def body's probe has per-element stand-ins for its parameters: its calls are checked instead.
   */
  private Node product(Ast.Call c, Context ctx, Map<String, Node> params) {
    var operands = new ArrayList<Node>();
    var transposed = new ArrayList<Boolean>();
    boolean poisoned = false;
    for (var a : c.args()) {
      boolean tr = a instanceof Ast.Call t && t.function().name().equals("tr");
      if (tr && ((Ast.Call) a).args().size() != 1) {
        ((Ast.Call) a).args().forEach(x -> expr(x, ctx, params));
        diags.report(DiagnosticCode.ARITY, a.span(), "'tr' takes 1 argument, not " + ((Ast.Call) a).args().size(),
            "tr(x): x transposed, as an argument of mm");
        poisoned = true;
        continue;
      }
      var v = expr(tr ? ((Ast.Call) a).args().getFirst() : a, ctx, params);
      poisoned |= v == null;
      operands.add(v);
      transposed.add(tr);
    }
    if (c.args().size() != 2) {
      diags.report(DiagnosticCode.ARITY, c.span(), "'mm' takes 2 arguments, not " + c.args().size(),
          "mm(a, b): the matrix product a·b; tr(x) transposes an argument");
      return null;
    }
    if (poisoned) {
      return null;
    }
    var a = operands.get(0);
    var b = operands.get(1);
    for (int i = 0; i < 2; i++) {
      var k = operands.get(i).kind();
      if (!probe && !k.isEntry()) {
        diags.report(DiagnosticCode.PRODUCT_SHAPE, c.args().get(i).span(),
            "mm multiplies matrices, but this is " + k.withArticle() + " value (" + k.shape() + ")",
            k.isUniform() ? "scale a matrix with '*': x * s" : "a row or col value is a vector; use it elementwise "
                + "(x * v broadcasts it over the matrix)");
        return null;
      }
    }
    if (probe && !(a.kind().isEntry() && b.kind().isEntry())) {
      return a;
    }
    var sa = Node.Product.sides(a.kind(), transposed.get(0));
    var sb = Node.Product.sides(b.kind(), transposed.get(1));
    var kind = Node.Product.kindOf(sa[0], sb[1]);
    if (!sa[1].equals(sb[0]) || kind == null) {
      if (probe) {
        return a;
      }
      var shapes = "(" + sa[0] + " × " + sa[1] + ") · (" + sb[0] + " × " + sb[1] + ")";
      var problem = !sa[1].equals(sb[0]) ? ": " + shapes + ", inner sides " + sa[1] + " and " + sb[0] + " differ"
          : " is cols × rows, which no value has";
      diags.report(DiagnosticCode.PRODUCT_SHAPE, c.span(), "mm of " + describe(a, transposed.get(0)) + " and "
          + describe(b, transposed.get(1)) + problem, productHint(c, a, transposed.get(0), b, transposed.get(1)));
      return null;
    }
    return factory.product(a, transposed.get(0), b, transposed.get(1));
  }

  /**
   * A product of the same two values that fits, as the hint of E060: the second or the first transposed, the two
   * swapped, or swapped and transposed (the transpose of the product written); the shape rule where none fits.
   */
  private static String productHint(Ast.Call c, Node a, boolean ta, Node b, boolean tb) {
    record Try(int first, boolean t1, boolean t2, String how) {}
    var operands = List.of(a, b);
    for (var t : List.of(new Try(0, ta, !tb, "transpose the second argument"),
        new Try(0, !ta, tb, "transpose the first argument"), new Try(1, tb, ta, "swap the arguments"),
        new Try(1, !tb, !ta, "swap and transpose both (the product's transpose)"))) {
      var x = operands.get(t.first());
      var y = operands.get(1 - t.first());
      var sx = Node.Product.sides(x.kind(), t.t1());
      var sy = Node.Product.sides(y.kind(), t.t2());
      if (sx[1].equals(sy[0]) && Node.Product.kindOf(sx[0], sy[1]) != null) {
        var first = (t.t1() ? "tr(" : "") + text(c, t.first()) + (t.t1() ? ")" : "");
        var second = (t.t2() ? "tr(" : "") + text(c, 1 - t.first()) + (t.t2() ? ")" : "");
        return t.how() + ": mm(" + first + ", " + second + ") is " + sx[0] + " × " + sy[1];
      }
    }
    return "the columns of the first must be the rows of the second, and the product rows × cols, rows × rows or "
        + "cols × cols";
  }

  private static String describe(Node x, boolean transposed) {
    var s = Node.Product.sides(x.kind(), transposed);
    return (transposed ? "tr(" + x.kind().label() + ")" : x.kind().withArticle() + " value") + " (" + s[0] + " × "
        + s[1] + ")";
  }

  /** The text of argument {@code arg} of an mm call, inside its tr(...) if it has one, where it is a name. */
  private static String text(Ast.Call c, int arg) {
    var e = c.args().get(arg);
    if (e instanceof Ast.Call t && t.function().name().equals("tr") && t.args().size() == 1) {
      e = t.args().getFirst();
    }
    return e instanceof Ast.Name n ? n.name() : "...";
  }

  /**
   * Whether the values of an elementwise operation combine (DSL.md §11: a Gram matrix only with its own kind
   * and uniforms); reports E061 at {@code at} where not.
   */
  private boolean mixes(Ast.Expr at, List<Node> operands) {
    for (var x : operands) {
      for (var y : operands) {
        if (!x.kind().mixes(y.kind())) {
          if (probe) {
            return false; // reported at the calls, with the real kinds
          }
          var gram = x.kind().isGram() ? x : y;
          var other = gram == x ? y : x;
          diags.report(DiagnosticCode.KIND_MIX, at.span(), "elementwise arithmetic between "
                  + gram.kind().withArticle() + " value (" + gram.kind().shape() + ") and " + other.kind().withArticle()
                  + " value (" + other.kind().shape() + ")",
              "a Gram matrix combines elementwise only with its own kind and per-tensor values; multiply it: "
                  + "mm(" + gram.kind().label() + ", x)");
          return false;
        }
      }
    }
    return true;
  }

  /** Evaluates a def body in this checker's factory, reporting into a separate sink. */
  private final class Inliner {
    private final Diagnostics sink;

    Inliner(Diagnostics sink) {
      this.sink = sink;
    }

    Node inline(Ast.DefDecl decl, Map<String, Node> bound) {
      var sub = nested(sink, factory, inlined);
      sub.currentDef = decl.name().name();
      return sub.expr(decl.body(), Context.DEF_BODY, bound);
    }
  }


  private static String plural(int n, String word) {
    return n + " " + word + (n == 1 ? "" : "s");
  }

  // ---------------------------------------------------------------- the end of the file

  private IrProgram finish() {
    var outputs = new ArrayList<IrProgram.Output>();
    for (var s : states) {
      var v = current.get(s.name());
      if (v != null && v != factory.load(s.name(), s.shape().kind())) {
        outputs.add(new IrProgram.Output(s.name(), v));
      }
    }
    var w = current.get("w");
    if (w != null && w != factory.load("w", Kind.ELEM)) {
      outputs.add(new IrProgram.Output("w", w));
    }
    if (syntaxErrors) {
      // Names used only in a statement that did not parse would be reported as unused: say nothing.
      var name0 = optimizerName != null ? optimizerName : program.file().baseName();
      return new IrProgram(name0, program.file(), factory, hypers, states, outputs, metrics, bindings, List.of(),
        evaluate);
    }
    if (!written.getOrDefault("w", false)) {
      var at = optimizerSpan != null ? optimizerSpan : program.file().span(0, 0);
      diags.report(DiagnosticCode.PARAM_NEVER_WRITTEN, at, "the program never updates 'w'",
          "an optimizer step usually ends with 'w -= ...'");
    }
    for (var e : scope.entrySet()) {
      var name = e.getKey();
      switch (e.getValue()) {
        case HyperSym h when !read.getOrDefault(name, true) -> diags.report(DiagnosticCode.UNUSED_HYPER,
            h.span(), "hyper '" + name + "' is never used", "remove it, or use it in the update");
        case StateSym s when !written.getOrDefault(name, true) -> diags.report(
            DiagnosticCode.STATE_NEVER_WRITTEN, s.span(), "state '" + name + "' is never written",
            "it keeps its initial value forever; assign it, or make it a hyper");
        case LocalSym l when !read.getOrDefault(name, true) -> diags.report(DiagnosticCode.LOCAL_NEVER_READ,
            l.span(), "local '" + name + "' is never read", "remove it, or use it");
        case DefSym d when !read.getOrDefault(name, true) -> diags.report(DiagnosticCode.UNUSED_DEF,
            d.span(), "def '" + name + "' is never called", "remove it, or call it");
        default -> { }
      }
    }
    var name = optimizerName != null ? optimizerName : program.file().baseName();
    return new IrProgram(name, program.file(), factory, hypers, states, outputs, metrics, bindings, List.of(),
        evaluate);
  }
}
