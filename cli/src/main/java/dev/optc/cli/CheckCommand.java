package dev.optc.cli;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.diag.Diagnostic;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "check", mixinStandardHelpOptions = true,
    description = {"Check .opt files and report every problem of each, with its position and a hint.",
        "Exit code 1 if any file has an error, 0 otherwise (warnings do not fail)."})
final class CheckCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "FILE", description = ".opt files or library names")
  List<String> files;

  @Option(names = "--codes", description = "Show each diagnostic's stable code, e.g. [E010].")
  boolean codes;

  @Option(names = "--quiet", description = "Print errors only, no warnings and no summary.")
  boolean quiet;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    var out = spec.commandLine().getOut();
    var err = spec.commandLine().getErr();
    boolean failed = false;
    boolean unreadable = false;
    for (var f : files) {
      List<Diagnostic> diagnostics;
      String shown;
      try {
        var source = OptProgram.resolve(f);
        shown = source.name();
        diagnostics = Compiler.check(source).diagnostics();
      } catch (OptcException e) {
        err.println("optc: " + e.getMessage());
        unreadable = true;
        continue;
      }
      long errors = diagnostics.stream().filter(Diagnostic::isError).count();
      long warnings = diagnostics.size() - errors;
      for (var d : diagnostics) {
        if (d.isError() || !quiet) {
          err.print(d.render(codes));
        }
      }
      failed |= errors > 0;
      if (!quiet) {
        out.println(shown + ": " + (errors == 0 ? "ok" : plural(errors, "error"))
            + (warnings == 0 ? "" : ", " + plural(warnings, "warning")));
      }
    }
    return failed ? Main.EXIT_DIAGNOSTICS : unreadable ? Main.EXIT_USAGE : 0;
  }

  private static String plural(long n, String word) {
    return n + " " + word + (n == 1 ? "" : "s");
  }
}
