package dev.optc.compiler.frontend;

import dev.optc.compiler.diag.DiagnosticCode;
import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.grammar.OptLexer;
import dev.optc.grammar.OptParser;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import org.antlr.v4.runtime.BaseErrorListener;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.CommonTokenStream;
import org.antlr.v4.runtime.Parser;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Recognizer;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.misc.IntervalSet;

/**
 * Parses a file into an {@link Ast.Program}. ANTLR's console error listeners are replaced by one that
 * turns every syntax error into a positioned {@link DiagnosticCode#SYNTAX} diagnostic (Trino's way), so a
 * file with several broken statements reports each of them; {@link StatementRecovery} resynchronises at
 * statement boundaries, so each broken statement reports one error and no correct line gets a follow-on.
 */
public final class SyntaxParser {
  private SyntaxParser() {}

  /**
   * ANTLR counts code points, Java strings count chars: they differ after a character outside the BMP
   * (an emoji in a comment, a mathematical 𝛽). Maps a code point index to a char offset.
   */
  static final class Offsets {
    private final int[] charAt;

    Offsets(String text) {
      if (text.codePoints().count() == text.length()) {
        charAt = null;
        return;
      }
      charAt = new int[text.codePointCount(0, text.length()) + 1];
      int cp = 0;
      for (int i = 0; i < text.length(); i = text.offsetByCodePoints(i, 1)) {
        charAt[cp++] = i;
      }
      charAt[cp] = text.length();
    }

    int of(int codePoint) {
      return charAt == null || codePoint < 0 ? codePoint : charAt[Math.min(codePoint, charAt.length - 1)];
    }

    /** The char span of a token: [start, end). */
    int start(Token t) {
      return of(t.getStartIndex());
    }

    int end(Token t) {
      return of(t.getStopIndex() + 1);
    }
  }

  public static Ast.Program parse(SourceFile file, Diagnostics diagnostics) {
    var offsets = new Offsets(file.text());
    var lexer = new OptLexer(CharStreams.fromString(file.text(), file.name()));
    lexer.removeErrorListeners();
    var tokens = new CommonTokenStream(lexer);
    tokens.fill();
    var recovery = new StatementRecovery(tokens.getTokens());
    var brokenChunks = new HashSet<Integer>();
    for (var t : tokens.getTokens()) {
      // One error per statement: a second bad character in it is a follow-on.
      if (t.getType() == OptLexer.UNEXPECTED_CHAR && brokenChunks.add(recovery.chunk(t.getTokenIndex()))) {
        diagnostics.report(DiagnosticCode.BAD_CHARACTER, file.span(offsets.start(t), offsets.end(t)),
            "unexpected character '" + printable(t.getText()) + "'", badCharacterHint(t.getText()));
      }
    }
    var parser = new OptParser(tokens);
    parser.removeErrorListeners();
    parser.setErrorHandler(recovery);
    parser.addErrorListener(new Collector(file, diagnostics, brokenChunks, offsets, recovery));
    var tree = parser.program();
    return new AstBuilder(file, offsets).program(tree);
  }

  /** What to write instead of a character the language lacks. */
  private static String badCharacterHint(String c) {
    return switch (c) {
      case "@" -> "matrix products are not supported: every operation applies element by element";
      case "&", "|", "!" -> "logical operators are the words and, or, not";
      default -> "names are letters, digits and '_'; '#' starts a comment";
    };
  }

  private static String printable(String s) {
    var sb = new StringBuilder();
    s.codePoints().forEach(c -> {
      int type = Character.getType(c);
      if (c < 0x20 || c == 0x7f || Character.isWhitespace(c) || Character.isSpaceChar(c)
          || type == Character.FORMAT || type == Character.CONTROL || type == Character.LINE_SEPARATOR
          || type == Character.PARAGRAPH_SEPARATOR) {
        sb.append(String.format("U+%04X", c));
      } else {
        sb.appendCodePoint(c);
      }
    });
    return sb.toString();
  }

  private static final class Collector extends BaseErrorListener {
    private final SourceFile file;
    private final Diagnostics diagnostics;
    /** The chunks (statements, see {@link StatementRecovery}) that have their error already. */
    private final Set<Integer> brokenChunks;
    private final Offsets offsets;
    private final StatementRecovery recovery;
    /** Whether the last construct reported as missing was an if (its else is not reported again). */
    private boolean ifReported;

    Collector(SourceFile file, Diagnostics diagnostics, Set<Integer> brokenChunks, Offsets offsets,
        StatementRecovery recovery) {
      this.file = file;
      this.diagnostics = diagnostics;
      this.brokenChunks = brokenChunks;
      this.offsets = offsets;
      this.recovery = recovery;
    }

    @Override
    public void syntaxError(Recognizer<?, ?> recognizer, Object offendingSymbol, int line,
        int charPositionInLine, String msg, RecognitionException e) {
      if (!(offendingSymbol instanceof Token token)) {
        return;
      }
      var statement = recognizer instanceof Parser p ? StatementRecovery.statement(p) : null;
      var first = statement == null ? null : statement.getStart();
      int index = token.getTokenIndex();
      // One error per statement: what follows the first is a consequence of it.
      if (!brokenChunks.add(recovery.chunk(first != null && first.getTokenIndex() < index ? first.getTokenIndex()
          : index))) {
        return;
      }
      if (first != null && first.getType() == OptLexer.NAME && first.getTokenIndex() < index) {
        var missing = switch (first.getText()) {
          case "for", "while" -> "the language has no loops";
          case "if", "else", "elif" -> "the language has no if statements";
          default -> null;
        };
        if (missing != null) {
          if (first.getText().startsWith("el") && ifReported) {
            return; // the rest of an if statement already reported
          }
          ifReported = missing.endsWith("if statements");
          diagnostics.report(DiagnosticCode.SYNTAX, file.span(offsets.start(first), offsets.end(first)), missing,
              missing.endsWith("loops") ? "statements apply to whole tensors, once per step"
                  : "choose between values with a conditional expression: cond ? a : b");
          return;
        }
      }
      var expected = recognizer instanceof Parser p ? expected(p) : "";
      // Where the next statement starts, if the parser went on into it: inside this statement, or (at the
      // top level) the name just before a stray '=' that the previous statement took as its last operand.
      int next = first != null ? recovery.nextStart(first.getTokenIndex(), index)
          : recovery.isStart(index - 1) ? index - 1 : -1;
      if (next > 0) {
        // The next statement begins before this one is complete: say so where this one stops.
        var stream = ((Parser) recognizer).getInputStream();
        var last = stream.get(next - 1);
        var hint = next == index ? (expected.isEmpty() ? null : "expected " + expected)
            : "line " + stream.get(next).getLine() + " starts a new statement";
        diagnostics.report(DiagnosticCode.SYNTAX, file.span(offsets.start(last), offsets.end(last)),
            "incomplete statement: it ends after " + describe(last), hint);
        return;
      }
      // The end of the file is shown just after its last text, not on an empty line after it.
      int start = token.getType() == Token.EOF ? file.text().stripTrailing().length() : offsets.start(token);
      int end = token.getType() == Token.EOF ? start : offsets.end(token);
      String message;
      String hint;
      if (token.getType() == Token.EOF) {
        message = "unexpected end of file";
        hint = expected.isEmpty() ? "the last statement is incomplete" : "expected " + expected;
      } else {
        message = "unexpected " + describe(token);
        hint = expected.isEmpty() ? null : "expected " + expected;
        if (isKeyword(token.getType()) && expected.contains("a name")) {
          hint = "'" + token.getText() + "' is a keyword and cannot be used as a name";
        }
      }
      diagnostics.report(DiagnosticCode.SYNTAX, file.span(start, end), message, hint);
    }

    private static String describe(Token t) {
      return switch (t.getType()) {
        case OptLexer.NUMBER -> "number '" + t.getText() + "'";
        case OptLexer.NAME -> "name '" + t.getText() + "'";
        default -> "'" + printable(t.getText()) + "'";
      };
    }

    private static boolean isKeyword(int type) {
      return switch (type) {
        case OptLexer.OPTIMIZER, OptLexer.HYPER, OptLexer.STATE, OptLexer.INPUT, OptLexer.EVALUATE, OptLexer.DEF,
            OptLexer.METRIC, OptLexer.AS, OptLexer.AND, OptLexer.OR, OptLexer.NOT, OptLexer.TRUE,
            OptLexer.FALSE -> true;
        default -> false;
      };
    }

    /** The expected tokens in words, or "" when there are too many to be useful. */
    private static String expected(Parser p) {
      IntervalSet set;
      try {
        set = p.getExpectedTokens();
      } catch (RuntimeException e) {
        return "";
      }
      var words = new TreeSet<String>();
      boolean expression = false;
      for (int type : set.toArray()) {
        switch (type) {
          case OptLexer.NAME -> words.add("a name");
          case OptLexer.NUMBER, OptLexer.LPAREN, OptLexer.TRUE, OptLexer.FALSE, OptLexer.MINUS,
              OptLexer.NOT -> expression = true;
          case Token.EOF -> words.add("a new statement");
          default -> words.add(p.getVocabulary().getLiteralName(type) == null
              ? p.getVocabulary().getDisplayName(type) : p.getVocabulary().getLiteralName(type));
        }
      }
      if (expression) {
        words.remove("a name");
        words.add("an expression");
      }
      if (words.size() > 6) {
        return "";
      }
      return String.join(" or ", words);
    }
  }
}
