package dev.optc.compiler.frontend;

import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.diag.Span;
import java.util.List;

/** The syntax tree of a {@code .opt} file: records with source spans, built by {@link AstBuilder}. */
public sealed interface Ast {

  Span span();

  record Program(SourceFile file, List<Stmt> statements, Span span) implements Ast {
    public Program {
      statements = List.copyOf(statements);
    }
  }

  record Ident(String name, Span span) implements Ast {}

  sealed interface Stmt extends Ast {}

  record OptimizerDecl(Ident name, Span span) implements Stmt {}

  record HyperDecl(Ident name, Expr value, Span span) implements Stmt {}

  /** {@code shape}, {@code dtype} and {@code init} are null when not written. */
  record StateDecl(Ident name, Ident shape, Ident dtype, Expr init, Span span) implements Stmt {}

  /** {@code input NAME}: a per-element tensor the caller supplies each step, read-only (DSL.md §11). */
  record InputDecl(Ident name, Span span) implements Stmt {}

  /**
   * {@code evaluate NAME}: the state that holds the point a model is evaluated at (Schedule-Free's {@code x};
   * DSL.md §11); without it, {@code w}.
   */
  record EvaluateDecl(Ident name, Span span) implements Stmt {}

  record DefDecl(Ident name, List<Ident> params, Expr body, Span span) implements Stmt {
    public DefDecl {
      params = List.copyOf(params);
    }
  }

  record MetricDecl(Ident name, Expr value, Span span) implements Stmt {}

  record Assign(Ident target, AssignOp op, Expr value, Span span) implements Stmt {}

  /**
   * A statement that did not parse (already reported). It keeps the name it would have declared or
   * assigned, if any, so that later uses of that name do not report it as unknown as well.
   */
  record Invalid(Ident declares, Span span) implements Stmt {}

  enum AssignOp {
    SET("="),
    ADD("+="),
    SUB("-="),
    MUL("*="),
    DIV("/=");

    private final String symbol;

    AssignOp(String symbol) {
      this.symbol = symbol;
    }

    public String symbol() {
      return symbol;
    }
  }

  sealed interface Expr extends Ast {}

  /** A numeric literal as written; {@code value} is its float64 value. */
  record Number(double value, String text, Span span) implements Expr {}

  record Bool(boolean value, Span span) implements Expr {}

  record Name(String name, Span span) implements Expr {}

  record Call(Ident function, List<Expr> args, Span span) implements Expr {
    public Call {
      args = List.copyOf(args);
    }
  }

  record Unary(UnaryOperator op, Expr operand, Span span) implements Expr {}

  record Binary(BinaryOperator op, Expr left, Expr right, Span span) implements Expr {}

  record Ternary(Expr cond, Expr then, Expr otherwise, Span span) implements Expr {}

  enum UnaryOperator {
    NEG,
    NOT
  }

  enum BinaryOperator {
    POW, MUL, DIV, MOD, ADD, SUB, LT, LE, GT, GE, EQ, NE, AND, OR
  }
}
