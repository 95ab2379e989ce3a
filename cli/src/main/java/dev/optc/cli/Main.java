package dev.optc.cli;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.InternalCompilerError;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.io.Npy;
import java.io.PrintWriter;
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
        VerifyCommand.class,
        DevicesCommand.class,
        CommandLine.HelpCommand.class
    },
    footer = {
        "%nOPT is a .opt file or a library optimizer: sgd adam adamw adagrad rmsprop nadam radam adamax "
            + "adadelta lion adan lars lamb adafactor adamw_clip. Run 'optc COMMAND --help' for a command's options.",
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
    throw new CommandLine.ParameterException(spec.commandLine(), "missing command (check, emit, info, simulate, bench, verify, devices)");
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
    err.println("optc: internal error: " + ex + " (this is a bug in optc, not in your program; please "
        + "report it with the command line and files; OPTC_DEBUG=1 shows the stack trace)");
    if (System.getenv("OPTC_DEBUG") != null) {
      ex.printStackTrace(err);
    }
    return EXIT_INTERNAL;
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
