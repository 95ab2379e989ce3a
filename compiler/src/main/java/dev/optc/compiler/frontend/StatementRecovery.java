package dev.optc.compiler.frontend;

import dev.optc.grammar.OptLexer;
import dev.optc.grammar.OptParser;
import java.util.List;
import org.antlr.v4.runtime.DefaultErrorStrategy;
import org.antlr.v4.runtime.InputMismatchException;
import org.antlr.v4.runtime.Parser;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Token;

/**
 * Error recovery at statement boundaries: after a syntax error the parser skips to the next token that
 * can only start a statement, so one mistake gives one error and the next correct line parses as
 * written (ANTLR's default recovery resynchronises on follow sets and would swallow or misread it).
 *
 * <p>A <em>statement start</em> is a declaration keyword ({@code optimizer hyper state input evaluate def
 * metric}) or a
 * name followed by an assignment operator (other than the name a declaration declares): in a valid
 * program nothing else can be followed by those, since newlines are white space and an expression is
 * never followed directly by a name. A line that begins like another language's statement ({@code for},
 * {@code while}, {@code if}, {@code else}) starts one too, so that it is reported as what it is. The tokens from
 * one statement start to the next form a <em>chunk</em>; {@link SyntaxParser} reports at most one error
 * per chunk.
 */
final class StatementRecovery extends DefaultErrorStrategy {
  private final boolean[] starts;
  private final int[] chunks;

  StatementRecovery(List<Token> tokens) {
    int n = tokens.size();
    starts = new boolean[n];
    chunks = new int[n];
    int chunk = 0;
    for (int i = 0; i < n; i++) {
      var token = tokens.get(i);
      int previous = i > 0 ? tokens.get(i - 1).getType() : Token.INVALID_TYPE;
      var next = i + 1 < n ? tokens.get(i + 1) : null;
      // A name starts one before an assignment, unless it is the name a declaration declares (hyper lr = ...).
      starts[i] = isDeclaration(token.getType()) || token.getType() == OptLexer.NAME
          && (next != null && isAssignment(next.getType()) && !isDeclaration(previous)
              || isForeignStatement(token, i == 0 ? null : tokens.get(i - 1), next));
      if (starts[i]) {
        chunk++;
      }
      chunks[i] = chunk;
    }
  }

  private static boolean isDeclaration(int type) {
    return switch (type) {
      case OptLexer.OPTIMIZER, OptLexer.HYPER, OptLexer.STATE, OptLexer.INPUT, OptLexer.EVALUATE, OptLexer.DEF,
          OptLexer.METRIC -> true;
      default -> false;
    };
  }

  /**
   * A statement of another language ({@code for i in ...}, {@code if c:}, {@code else:}): the first name on
   * its line, followed on the same line by something other than an assignment. Such a name could be a
   * variable only in a statement that is broken anyway (a name directly after an operand).
   */
  private static boolean isForeignStatement(Token name, Token previous, Token next) {
    return switch (name.getText()) {
      case "for", "while", "if", "elif", "else" -> (previous == null || previous.getLine() < name.getLine())
          && next != null && next.getType() != Token.EOF && next.getLine() == name.getLine();
      default -> false;
    };
  }

  private static boolean isAssignment(int type) {
    return switch (type) {
      case OptLexer.ASSIGN, OptLexer.PLUS_ASSIGN, OptLexer.MINUS_ASSIGN, OptLexer.STAR_ASSIGN,
          OptLexer.SLASH_ASSIGN -> true;
      default -> false;
    };
  }

  /** Whether the token at {@code index} can only start a statement. */
  boolean isStart(int index) {
    return index >= 0 && index < starts.length && starts[index];
  }

  /** The first statement start after {@code from} and at most {@code to}, or -1. */
  int nextStart(int from, int to) {
    for (int i = Math.max(from + 1, 0); i <= to && i < starts.length; i++) {
      if (starts[i]) {
        return i;
      }
    }
    return -1;
  }

  /** The chunk of the token at {@code index}: how many statement starts there are up to it. */
  int chunk(int index) {
    return index < 0 ? 0 : chunks[Math.min(index, chunks.length - 1)];
  }

  /** The statement being parsed when {@code parser} stopped, or null at the top level. */
  static OptParser.StatementContext statement(Parser parser) {
    for (ParserRuleContext c = parser.getContext(); c != null; c = c.getParent()) {
      if (c instanceof OptParser.StatementContext s) {
        return s;
      }
    }
    return null;
  }

  /** Skips to the next statement start (or the end), never past one. */
  @Override
  public void recover(Parser parser, RecognitionException e) {
    var input = parser.getInputStream();
    while (input.LA(1) != Token.EOF && !isStart(input.index())) {
      parser.consume();
    }
  }

  /**
   * ANTLR's check before a loop iteration or a block, reporting early with the full set of tokens
   * expected there. At the top level a token that starts no statement (a stray ')' after a complete
   * one) is reported and skipped up to the next statement start; inside a statement the error is thrown
   * to the rule, whose {@link #recover} skips the same way (ANTLR's own skipping could swallow the next
   * statement).
   */
  @Override
  public void sync(Parser parser) {
    if (inErrorRecoveryMode(parser)) {
      return;
    }
    var input = parser.getInputStream();
    var next = parser.getATN().nextTokens(parser.getInterpreter().atn.states.get(parser.getState()));
    if (next.contains(input.LA(1)) || next.contains(Token.EPSILON)) {
      return;
    }
    if (parser.getContext() instanceof OptParser.ProgramContext) {
      beginErrorCondition(parser);
      parser.notifyErrorListeners(parser.getCurrentToken(), "extraneous input", null);
      recover(parser, null);
      return;
    }
    if (singleTokenDeletion(parser) != null) {
      return;
    }
    throw new InputMismatchException(parser);
  }

  /** Deletes a stray token to go on, but never the start of the next statement. */
  @Override
  protected Token singleTokenDeletion(Parser parser) {
    return isStart(parser.getInputStream().index()) ? null : super.singleTokenDeletion(parser);
  }
}
