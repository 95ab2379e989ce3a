package dev.optc.training.search;

import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.frontend.Ast;
import dev.optc.compiler.frontend.SyntaxParser;
import dev.optc.runtime.OptcException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.List;

/**
 * A candidate of the search: a {@code .opt} program as the list of its declarations and statements, each
 * expression a syntax tree ({@link Ast.Expr}, spans unused). {@link #text()} prints it back as a program the
 * compiler reads; comments of the seed are not kept. Immutable: mutations make new genomes.
 *
 * @param defs {@code def} declarations, kept as their text
 * @param statements assignments and metrics, in order (statements may read metrics)
 */
public record Genome(String name, List<Hyper> hypers, List<State> states, List<String> defs, List<Stmt> statements) {
  public Genome {
    hypers = List.copyOf(hypers);
    states = List.copyOf(states);
    defs = List.copyOf(defs);
    statements = List.copyOf(statements);
  }

  /** {@code hyper name = value}. */
  public record Hyper(String name, Ast.Expr value) {}

  /** {@code state name[: shape][ as dtype][ = init]}; {@code rest} is everything after the name. */
  /** {@code state NAME rest}, or {@code input NAME} where {@code rest} is null. */
  public record State(String name, String rest) {
    static State input(String name) {
      return new State(name, null);
    }
  }

  /** {@code target op value}, or {@code metric target = value}. */
  public record Stmt(String target, Ast.AssignOp op, Ast.Expr value, boolean metric) {
    public Stmt(String target, Ast.AssignOp op, Ast.Expr value) {
      this(target, op, value, false);
    }

    Stmt with(Ast.Expr newValue) {
      return new Stmt(target, op, newValue, metric);
    }
  }

  /** Parses {@code text}; a syntax error is a one-line {@link OptcException}. */
  public static Genome parse(String label, String text) {
    var diags = new Diagnostics();
    var ast = SyntaxParser.parse(SourceFile.of(label, text), diags);
    if (diags.hasErrors()) {
      throw new OptcException(label + ": " + diags.sorted().getFirst().message());
    }
    String name = "candidate";
    var hypers = new ArrayList<Hyper>();
    var states = new ArrayList<State>();
    var defs = new ArrayList<String>();
    var stmts = new ArrayList<Stmt>();
    for (var s : ast.statements()) {
      switch (s) {
        case Ast.OptimizerDecl o -> name = o.name().name();
        case Ast.HyperDecl h -> hypers.add(new Hyper(h.name().name(), h.value()));
        case Ast.StateDecl st -> {
          var rest = new StringBuilder();
          if (st.shape() != null) {
            rest.append(" : ").append(st.shape().name());
          }
          if (st.dtype() != null) {
            rest.append(" as ").append(st.dtype().name());
          }
          if (st.init() != null) {
            rest.append(" = ").append(print(st.init()));
          }
          states.add(new State(st.name().name(), rest.toString()));
        }
        // In declaration order among the states (the IR's order). The search's tasks supply only g: a candidate
        // that reads an input fails its first step and is discarded like any failing one.
        case Ast.InputDecl in -> states.add(State.input(in.name().name()));
        // The search's tasks validate at w: the evaluation point of a seed is not carried into its candidates.
        case Ast.EvaluateDecl e -> { }
        case Ast.DefDecl d -> defs.add("def " + d.name().name() + "("
            + String.join(", ", d.params().stream().map(Ast.Ident::name).toList()) + ") = " + print(d.body()));
        case Ast.MetricDecl m -> stmts.add(new Stmt(m.name().name(), Ast.AssignOp.SET, m.value(), true));
        case Ast.Assign a -> stmts.add(new Stmt(a.target().name(), a.op(), a.value()));
        case Ast.Invalid i -> throw new OptcException(label + ": a statement does not parse");
      }
    }
    return new Genome(name, hypers, states, defs, stmts);
  }

  /** The program's source text. */
  public String text() {
    var sb = new StringBuilder();
    sb.append("optimizer ").append(name).append("\n\n");
    for (var h : hypers) {
      sb.append("hyper ").append(h.name()).append(" = ").append(print(h.value())).append('\n');
    }
    if (!states.isEmpty()) {
      sb.append('\n');
    }
    for (var s : states) {
      sb.append(s.rest() == null ? "input " : "state ").append(s.name()).append(s.rest() == null ? "" : s.rest())
          .append('\n');
    }
    for (var d : defs) {
      sb.append(d).append('\n');
    }
    sb.append('\n');
    for (var s : statements) {
      sb.append(s.metric() ? "metric " : "").append(s.target()).append(' ').append(s.op().symbol()).append(' ').append(print(s.value())).append('\n');
    }
    return sb.toString();
  }

  /**
   * This program with every hyper but {@code lr} replaced by its default value: the search owns those numbers
   * (it perturbs literals), and as literals the compiler folds what they decide ({@code momentum != 0 ? ...}
   * with momentum 0), so dead branches and the states only they read leave the optimized IR.
   */
  public Genome frozen() {
    var values = new java.util.HashMap<String, Ast.Expr>();
    var kept = new ArrayList<Hyper>();
    for (var h : hypers) {
      var v = substitute(h.value(), values);
      if (h.name().equals("lr")) {
        kept.add(new Hyper(h.name(), v));
      } else {
        values.put(h.name(), v);
      }
    }
    var stmts = new ArrayList<Stmt>();
    for (var s : statements) {
      stmts.add(s.with(substitute(s.value(), values)));
    }
    return new Genome(name, kept, states, defs, stmts);
  }

  private static Ast.Expr substitute(Ast.Expr e, java.util.Map<String, Ast.Expr> values) {
    return switch (e) {
      case Ast.Number n -> n;
      case Ast.Bool b -> b;
      case Ast.Name n -> values.getOrDefault(n.name(), n);
      case Ast.Call c -> new Ast.Call(c.function(), c.args().stream().map(a -> substitute(a, values)).toList(), null);
      case Ast.Unary u -> new Ast.Unary(u.op(), substitute(u.operand(), values), null);
      case Ast.Binary b -> new Ast.Binary(b.op(), substitute(b.left(), values), substitute(b.right(), values), null);
      case Ast.Ternary t -> new Ast.Ternary(substitute(t.cond(), values), substitute(t.then(), values),
          substitute(t.otherwise(), values), null);
    };
  }

  public Genome withName(String newName) {
    return new Genome(newName, hypers, states, defs, statements);
  }

  public boolean hasHyper(String hyper) {
    return hypers.stream().anyMatch(h -> h.name().equals(hyper));
  }

  // ---------------------------------------------------------------- printing expressions

  /** {@code e} with the parentheses its operators need and no others. */
  public static String print(Ast.Expr e) {
    var sb = new StringBuilder();
    print(e, 0, sb);
    return sb.toString();
  }

  /** Binding strength, tightest highest (the grammar's order). */
  private static int precedence(Ast.Expr e) {
    return switch (e) {
      case Ast.Number n -> n.value() < 0 ? 8 : 10;
      case Ast.Bool b -> 10;
      case Ast.Name n -> 10;
      case Ast.Call c -> 10;
      case Ast.Unary u -> u.op() == Ast.UnaryOperator.NEG ? 8 : 4;
      case Ast.Binary b -> precedence(b.op());
      case Ast.Ternary t -> 1;
    };
  }

  private static int precedence(Ast.BinaryOperator op) {
    return switch (op) {
      case POW -> 9;
      case MUL, DIV, MOD -> 7;
      case ADD, SUB -> 6;
      case LT, LE, GT, GE, EQ, NE -> 5;
      case AND -> 3;
      case OR -> 2;
    };
  }

  private static String symbol(Ast.BinaryOperator op) {
    return switch (op) {
      case POW -> "^";
      case MUL -> "*";
      case DIV -> "/";
      case MOD -> "%";
      case ADD -> "+";
      case SUB -> "-";
      case LT -> "<";
      case LE -> "<=";
      case GT -> ">";
      case GE -> ">=";
      case EQ -> "==";
      case NE -> "!=";
      case AND -> "and";
      case OR -> "or";
    };
  }

  private static void print(Ast.Expr e, int min, StringBuilder sb) {
    boolean paren = precedence(e) < min;
    if (paren) {
      sb.append('(');
    }
    switch (e) {
      case Ast.Number n -> sb.append(n.value() < 0 ? "-" + number(-n.value(), n.text()) : number(n.value(), n.text()));
      case Ast.Bool b -> sb.append(b.value());
      case Ast.Name n -> sb.append(n.name());
      case Ast.Call c -> {
        sb.append(c.function().name()).append('(');
        for (int i = 0; i < c.args().size(); i++) {
          if (i > 0) {
            sb.append(", ");
          }
          print(c.args().get(i), 0, sb);
        }
        sb.append(')');
      }
      case Ast.Unary u -> {
        sb.append(u.op() == Ast.UnaryOperator.NEG ? "-" : "not ");
        print(u.operand(), u.op() == Ast.UnaryOperator.NEG ? 8 : 4, sb);
      }
      case Ast.Binary b -> {
        int p = precedence(b.op());
        boolean right = b.op() == Ast.BinaryOperator.POW;
        // comparisons do not chain in a readable way: parenthesize a comparison inside another
        print(b.left(), right || p == 5 ? p + 1 : p, sb);
        sb.append(' ').append(symbol(b.op())).append(' ');
        print(b.right(), right ? p : p + 1, sb);
      }
      case Ast.Ternary t -> {
        print(t.cond(), 2, sb);
        sb.append(" ? ");
        print(t.then(), 1, sb);
        sb.append(" : ");
        print(t.otherwise(), 1, sb);
      }
    }
    if (paren) {
      sb.append(')');
    }
  }

  /** The literal as written when it still has that value, else 4 significant digits. */
  private static String number(double v, String text) {
    if (text != null) {
      try {
        if (Double.parseDouble(text) == v) {
          return text;
        }
      } catch (NumberFormatException e) {
        // a made-up text: print the value
      }
    }
    return format(v);
  }

  /** {@code v ≥ 0} in at most 4 significant digits, in the language's number syntax. */
  static String format(double v) {
    if (v == 0) {
      return "0";
    }
    var s = new BigDecimal(v).round(new MathContext(4)).stripTrailingZeros();
    return s.scale() > 6 || s.precision() - s.scale() > 9 ? s.toString().replace("E+", "e").replace('E', 'e')
        : s.toPlainString();
  }

  // ---------------------------------------------------------------- making expressions

  static Ast.Expr num(double v) {
    return new Ast.Number(v, null, null);
  }

  static Ast.Expr name(String n) {
    return new Ast.Name(n, null);
  }

  static Ast.Expr call(String fn, Ast.Expr... args) {
    return new Ast.Call(new Ast.Ident(fn, null), List.of(args), null);
  }

  static Ast.Expr binary(Ast.BinaryOperator op, Ast.Expr a, Ast.Expr b) {
    return new Ast.Binary(op, a, b, null);
  }
}
