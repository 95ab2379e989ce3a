package dev.optc.compiler.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.pass.Pipeline;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Diagnostics tested with expectations written inline in {@code .opt} files (jlox's and Triton's way):
 * every file in {@code src/test/resources/diagnostics/} is a small program with mistakes, and each
 * line where a diagnostic is expected ends with a marker comment:
 *
 * <pre>
 *   u = sign(beta*m)   # error E010: unknown name 'beta'
 *   hyper amsgrad = 0  # warning W101
 *   x = q + r          # error E010: 'q' # error E010: 'r'
 * </pre>
 *
 * <p>The text after the colon, up to the next {@code #} or the end of the line, must occur in the
 * message. The reported (line, code) pairs must equal the markers exactly, as a multiset: a missing
 * diagnostic and an extra one (a cascade) both fail. A diagnostic at the end of the file is expected on
 * the file's last line. Files in {@code golden/} are compared with their full rendering instead.
 *
 * <p>To add a diagnostic code, add a file {@code <code>_<what>.opt}: {@link #everyCodeHasACorpusFile()}
 * fails until one exists.
 */
public class DiagnosticsCorpusTest {

  /** {@code # error E010} or {@code # warning W101: message text}; the text stops at the next '#'. */
  private static final Pattern MARKER =
      Pattern.compile("#\\s*(error|warning)\\s+([EW]\\d{3})\\b(?:\\s*:([^#]*))?");

  private static final Pipeline.Options VERIFY = new Pipeline.Options(null, true);

  private static final Path CORPUS = resource("/diagnostics");
  private static final Path GOLDEN = CORPUS.resolve("golden");
  /** Where {@code -Dgolden.update=true} writes: the source tree, as Maven runs tests in the module. */
  private static final Path GOLDEN_SOURCE = Path.of("src/test/resources/diagnostics/golden");

  /** One marker: a diagnostic of {@code code} on {@code line}, whose message contains {@code text}. */
  record Expected(int line, DiagnosticCode code, String text) {}

  // ------------------------------------------------------------------ the corpus

  @TestFactory
  Stream<DynamicTest> corpus() {
    return corpusFiles().stream()
        .map(path -> DynamicTest.dynamicTest(path.getFileName().toString(), () -> checkFile(path)));
  }

  private static void checkFile(Path path) {
    var file = SourceFile.of(path.getFileName().toString(), read(path));
    var expected = markers(file);
    var result = Compiler.check(file, VERIFY);
    var actual = result.diagnostics();
    var report = render(actual);

    assertEquals(keys(expected.stream().map(e -> e.line() + ": " + e.code().id())),
        keys(actual.stream().map(d -> reportedLine(d) + ": " + d.code().id())),
        () -> file.name() + ": reported (line: code) differ from the markers; reported:\n" + report);

    // Pair each marker that names a message with a distinct diagnostic of its line and code.
    var unused = new ArrayList<>(actual);
    for (var e : expected.stream().filter(e -> e.text() != null).toList()) {
      var match = unused.stream()
          .filter(d -> reportedLine(d) == e.line() && d.code() == e.code() && d.message().contains(e.text()))
          .findFirst();
      if (match.isEmpty()) {
        fail(file.name() + ":" + e.line() + ": no " + e.code().id() + " whose message contains '" + e.text()
            + "'; reported:\n" + report);
      }
      unused.remove(match.get());
    }

    actual.forEach(DiagnosticsCorpusTest::assertRendering);
    assertEquals(result.ok(), result.program() != null, "a program comes back exactly without errors");
    if (expected.stream().noneMatch(e -> e.code().severity() == Severity.ERROR)) {
      assertTrue(result.ok(), () -> file.name() + " has only warnings but does not compile:\n" + report);
    }
  }

  /** The corpus file's name says which code it is about; it must expect that code. */
  @TestFactory
  Stream<DynamicTest> fileNamesMatchTheirMarkers() {
    return corpusFiles().stream()
        .filter(p -> p.getFileName().toString().matches("[EW]\\d{3}_.*"))
        .map(p -> DynamicTest.dynamicTest(p.getFileName().toString(), () -> {
          var code = DiagnosticCode.byId(p.getFileName().toString().substring(0, 4));
          var file = SourceFile.of(p.getFileName().toString(), read(p));
          assertTrue(markers(file).stream().anyMatch(e -> e.code() == code),
              () -> file.name() + " is named after " + code.id() + " but has no marker for it");
        }));
  }

  @Test
  void everyCodeHasACorpusFile() {
    var covered = EnumSet.noneOf(DiagnosticCode.class);
    for (var p : corpusFiles()) {
      markers(SourceFile.of(p.getFileName().toString(), read(p))).forEach(e -> covered.add(e.code()));
    }
    var missing = EnumSet.complementOf(covered);
    assertTrue(missing.isEmpty(), () -> "no corpus file expects "
        + missing.stream().map(c -> c.id() + " (" + c.summary() + ")").collect(Collectors.joining(", "))
        + ": add src/test/resources/diagnostics/<code>_<what>.opt");
  }

  // ------------------------------------------------------------------ golden renderings

  /** The whole rendered output of each {@code golden/<case>.opt} equals {@code golden/<case>.expected}. */
  @TestFactory
  Stream<DynamicTest> golden() throws IOException {
    List<Path> cases;
    try (var files = Files.list(GOLDEN)) {
      cases = files.filter(p -> p.toString().endsWith(".opt")).sorted().toList();
    }
    assertTrue(!cases.isEmpty(), "no golden cases in " + GOLDEN);
    return cases.stream().map(path -> DynamicTest.dynamicTest(path.getFileName().toString(), () -> {
      var name = path.getFileName().toString();
      var actual = render(Compiler.check(SourceFile.of(name, read(path)), VERIFY).diagnostics());
      var expectedName = name.replaceFirst("\\.opt$", ".expected");
      if (Boolean.getBoolean("golden.update")) {
        Files.writeString(GOLDEN_SOURCE.resolve(expectedName), actual);
        return;
      }
      assertEquals(read(GOLDEN.resolve(expectedName)), actual, name);
    }));
  }

  /**
   * DSL.md §9's example, character for character. It is spelled out here, and not only in a golden
   * file, so that {@code -Dgolden.update=true} cannot quietly change what the language promises.
   */
  @Test
  void dslSection9Example() {
    var expected = """
        lion.opt:7:10: error: unknown name 'beta'
            u = sign(beta*m + (1-beta1)*g)
                     ^~~~
          hint: did you mean 'beta1' or 'beta2'?
        """;
    var result = Compiler.check(SourceFile.of("lion.opt", read(GOLDEN.resolve("lion.opt"))), VERIFY);
    assertEquals(expected, render(result.diagnostics()));
  }

  // ------------------------------------------------------------------ rendering details

  /** Windows line endings: the '\r' is not part of the shown line, and columns are unchanged. */
  @Test
  void crlfLinesRenderWithoutCarriageReturn() {
    var text = "hyper lr = 1e-3\r\nstate m\r\nm = lerp(g, m, beta)\r\nw -= lr * m\r\n";
    var result = Compiler.check(SourceFile.of("crlf.opt", text), VERIFY);
    assertEquals(1, result.diagnostics().size(), () -> render(result.diagnostics()));
    var d = result.diagnostics().getFirst();
    assertEquals(DiagnosticCode.UNKNOWN_NAME, d.code());
    assertEquals("""
        crlf.opt:3:16: error: unknown name 'beta'
            m = lerp(g, m, beta)
                           ^~~~
        """, d.render(false));
  }

  /** {@code render(true)} appends the stable code to the first line and changes nothing else. */
  @Test
  void renderWithCodeAddsTheCode() {
    var result = Compiler.check(SourceFile.of("lion.opt", read(GOLDEN.resolve("lion.opt"))), VERIFY);
    var d = result.diagnostics().getFirst();
    var plain = d.render(false).split("\n", 2);
    var coded = d.render(true).split("\n", 2);
    assertEquals(plain[0] + " [E010]", coded[0]);
    assertEquals(plain[1], coded[1]);
  }

  /**
   * Every rendered diagnostic is: {@code file:line:col: error|warning: message}, the source line
   * indented by four spaces, a caret line whose '^' sits under the span's first character (tabs copied
   * so that it lines up) followed by '~' to the span's end on that line, and the hint if there is one.
   */
  public static void assertRendering(Diagnostic d) {
    var span = d.span();
    var file = span.file();
    var rendered = d.render(false);
    var lines = rendered.split("\n", -1);
    var where = "rendered as:\n" + rendered;
    int expectedLines = d.hint() == null ? 4 : 5;
    assertEquals(expectedLines, lines.length, where);
    assertEquals("", lines[expectedLines - 1], "ends with a newline; " + where);

    assertTrue(Pattern.compile(Pattern.quote(file.name()) + ":\\d+:\\d+: (error|warning): .+", Pattern.DOTALL)
        .matcher(lines[0]).matches(), where);
    assertEquals(file.name() + ":" + span.line() + ":" + span.column() + ": " + d.severity().label() + ": "
        + d.message(), lines[0], where);

    var source = file.line(span.line());
    assertEquals("    " + source, lines[1], where);

    assertTrue(lines[2].startsWith("    "), where);
    var caret = lines[2].substring(4);
    // A span may start past the shown text (the end of a file whose last line ends in a stripped '\r'):
    // then the caret sits just after the text.
    int col = Math.min(span.column() - 1, source.length());
    assertEquals(col, caret.indexOf('^'), () -> "caret not under column " + span.column() + "; " + where);
    for (int i = 0; i < col; i++) {
      char expected = i < source.length() && source.charAt(i) == '\t' ? '\t' : ' ';
      assertEquals(expected, caret.charAt(i), where);
    }
    var underline = caret.substring(col);
    assertTrue(underline.matches("\\^~*"), where);
    int onThisLine = Math.min(span.end(), span.start() + Math.max(0, source.length() - col));
    assertEquals(Math.max(1, onThisLine - span.start()), underline.length(),
        () -> "the underline does not cover the span " + span.start() + ".." + span.end() + "; " + where);

    if (d.hint() != null) {
      assertEquals("  hint: " + d.hint(), lines[3], where);
    }
  }

  // ------------------------------------------------------------------ helpers

  static List<Expected> markers(SourceFile file) {
    var result = new ArrayList<Expected>();
    for (int line = 1; line <= file.lineStarts().size(); line++) {
      var m = MARKER.matcher(file.line(line));
      while (m.find()) {
        var code = DiagnosticCode.byId(m.group(2));
        var severity = m.group(1);
        int at = line;
        assertEquals(code.severity().label(), severity,
            () -> file.name() + ":" + at + ": the marker says " + severity + " for " + code.id());
        var text = m.group(3) == null || m.group(3).isBlank() ? null : m.group(3).strip();
        result.add(new Expected(line, code, text));
      }
    }
    return result;
  }

  /** The diagnostic's line, except that the end of the file counts as the file's last line. */
  private static int reportedLine(Diagnostic d) {
    var file = d.span().file();
    var text = file.text();
    if (d.span().start() < text.length()) {
      return d.span().line();
    }
    int last = file.lineStarts().size();
    return text.endsWith("\n") && last > 1 ? last - 1 : last;
  }

  private static List<String> keys(Stream<String> keys) {
    return keys.sorted((a, b) -> {
      int la = Integer.parseInt(a.substring(0, a.indexOf(':')));
      int lb = Integer.parseInt(b.substring(0, b.indexOf(':')));
      return la != lb ? Integer.compare(la, lb) : a.compareTo(b);
    }).toList();
  }

  private static String render(List<Diagnostic> diagnostics) {
    var sb = new StringBuilder();
    diagnostics.forEach(d -> sb.append(d.render(false)));
    return sb.toString();
  }

  private static List<Path> corpusFiles() {
    try (var files = Files.list(CORPUS)) {
      var list = files.filter(p -> p.toString().endsWith(".opt")).sorted().toList();
      assertTrue(!list.isEmpty(), "no corpus files in " + CORPUS);
      return list;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String read(Path path) {
    try {
      return Files.readString(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path resource(String name) {
    var url = DiagnosticsCorpusTest.class.getResource(name);
    assertNotNull(url, "no test resource " + name);
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}
