package dev.optc.compiler.frontend;

import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.diag.Span;
import dev.optc.grammar.OptBaseVisitor;
import dev.optc.grammar.OptParser;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.tree.ErrorNode;
import org.antlr.v4.runtime.tree.ParseTree;

/**
 * Turns ANTLR's parse tree into the {@link Ast}: the only class besides {@link SyntaxParser} that sees
 * ANTLR types. Statements that had syntax errors become {@link Ast.Invalid}.
 */
final class AstBuilder extends OptBaseVisitor<Object> {
  private final SourceFile file;
  private final SyntaxParser.Offsets offsets;

  AstBuilder(SourceFile file, SyntaxParser.Offsets offsets) {
    this.file = file;
    this.offsets = offsets;
  }

  Ast.Program program(OptParser.ProgramContext ctx) {
    var statements = new ArrayList<Ast.Stmt>();
    for (var s : ctx.statement()) {
      statements.add(hasError(s) ? invalid(s) : (Ast.Stmt) visit(s));
    }
    return new Ast.Program(file, statements, file.span(0, file.text().length()));
  }

  private Ast.Invalid invalid(OptParser.StatementContext s) {
    Token name = switch (s) {
      case OptParser.HyperDeclContext h -> h.name;
      case OptParser.StateDeclContext st -> st.name;
      case OptParser.InputDeclContext in -> in.name;
      case OptParser.EvaluateDeclContext e -> null;
      case OptParser.DefDeclContext d -> d.name;
      case OptParser.MetricDeclContext m -> m.name;
      case OptParser.AssignContext a -> a.target;
      default -> null;
    };
    var declares = name == null || name.getTokenIndex() < 0 || name.getStartIndex() < 0
        ? null : ident(name);
    return new Ast.Invalid(declares, span(s));
  }

  /**
   * Whether error recovery touched this subtree: a missing/extra token, a failed alternative, or a token
   * ANTLR invented (its index is -1; recovering a set match such as the assignment operator adds no error
   * node).
   */
  private static boolean hasError(ParseTree root) {
    // An explicit stack: a sum of 100,000 terms is a parse tree 100,000 levels deep.
    var stack = new ArrayDeque<ParseTree>();
    stack.push(root);
    while (!stack.isEmpty()) {
      var t = stack.pop();
      if (t instanceof ErrorNode) {
        return true;
      }
      if (t instanceof OptParser.AssignContext a && (a.op == null || a.op.getTokenIndex() < 0)) {
        return true;
      }
      if (t instanceof org.antlr.v4.runtime.tree.TerminalNode term && term.getSymbol().getTokenIndex() < 0) {
        return true;
      }
      if (t instanceof ParserRuleContext ctx) {
        if (ctx.exception != null) {
          return true;
        }
        for (int i = ctx.getChildCount() - 1; i >= 0; i--) {
          stack.push(ctx.getChild(i));
        }
      }
    }
    return false;
  }

  private Span span(ParserRuleContext ctx) {
    int start = offsets.start(ctx.getStart());
    var stop = ctx.getStop();
    int end = stop == null || stop.getStopIndex() < ctx.getStart().getStartIndex() ? start : offsets.end(stop);
    return file.span(start, end);
  }

  private Ast.Ident ident(Token t) {
    return new Ast.Ident(t.getText(), file.span(offsets.start(t), offsets.end(t)));
  }

  private Ast.Expr expr(OptParser.ExprContext ctx) {
    return (Ast.Expr) visit(ctx);
  }

  @Override
  public Object visitOptimizerDecl(OptParser.OptimizerDeclContext ctx) {
    return new Ast.OptimizerDecl(ident(ctx.name), span(ctx));
  }

  @Override
  public Object visitHyperDecl(OptParser.HyperDeclContext ctx) {
    return new Ast.HyperDecl(ident(ctx.name), expr(ctx.expr()), span(ctx));
  }

  @Override
  public Object visitStateDecl(OptParser.StateDeclContext ctx) {
    return new Ast.StateDecl(ident(ctx.name), ctx.shape == null ? null : ident(ctx.shape),
        ctx.dtype == null ? null : ident(ctx.dtype), ctx.init == null ? null : expr(ctx.init), span(ctx));
  }

  @Override
  public Object visitInputDecl(OptParser.InputDeclContext ctx) {
    return new Ast.InputDecl(ident(ctx.name), span(ctx));
  }

  @Override
  public Object visitEvaluateDecl(OptParser.EvaluateDeclContext ctx) {
    return new Ast.EvaluateDecl(ident(ctx.name), span(ctx));
  }

  @Override
  public Object visitDefDecl(OptParser.DefDeclContext ctx) {
    List<Ast.Ident> params = ctx.params.stream().map(this::ident).toList();
    return new Ast.DefDecl(ident(ctx.name), params, expr(ctx.expr()), span(ctx));
  }

  @Override
  public Object visitMetricDecl(OptParser.MetricDeclContext ctx) {
    return new Ast.MetricDecl(ident(ctx.name), expr(ctx.expr()), span(ctx));
  }

  @Override
  public Object visitAssign(OptParser.AssignContext ctx) {
    var op = switch (ctx.op.getType()) {
      case OptParser.ASSIGN -> Ast.AssignOp.SET;
      case OptParser.PLUS_ASSIGN -> Ast.AssignOp.ADD;
      case OptParser.MINUS_ASSIGN -> Ast.AssignOp.SUB;
      case OptParser.STAR_ASSIGN -> Ast.AssignOp.MUL;
      case OptParser.SLASH_ASSIGN -> Ast.AssignOp.DIV;
      default -> throw new IllegalStateException("assignment operator " + ctx.op.getText());
    };
    return new Ast.Assign(ident(ctx.target), op, expr(ctx.expr()), span(ctx));
  }

  @Override
  public Object visitCall(OptParser.CallContext ctx) {
    List<Ast.Expr> args = ctx.args.stream().map(this::expr).toList();
    return new Ast.Call(ident(ctx.fn), args, span(ctx));
  }

  @Override
  public Object visitParen(OptParser.ParenContext ctx) {
    return expr(ctx.expr());
  }

  @Override
  public Object visitNameRef(OptParser.NameRefContext ctx) {
    return new Ast.Name(ctx.NAME().getText(), span(ctx));
  }

  @Override
  public Object visitNumber(OptParser.NumberContext ctx) {
    var text = ctx.NUMBER().getText();
    return new Ast.Number(Double.parseDouble(text), text, span(ctx));
  }

  @Override
  public Object visitBool(OptParser.BoolContext ctx) {
    return new Ast.Bool(ctx.TRUE() != null, span(ctx));
  }

  @Override
  public Object visitPower(OptParser.PowerContext ctx) {
    return binary(Ast.BinaryOperator.POW, ctx.left, ctx.right, ctx);
  }

  @Override
  public Object visitNegate(OptParser.NegateContext ctx) {
    return new Ast.Unary(Ast.UnaryOperator.NEG, expr(ctx.expr()), span(ctx));
  }

  @Override
  public Object visitNot(OptParser.NotContext ctx) {
    return new Ast.Unary(Ast.UnaryOperator.NOT, expr(ctx.expr()), span(ctx));
  }

  @Override
  public Object visitMultiplicative(OptParser.MultiplicativeContext ctx) {
    return leftAssociative(ctx);
  }

  @Override
  public Object visitAdditive(OptParser.AdditiveContext ctx) {
    return leftAssociative(ctx);
  }

  @Override
  public Object visitComparison(OptParser.ComparisonContext ctx) {
    return leftAssociative(ctx);
  }

  @Override
  public Object visitAnd(OptParser.AndContext ctx) {
    return leftAssociative(ctx);
  }

  @Override
  public Object visitOr(OptParser.OrContext ctx) {
    return leftAssociative(ctx);
  }

  @Override
  public Object visitTernary(OptParser.TernaryContext ctx) {
    return new Ast.Ternary(expr(ctx.cond), expr(ctx.then), expr(ctx.otherwise), span(ctx));
  }

  /**
   * A chain of left-associative operators ({@code a + b - c * d < e ...}) without recursing down its
   * left spine: the parse tree of a sum of n terms is n levels deep, which a recursive visit would
   * have to hold on the stack. Right operands are visited as usual (their depth is the parser's).
   */
  private Ast.Expr leftAssociative(OptParser.ExprContext top) {
    var spine = new ArrayList<OptParser.ExprContext>();
    var e = top;
    while (leftOperand(e) != null) {
      spine.add(e);
      e = leftOperand(e);
    }
    var result = expr(e);
    for (int i = spine.size() - 1; i >= 0; i--) {
      var ctx = spine.get(i);
      result = new Ast.Binary(operator(ctx), result, expr(rightOperand(ctx)), span(ctx));
    }
    return result;
  }

  /** The left operand of a left-associative binary operator, or null for any other expression. */
  private static OptParser.ExprContext leftOperand(OptParser.ExprContext e) {
    return switch (e) {
      case OptParser.MultiplicativeContext m -> m.left;
      case OptParser.AdditiveContext a -> a.left;
      case OptParser.ComparisonContext c -> c.left;
      case OptParser.AndContext a -> a.left;
      case OptParser.OrContext o -> o.left;
      default -> null;
    };
  }

  private static OptParser.ExprContext rightOperand(OptParser.ExprContext e) {
    return switch (e) {
      case OptParser.MultiplicativeContext m -> m.right;
      case OptParser.AdditiveContext a -> a.right;
      case OptParser.ComparisonContext c -> c.right;
      case OptParser.AndContext a -> a.right;
      case OptParser.OrContext o -> o.right;
      default -> throw new IllegalStateException("not a left-associative operator: " + e.getText());
    };
  }

  private static Ast.BinaryOperator operator(OptParser.ExprContext e) {
    return switch (e) {
      case OptParser.MultiplicativeContext m ->
          switch (m.op.getType()) {
            case OptParser.STAR -> Ast.BinaryOperator.MUL;
            case OptParser.SLASH -> Ast.BinaryOperator.DIV;
            case OptParser.PERCENT -> Ast.BinaryOperator.MOD;
            default -> throw new IllegalStateException("multiplicative " + m.op.getText());
          };
      case OptParser.AdditiveContext a ->
          a.op.getType() == OptParser.PLUS ? Ast.BinaryOperator.ADD : Ast.BinaryOperator.SUB;
      case OptParser.ComparisonContext c -> switch (c.op.getType()) {
        case OptParser.LT -> Ast.BinaryOperator.LT;
        case OptParser.LE -> Ast.BinaryOperator.LE;
        case OptParser.GT -> Ast.BinaryOperator.GT;
        case OptParser.GE -> Ast.BinaryOperator.GE;
        case OptParser.EQ -> Ast.BinaryOperator.EQ;
        case OptParser.NE -> Ast.BinaryOperator.NE;
        default -> throw new IllegalStateException("comparison " + c.op.getText());
      };
      case OptParser.AndContext a -> Ast.BinaryOperator.AND;
      case OptParser.OrContext o -> Ast.BinaryOperator.OR;
      default -> throw new IllegalStateException("not a left-associative operator: " + e.getText());
    };
  }

  private Ast.Binary binary(Ast.BinaryOperator op, OptParser.ExprContext l, OptParser.ExprContext r,
      ParserRuleContext ctx) {
    return new Ast.Binary(op, expr(l), expr(r), span(ctx));
  }
}
