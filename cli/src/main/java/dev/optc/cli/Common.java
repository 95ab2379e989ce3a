package dev.optc.cli;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.runtime.OptProgram;
import java.io.PrintWriter;
import picocli.CommandLine.Option;

/** Options every compiling command has. */
final class Common {
  @Option(names = "--dump-ir", description = "Print the IR after each compiler pass to stderr.")
  boolean dumpIr;

  @Option(names = "--quiet", description = "Print errors only: no warnings, no summary.")
  boolean quiet;

  OptProgram load(String opt, PrintWriter err) throws CompileException {
    var options = dumpIr ? new Pipeline.Options(new java.io.PrintStream(
        new java.io.FileOutputStream(java.io.FileDescriptor.err), true), true) : Pipeline.Options.DEFAULT;
    var program = OptProgram.load(opt, options);
    if (!quiet) {
      program.warnings().forEach(d -> err.print(d.render(false)));
    }
    return program;
  }
}
