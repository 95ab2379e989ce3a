package dev.optc.compiler.frontend;

import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.InternalCompilerError;
import dev.optc.compiler.diag.SourceFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The prelude: library {@code def}s written in the language itself ({@code prelude.opt}: learning-rate
 * schedules), callable from every program without an import. DSL.md has no import form; built-in defs
 * keep the language as specified, and a program's own def of the same name replaces a prelude def, so
 * adding one never breaks a program.
 */
public final class Prelude {
  private static volatile Map<String, Checker.DefSym> defs;

  private Prelude() {}

  /** The prelude's source text. */
  public static SourceFile source() {
    try (var in = Prelude.class.getResourceAsStream("/dev/optc/compiler/prelude.opt")) {
      if (in == null) {
        throw new InternalCompilerError("prelude.opt is missing from the compiler's resources");
      }
      return SourceFile.of("prelude.opt", new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Map<String, Checker.DefSym> defs() {
    var d = defs;
    if (d == null) {
      var diagnostics = new Diagnostics();
      var ast = SyntaxParser.parse(source(), diagnostics);
      var map = new LinkedHashMap<String, Checker.DefSym>();
      for (var s : ast.statements()) {
        if (s instanceof Ast.DefDecl def) {
          map.put(def.name().name(), new Checker.DefSym(def, true, def.name().span()));
        } else {
          throw new InternalCompilerError("the prelude may hold defs only: " + s.span());
        }
      }
      if (diagnostics.hasErrors()) {
        throw new InternalCompilerError("the prelude does not parse: " + diagnostics.sorted());
      }
      d = Map.copyOf(map);
      defs = d;
    }
    return d;
  }
}
