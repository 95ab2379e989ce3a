package dev.optc.compiler.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.pass.Pipeline;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Files as editors write them: LF, CRLF or lone-CR line endings and an optional UTF-8 byte order mark
 * all give the same diagnostics at the same positions, rendered without raw control characters (part
 * of the bad-input corpus: before, CR-only files put every diagnostic on line 1 and echoed the CRs, and
 * a BOM was E002 at 1:1).
 */
class LineEndingsTest {
  private static final String PROGRAM = String.join("\n",
      "optimizer crlf",
      "hyper lr = 0.1",
      "w -= lr * beta * g",
      "");

  @ParameterizedTest
  @ValueSource(strings = {"\n", "\r\n", "\r"})
  void errorsAreOnTheirLineWhateverTheLineEnding(String eol) {
    for (var bom : new String[] {"", "\uFEFF"}) {
      var file = SourceFile.of("crlf.opt", bom + PROGRAM.replace("\n", eol));
      var result = Compiler.check(file, Pipeline.Options.DEFAULT);
      var errors = result.diagnostics().stream().filter(d -> d.severity() == Severity.ERROR).toList();
      assertEquals(1, errors.size(), () -> "one error for eol " + escape(eol) + " bom " + !bom.isEmpty()
          + ": " + result.diagnostics());
      var d = errors.getFirst();
      assertEquals(DiagnosticCode.UNKNOWN_NAME, d.code());
      var text = d.render(false);
      assertTrue(text.startsWith("crlf.opt:3:11: error: unknown name 'beta'"), text);
      assertTrue(text.contains("\n    w -= lr * beta * g\n"), text);
      assertFalse(text.contains("\r") || text.contains("\uFEFF"), "no raw CR or BOM echoed: " + escape(text));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"\n", "\r\n", "\r"})
  void aCleanFileWithAByteOrderMarkHasNoDiagnostics(String eol) {
    var text = "\uFEFFoptimizer sgd_bom" + eol + "hyper lr = 0.1" + eol + "w -= lr * g" + eol;
    var result = Compiler.check(SourceFile.of("bom.opt", text), Pipeline.Options.DEFAULT);
    assertEquals(java.util.List.of(), result.diagnostics());
  }

  @ParameterizedTest
  @ValueSource(strings = {"a\rb\rc", "a\r\nb\r\nc", "a\nb\nc", "a\r\rb\nc"})
  void linesSplitAtEveryTerminator(String text) {
    var file = SourceFile.of("x.opt", text);
    int last = file.lineStarts().size();
    assertEquals("a", file.line(1));
    assertEquals("c", file.line(last));
    assertEquals(last, file.lineOf(text.length() - 1));
  }

  private static String escape(String s) {
    return s.replace("\r", "\\r").replace("\n", "\\n");
  }
}
