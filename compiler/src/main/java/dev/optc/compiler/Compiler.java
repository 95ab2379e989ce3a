package dev.optc.compiler;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.Diagnostic;
import dev.optc.compiler.diag.DiagnosticCode;
import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.frontend.Checker;
import dev.optc.compiler.frontend.SyntaxParser;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.pass.Pipeline;
import java.util.List;

/** The front door: source text → checked, optimized IR. */
public final class Compiler {
  private Compiler() {}

  /** Diagnostics of a file and, when it has no errors, its IR after the pass pipeline. */
  public record Result(List<Diagnostic> diagnostics, IrProgram program) {
    public boolean ok() {
      return diagnostics.stream().noneMatch(Diagnostic::isError);
    }

    public List<Diagnostic> warnings() {
      return diagnostics.stream().filter(d -> !d.isError()).toList();
    }
  }

  /** Parses and checks {@code file}; never throws for bad input (every problem is a diagnostic). */
  public static Result check(SourceFile file, Pipeline.Options options) {
    var diags = new Diagnostics();
    try {
      var ast = SyntaxParser.parse(file, diags);
      var ir = Checker.check(ast, diags);
      if (diags.hasErrors()) {
        return new Result(diags.sorted(), null);
      }
      return new Result(diags.sorted(), Pipeline.run(ir, options));
    } catch (StackOverflowError e) {
      // Only absurdly deep nesting gets here; report it like any other problem of the file.
      var d = new Diagnostics();
      d.report(DiagnosticCode.SYNTAX, file.span(0, Math.min(1, file.text().length())),
          "the program is nested too deeply to compile", "split deep expressions with locals");
      return new Result(d.sorted(), null);
    }
  }

  public static Result check(SourceFile file) {
    return check(file, Pipeline.Options.DEFAULT);
  }

  /** Compiles {@code file} or throws with every diagnostic. */
  public static IrProgram compile(SourceFile file, Pipeline.Options options) throws CompileException {
    var result = check(file, options);
    if (!result.ok()) {
      throw new CompileException(result.diagnostics());
    }
    return result.program();
  }

  public static IrProgram compile(SourceFile file) throws CompileException {
    return compile(file, Pipeline.Options.DEFAULT);
  }
}
