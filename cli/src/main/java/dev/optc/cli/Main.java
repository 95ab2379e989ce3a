package dev.optc.cli;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.InternalCompilerError;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.cache.ProgramCache;
import dev.optc.runtime.io.Npy;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code optc}: the command line. Exit codes (sysexits, as jlox does): 0 success, 1 the program has
 * errors, 2 bad usage or bad input, 70 a bug in optc.
 */
@Command(
    name = "optc",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "The optimizer compiler: checks, compiles and runs optimizer update rules written in .opt.",
    subcommands = {
        CheckCommand.class,
        EmitCommand.class,
        InfoCommand.class,
        SimulateCommand.class,
        BenchCommand.class,
        TrainCommand.class,
        SearchCommand.class,
        VerifyCommand.class,
        DevicesCommand.class,
        CommandLine.HelpCommand.class
    },
    footer = {
        "%nOPT is a .opt file or a library optimizer: sgd adam adamw adagrad rmsprop nadam radam adamax "
            + "adadelta lion adan lars lamb adafactor adamw_clip adamw8bit adam8bit lion8bit adamw4bit sophia "
            + "schedulefree_adamw muon adam_mini. Run 'optc COMMAND --help' for a command's options.",
        "%nExit codes: 0 ok, 1 the program has errors, 2 bad usage or input, 70 internal error."
    })
public final class Main implements Runnable {
  public static final int EXIT_DIAGNOSTICS = 1;
  public static final int EXIT_USAGE = 2;
  public static final int EXIT_INTERNAL = 70;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "missing command (check, emit, info, simulate, bench, train, verify, devices)");
  }

  public static void main(String[] args) {
    System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
  }

  /** Runs the CLI with the given output streams; returns the exit code (tests call this). */
  public static int execute(String[] args, PrintWriter out, PrintWriter err) {
    var cli = new CommandLine(new Main());
    cli.setOut(out);
    cli.setErr(err);
    cli.setUsageHelpAutoWidth(true);
    cli.setParameterExceptionHandler((ex, a) -> {
      err.println("optc: " + ex.getMessage());
      var sub = ex.getCommandLine();
      err.println("Run '" + sub.getCommandSpec().qualifiedName() + " --help' for usage.");
      return EXIT_USAGE;
    });
    cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> handle(ex, err));
    try {
      return cli.execute(args);
    } catch (StackOverflowError e) {
      err.println("optc: the input is nested too deeply to process (a stack overflow); simplify it");
      return EXIT_USAGE;
    } catch (Error e) {
      // picocli passes Errors through; they are bugs (or the JVM giving up) and still get one line.
      return internal(e, err);
    } finally {
      // Diagnostics are printed with print(); an auto-flushing PrintWriter (Main.main's) flushes on
      // println only, and System.exit would drop what is still buffered.
      out.flush();
      err.flush();
    }
  }

  static int handle(Exception ex, PrintWriter err) {
    switch (ex) {
      case CompileException ce -> {
        ce.diagnostics().forEach(d -> err.print(d.render(false)));
        return EXIT_DIAGNOSTICS;
      }
      case OptcException oe -> {
        err.println("optc: " + oe.getMessage());
        return EXIT_USAGE;
      }
      case Npy.NpyException ne -> {
        err.println("optc: " + ne.getMessage());
        return EXIT_USAGE;
      }
      case InternalCompilerError ice -> {
        return internal(ice, err);
      }
      default -> {
        return internal(ex, err);
      }
    }
  }

  private static int internal(Throwable ex, PrintWriter err) {
    // One line on the terminal, whatever the exception carries; the rest goes to a saved report.
    var first = ex.toString().lines().findFirst().orElse(ex.getClass().getName());
    if (first.length() > 300) {
      first = first.substring(0, 300) + "…";
    }
    err.println("optc: internal error: " + first + " (this is a bug in optc, not in your program; please "
        + "report it with the command line, the files and " + saveReport(ex) + ")");
    if (System.getenv("OPTC_DEBUG") != null) {
      ex.printStackTrace(err);
    }
    return EXIT_INTERNAL;
  }

  /**
   * Writes the exception, its stack trace and its details (a generated source, javac's output) to a new
   * file under {@code $OPTC_CACHE/reports}, or the temp folder if that cannot be written; returns "the
   * report PATH", or why there is none.
   */
  static String saveReport(Throwable ex) {
    var text = new StringWriter();
    try (var w = new PrintWriter(text)) {
      w.println(new Version().getVersion()[0]);
      w.println("command: " + ProcessHandle.current().info().commandLine().orElse("(unknown)"));
      w.println();
      ex.printStackTrace(w);
      for (var t = ex; t != null; t = t.getCause()) {
        if (t instanceof InternalCompilerError ice && ice.details() != null) {
          w.println();
          w.println(ice.details());
        }
      }
    }
    var bytes = text.toString().getBytes(StandardCharsets.UTF_8);
    String why = null;
    for (var dir : List.of(ProgramCache.root().resolve("reports"),
        Path.of(System.getProperty("java.io.tmpdir")))) {
      try {
        Files.createDirectories(dir);
        var file = Files.createTempFile(dir, "optc-internal-error-", ".txt");
        Files.write(file, bytes);
        return "the report " + file.toAbsolutePath();
      } catch (IOException | RuntimeException e) {
        why = e.getMessage();
      }
    }
    return "no report (it could not be saved: " + why + ")";
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      var v = Main.class.getPackage().getImplementationVersion();
      return new String[] {"optc " + (v == null ? "(development build)" : v) + " on Java "
          + Runtime.version()};
    }
  }
}
