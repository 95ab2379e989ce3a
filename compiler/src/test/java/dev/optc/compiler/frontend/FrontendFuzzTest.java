package dev.optc.compiler.frontend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.diag.DiagnosticsCorpusTest;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Verifier;
import dev.optc.compiler.pass.Pipeline;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.Tuple;

/**
 * The frontend never throws, whatever the text (STYLE.md: "parser never throws"; DSL.md §9: problems are
 * diagnostics, never stack traces). Three sources of input:
 * <ul>
 *   <li>token soup: random sequences of the language's tokens and of things that are not, which mostly
 *       exercise the lexer, the parser's error recovery and {@link AstBuilder} on broken trees;
 *   <li>mutated library optimizers: almost-valid programs, which mostly reach the {@link Checker} with
 *       one or two mistakes in otherwise real code;
 *   <li>random well-formed programs: valid syntax with random names and operators, which reach the
 *       pass pipeline (folding of odd constants, kinds of row/col mixes, reductions of reductions).
 * </ul>
 * Every input is compiled with the IR verifier on after every pass; a program without errors must come
 * back non-null and verify; every diagnostic must lie inside the file and render.
 */
class FrontendFuzzTest {

  private static final Pipeline.Options VERIFY = new Pipeline.Options(null, true);

  private static final List<String> LIBRARY = List.of(
      "sgd", "adam", "adamw", "adagrad", "rmsprop", "nadam", "radam", "adamax", "adadelta", "lion", "adan");

  private static final List<String> KEYWORDS = List.of(
      "optimizer", "hyper", "state", "def", "metric", "as", "and", "or", "not", "true", "false");

  private static final List<String> OPERATORS = List.of(
      "=", "+=", "-=", "*=", "/=", "<", "<=", ">", ">=", "==", "!=", "+", "-", "*", "/", "^", "?", ":",
      ",", ";", "(", ")");

  /** Names the checker treats specially, plus a few ordinary ones so that declarations meet uses. */
  private static final List<String> NAMES = List.of(
      "w", "g", "t", "numel", "rows", "cols", "pi", "lr", "m", "v", "x", "beta1", "eps",
      "elem", "row", "col", "scalar", "f32", "bf16", "f16", "f64",
      "abs", "sign", "sqrt", "rsqrt", "exp", "log", "tanh", "sin", "cos", "min", "max", "clip", "lerp",
      "pow", "sum", "mean", "norm", "rms", "maxabs", "rowsum", "rowmean", "colsum", "colmean",
      "global_norm", "global_sum", "_", "__x9", "A1");

  private static final List<String> NUMBERS = List.of(
      "0", "1", "2", "0.5", ".5", "1.", "1e-8", "3E+2", "1e38", "3.4028235e38", "3.4028236e38", "1e39",
      "1e309", "1e-45", "1e-46", "1e-400", "4.9e-324", "0e0", "00000000000000000000001",
      "99999999999999999999999999999999999999999", "1e", "1e+", ".", "..5", "1.2.3", "0x1F");

  /**
   * Characters outside the language, and white space it must tolerate: Greek beta and the Unicode minus
   * (both pasted from papers), a no-break space, a zero-width space, a byte-order mark, an emoji (a
   * surrogate pair) and lone surrogates, control characters, and comments at odd places.
   */
  private static final List<String> ODD = List.of(
      "\t", "\r", "\r\n", "\n", "\f", "\u000b", "\u0000", "@", "$", "`", "'", "\"", "!", "&", "|", "~",
      "%", "[", "]", "{", "}", "\\", ".", "\u03b2", "\u2212", "\u20ac", "\u00a0", "\u200b", "\ufeff",
      "\ud83d\ude00", "\ud800", "\udc00", "#", "# comment\n", "#\r");

  // ------------------------------------------------------------------ properties

  @Property(tries = 1000)
  void tokenSoupNeverThrows(@ForAll("tokenSoup") String text) {
    assertWellBehaved(text);
  }

  @Property(tries = 1000)
  void mutatedLibraryProgramsNeverThrow(@ForAll("mutatedLibrary") String text) {
    assertWellBehaved(text);
  }

  @Property(tries = 1000)
  void randomWellFormedProgramsNeverThrow(@ForAll("wellFormed") String text) {
    assertWellBehaved(text);
  }

  /** The unmutated library compiles cleanly: otherwise the mutation property would test nothing. */
  @Property(tries = 11)
  void libraryProgramsCompile(@ForAll("libraryName") String name) {
    var result = Compiler.check(SourceFile.of(name + ".opt", library(name)), VERIFY);
    assertTrue(result.diagnostics().isEmpty(), () -> name + ": " + result.diagnostics());
    assertNotNull(result.program());
  }

  // ------------------------------------------------------------------ what fuzzing found

  /**
   * Found by {@link #randomWellFormedProgramsNeverThrow} (and fixed: Simplify now keeps kinds): folding
   * a reduction's argument to a uniform or constant ({@code true ? 1 : g} → 1, {@code g ^ 0} → 1,
   * {@code c ? t : w} → t) made rebuilding {@code sum(...)} over it throw InternalCompilerError out of
   * {@link Compiler#check}. The programs are valid: each argument is an elem value (DSL.md §5), so
   * {@code sum} of it is numel times the value.
   */
  @Example
  void reductionOfAnArgumentThatFoldsToAUniform() {
    assertWellBehaved("w -= g * sum(true ? 1 : g)\n");
    assertWellBehaved("w -= g * sum(g ^ 0)\n");
    assertWellBehaved("w -= g * norm(1 < 2 ? t : w)\n");
    assertWellBehaved("hyper lr = 1e-3\nw -= rowsum(false ? g : lr) * g\n");
  }

  /**
   * Found by {@link #tokenSoupNeverThrows}: ANTLR's {@code CharStreams.fromString} counts code points,
   * {@link SourceFile} counts UTF-16 chars, so every span after a character outside the BMP (an emoji,
   * or a mathematical italic beta, U+1D6FD, pasted from a paper into a comment) is one char early per
   * such character: columns drift, and after enough of them a diagnostic lands on the previous line.
   */
  @Example
  void spansAfterAnEmojiInACommentPointAtTheName() {
    var text = "# Adam \ud83d\ude80 (a rocket)\nhyper lr = 1e-3\nw -= lr * gg\n";
    var result = Compiler.check(SourceFile.of("emoji.opt", text), VERIFY);
    assertEquals(1, result.diagnostics().size(), () -> result.diagnostics().toString());
    var d = result.diagnostics().getFirst();
    assertEquals("gg", d.span().text(), () -> d.render(false));
    assertEquals(3, d.span().line());
    assertEquals(11, d.span().column());
  }

  static void assertWellBehaved(String text) {
    var file = SourceFile.of("fuzz.opt", text);
    // Any exception escaping check() fails the property: that is the main claim.
    var result = Compiler.check(file, VERIFY);
    assertNotNull(result.diagnostics());
    // Shown in jqwik's report: a property whose inputs never compile would never reach the passes.
    Statistics.collect(result.ok() ? "compiles" : "has errors");
    if (result.ok()) {
      assertNotNull(result.program(), "no error reported, but no program");
      Verifier.verify(result.program());
    }
    for (var d : result.diagnostics()) {
      var span = d.span();
      assertSame(file, span.file(), () -> "diagnostic in another file: " + d);
      assertTrue(0 <= span.start() && span.start() <= span.end() && span.end() <= text.length(),
          () -> "span " + span.start() + ".." + span.end() + " outside a file of " + text.length()
              + " chars: " + d);
      // The same shape as the corpus checks: header, source line, caret under the span, hint.
      DiagnosticsCorpusTest.assertRendering(d);
      var rendered = d.render(false);
      assertEquals(d.render(true).length(), rendered.length() + (" [" + d.code().id() + "]").length());
    }
  }

  // ------------------------------------------------------------------ token soup

  @Provide
  Arbitrary<String> tokenSoup() {
    Arbitrary<String> token = Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.of(KEYWORDS)),
        Tuple.of(8, Arbitraries.of(OPERATORS)),
        Tuple.of(8, Arbitraries.of(NAMES)),
        Tuple.of(3, Arbitraries.strings().withCharRange('a', 'z').withChars('_', '0', '9')
            .ofMinLength(1).ofMaxLength(12)),
        Tuple.of(4, Arbitraries.of(NUMBERS)),
        Tuple.of(3, Arbitraries.of(ODD)),
        Tuple.of(1, Arbitraries.strings().all().ofMaxLength(3)),
        Tuple.of(1, Arbitraries.integers().between(1, 3000).map("x"::repeat)),
        Tuple.of(1, Arbitraries.integers().between(1, 400).map("("::repeat)),
        Tuple.of(1, Arbitraries.integers().between(1, 400).map(")"::repeat)),
        Tuple.of(1, Arbitraries.integers().between(1, 200).map("-"::repeat)),
        Tuple.of(1, Arbitraries.integers().between(1, 400).map(n -> "1" + "^2".repeat(n))));
    Arbitrary<String> separator = Arbitraries.of(" ", " ", " ", "", "\n", "\t", ";", "\r\n", "  ");
    return Combinators.combine(token, separator).as((a, b) -> a + b)
        .list().ofMaxSize(60)
        .map(parts -> String.join("", parts));
  }

  // ------------------------------------------------------------------ mutated library programs

  /** One edit of a program's tokens or lines; the ints pick positions modulo the program's size. */
  enum Edit {
    DELETE_TOKEN, DUPLICATE_TOKEN, SWAP_TOKENS, REPLACE_NAME, INSERT_OPERATOR, INSERT_TOKEN,
    DELETE_LINE, DUPLICATE_LINE, SWAP_LINES, TRUNCATE
  }

  record Mutation(Edit edit, int at, int other, int pick) {}

  /** Tokens and the white space and comments between them, so that joining them gives the text back. */
  private static final Pattern PIECES = Pattern.compile(
      "#[^\\n]*|\\s+|[A-Za-z_][A-Za-z0-9_]*|[0-9]*\\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[+\\-*/<>=!]=|.");

  @Provide
  Arbitrary<String> libraryName() {
    return Arbitraries.of(LIBRARY);
  }

  @Provide
  Arbitrary<String> mutatedLibrary() {
    var mutation = Combinators.combine(
        Arbitraries.of(Edit.class),
        Arbitraries.integers().between(0, 100_000),
        Arbitraries.integers().between(0, 100_000),
        Arbitraries.integers().between(0, 100_000)).as(Mutation::new);
    return Combinators.combine(libraryName(), mutation.list().ofMinSize(1).ofMaxSize(4))
        .as((name, edits) -> mutate(library(name), edits));
  }

  static String mutate(String program, List<Mutation> mutations) {
    var text = program;
    for (var m : mutations) {
      text = apply(text, m);
    }
    return text;
  }

  private static String apply(String text, Mutation m) {
    return switch (m.edit()) {
      case DELETE_LINE, DUPLICATE_LINE, SWAP_LINES -> {
        var lines = new ArrayList<>(List.of(text.split("\n", -1)));
        int i = m.at() % lines.size();
        int j = m.other() % lines.size();
        switch (m.edit()) {
          case DELETE_LINE -> lines.remove(i);
          case DUPLICATE_LINE -> lines.add(j, lines.get(i));
          default -> {
            var s = lines.get(i);
            lines.set(i, lines.get(j));
            lines.set(j, s);
          }
        }
        yield String.join("\n", lines);
      }
      case TRUNCATE -> text.substring(0, m.at() % (text.length() + 1));
      default -> {
        var pieces = new ArrayList<String>();
        var matcher = PIECES.matcher(text);
        while (matcher.find()) {
          pieces.add(matcher.group());
        }
        // Only edit real tokens: editing white space or comments changes nothing interesting.
        var tokens = new ArrayList<Integer>();
        for (int k = 0; k < pieces.size(); k++) {
          var p = pieces.get(k);
          if (!p.isBlank() && !p.startsWith("#")) {
            tokens.add(k);
          }
        }
        if (tokens.isEmpty()) {
          yield text + pick(OPERATORS, m.pick());
        }
        int i = tokens.get(m.at() % tokens.size());
        int j = tokens.get(m.other() % tokens.size());
        switch (m.edit()) {
          case DELETE_TOKEN -> pieces.set(i, "");
          case DUPLICATE_TOKEN -> pieces.set(i, pieces.get(i) + " " + pieces.get(i));
          case SWAP_TOKENS -> {
            var s = pieces.get(i);
            pieces.set(i, pieces.get(j));
            pieces.set(j, s);
          }
          case REPLACE_NAME -> {
            // Another name of the same program (a plausible mix-up), a built-in, or a keyword.
            var names = new ArrayList<String>();
            for (int k : tokens) {
              if (Character.isLetter(pieces.get(k).charAt(0)) || pieces.get(k).charAt(0) == '_') {
                names.add(pieces.get(k));
              }
            }
            names.addAll(KEYWORDS);
            names.addAll(NAMES);
            pieces.set(i, pick(names, m.pick()));
          }
          case INSERT_OPERATOR -> pieces.set(i, pieces.get(i) + " " + pick(OPERATORS, m.pick()));
          case INSERT_TOKEN -> {
            var all = new ArrayList<String>();
            all.addAll(KEYWORDS);
            all.addAll(NUMBERS);
            all.addAll(ODD);
            pieces.set(i, pick(all, m.pick()) + pieces.get(i));
          }
          default -> throw new IllegalStateException(m.edit().name());
        }
        yield String.join("", pieces);
      }
    };
  }

  private static String pick(List<String> list, int i) {
    return list.get(i % list.size());
  }

  static String library(String name) {
    var resource = "/dev/optc/optimizers/" + name + ".opt";
    try (var in = FrontendFuzzTest.class.getResourceAsStream(resource)) {
      assertNotNull(in, () -> "no library resource " + resource);
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ------------------------------------------------------------------ random well-formed programs

  /**
   * Declarations of every kind of name, so that random statements after them mostly resolve and reach
   * the kind checks and the passes: states of every shape and dtype, and defs of one and two parameters.
   */
  private static final String PRELUDE = """
      hyper lr = 1e-3
      hyper b1 = 0.9
      hyper b2 = 1 - 1e-3
      hyper eps = 1e-8
      hyper k = true
      state m
      state v : elem as bf16 = eps
      state r : row as f16
      state c : col = 1 / numel
      state s : scalar = lr
      def f(a) = a * a + 1
      def h(a, b) = max(a, b) / (1 + abs(b))
      x = g
      y = lr * t
      u = rowmean(g)
      """;

  /**
   * A random program in the language's grammar: the {@link #PRELUDE}, then random assignments, metrics
   * and a few more declarations built from random expressions. Many still have kind or name errors
   * (an elem value stored into a row state, a reduction of a uniform), which is fine: the property is
   * about never throwing.
   */
  @Provide
  Arbitrary<String> wellFormed() {
    Arbitrary<String> statement = Arbitraries.frequencyOf(
        Tuple.of(1, Combinators.combine(Arbitraries.of("lr2", "k2"), constantExpression())
            .as((n, e) -> "hyper " + n + " = " + e)),
        Tuple.of(1, Combinators.combine(Arbitraries.of("m2", "r2"),
            Arbitraries.of("", " : elem", " : row", " : col", " : scalar"),
            Arbitraries.of("", " as f32", " as bf16", " as f16"),
            Arbitraries.of("", " = 0", " = 1", " = lr", " = numel", " = 1 / rows", " = rows * cols"))
            .as((n, shape, dtype, init) -> "state " + n + shape + dtype + init)),
        Tuple.of(1, Combinators.combine(Arbitraries.of("f2", "h2"),
            Arbitraries.of("a", "a, b", "a, b, c", ""), expression(3, DEF_NAMES))
            .as((n, params, body) -> "def " + n + "(" + params + ") = " + body)),
        Tuple.of(2, Combinators.combine(Arbitraries.of("n1", "n2"), expression(3))
            .as((n, e) -> "metric " + n + " = " + e)),
        Tuple.of(12, Combinators.combine(
            Arbitraries.of("w", "w", "g", "m", "v", "r", "c", "s", "x", "y", "u", "z"),
            Arbitraries.of("=", "=", "=", "+=", "-=", "*=", "/="), expression(4))
            .as((target, op, e) -> target + " " + op + " " + e)));
    return statement.list().ofMinSize(1).ofMaxSize(10).map(s -> PRELUDE + String.join("\n", s) + "\n");
  }

  private Arbitrary<String> constantExpression() {
    return Arbitraries.oneOf(Arbitraries.of(NUMBERS.subList(0, 17)), Arbitraries.of("true", "false"),
        Arbitraries.of("lr", "b1", "1 - b2", "-0.0", "0 / 0", "1 / 0", "2 ^ 200", "(1e-3)"));
  }

  /** Names a statement may read after the {@link #PRELUDE} (w, g, states, locals, hypers, built-ins). */
  private static final List<String> STATEMENT_NAMES = List.of("w", "g", "t", "numel", "rows", "cols", "pi",
      "lr", "b1", "b2", "eps", "k", "m", "v", "r", "c", "s", "x", "y", "u", "true", "false");

  /** Names a def body may read: its parameters, hypers and uniform built-ins. */
  private static final List<String> DEF_NAMES = List.of("a", "b", "c", "lr", "b1", "t", "numel", "pi");

  private Arbitrary<String> expression(int depth) {
    return expression(depth, STATEMENT_NAMES);
  }

  private Arbitrary<String> expression(int depth, List<String> names) {
    Arbitrary<String> leaf = Arbitraries.oneOf(Arbitraries.of(names),
        Arbitraries.of("0", "1", "2", "0.5", "1e-8", "1e38", "-0.0", "3.4028235e38", "1e-45"));
    if (depth == 0) {
      return leaf;
    }
    var sub = Arbitraries.lazy(() -> expression(depth - 1, names));
    return Arbitraries.frequencyOf(
        Tuple.of(3, leaf),
        Tuple.of(3, Combinators.combine(sub,
            Arbitraries.of("+", "-", "*", "/", "^", "<", "<=", ">", ">=", "==", "!=", "and", "or"), sub)
            .as((a, op, b) -> "(" + a + " " + op + " " + b + ")")),
        Tuple.of(1, sub.map(a -> "-" + a)),
        Tuple.of(1, sub.map(a -> "not " + a)),
        Tuple.of(1, Combinators.combine(sub, sub, sub)
            .as((c, a, b) -> "(" + c + " ? " + a + " : " + b + ")")),
        Tuple.of(2, Combinators.combine(Arbitraries.of("abs", "sign", "sqrt", "rsqrt", "exp", "log", "tanh",
            "sin", "cos", "sum", "mean", "norm", "rms", "maxabs", "rowsum", "rowmean", "colsum", "colmean",
            "global_norm", "global_sum", "f", "f2"), sub).as((fn, a) -> fn + "(" + a + ")")),
        Tuple.of(1, Combinators.combine(Arbitraries.of("min", "max", "pow", "h", "h2"), sub, sub)
            .as((fn, a, b) -> fn + "(" + a + ", " + b + ")")),
        Tuple.of(1, Combinators.combine(Arbitraries.of("clip", "lerp", "h2"), sub, sub, sub)
            .as((fn, a, b, c) -> fn + "(" + a + ", " + b + ", " + c + ")")));
  }
}
