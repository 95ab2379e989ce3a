package dev.optc.cli;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Conformance;
import dev.optc.runtime.Library;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code optc verify}: a backend against the Java reference, on this machine's device. */
@Command(name = "verify", mixinStandardHelpOptions = true,
    description = {"Check a backend against the Java reference on this machine: each OPT at each fusion level runs "
        + "on two groups of odd-shaped tensors (empty, 1, primes, 2^20 + 3) with fresh random gradients, and "
        + "every weight and state must agree within the tolerance of the project's tests (8 ulp; 1e-5 of the "
        + "largest value where the program reduces; 2 ulp of a bf16/f16 state's own type).",
        "Exit 0 when all agree, 1 when one does not."})
final class VerifyCommand implements Callable<Integer> {
  @Parameters(paramLabel = "OPT", arity = "0..*",
      description = ".opt files or library names (default: every library optimizer)")
  List<String> opts = new ArrayList<>();

  @Option(names = "--backend", required = true, paramLabel = "BACKEND",
      description = "The backend to check: opencl[:PLATFORM:DEVICE], cuda[:DEVICE], java64 or java.")
  String backend;

  @Option(names = "--fusion", defaultValue = "all", paramLabel = "LEVEL",
      description = "full, statement, none, or all (the default); several separated by commas.")
  String fusion;

  @Option(names = "--steps", defaultValue = "31", paramLabel = "N",
      description = "Steps per run (default 31: odd, so a state the backend forgot to write, left in the other copy "
          + "of a double-buffered state, shows).")
  int steps;

  @Option(names = "--seed", paramLabel = "S", description = "Seed of the inputs (default: a fresh one, printed).")
  Long seed;

  @Mixin
  Common common;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CompileException {
    var out = spec.commandLine().getOut();
    var err = spec.commandLine().getErr();
    if (steps < 1) {
      throw new OptcException("--steps must be at least 1, not " + steps);
    }
    var levels = BenchCommand.fusions(fusion);
    int threads = Runtime.getRuntime().availableProcessors();
    var checked = SimulateCommand.backend(backend, threads);
    var reference = new JavaBackend(JavaEmitter.Precision.F32, threads);
    var programs = new ArrayList<OptProgram>();
    for (var o : opts.isEmpty() ? Library.NAMES : opts) {
      programs.add(common.load(o, err));
    }
    long s = seed != null ? seed : System.nanoTime();
    out.printf("optc verify: %s against the java reference, %d step%s, seed %d%n", checked.name(), steps,
        steps == 1 ? "" : "s", s);
    // The name column fits the longest name, so that a long .opt name does not push its row out of line.
    int width = Math.max("optimizer".length(), programs.stream().mapToInt(p -> p.name().length()).max().orElse(0));
    var row = "%-" + width + "s %-9s %-10s %9s %8s  %s%n";
    out.printf(row, "optimizer", "fusion", "result", "identical", "max ulp", "");
    out.flush();
    int failed = 0;
    int runs = programs.size() * levels.size();
    int done = 0;
    var progress = Progress.forItems(err, "verify", runs, "run");
    for (var program : programs) {
      for (Fusion f : levels) {
        var r = Conformance.check(program, reference, checked, f, steps, s);
        done++;
        progress.accept(done);
        failed += r.ok() ? 0 : 1;
        double identical = r.values() == 0 ? 1 : r.identical() / (double) r.values();
        progress.clearLine();
        out.printf(row, program.name(), f.label(),
            r.ok() ? (r.identical() == r.values() ? "identical" : "agrees") : "DIFFERS",
            String.format("%.2f%%", 100 * identical), String.format("%.1f", r.maxUlps()), r.ok() ? "" : r.mismatch());
        out.flush();
      }
    }
    progress.done();
    out.printf("%d of %d runs agree with the reference%s%n", runs - failed, runs,
        failed == 0 ? "" : "; rerun one with --seed " + s + " to reproduce");
    return failed == 0 ? 0 : Main.EXIT_DIAGNOSTICS;
  }
}
