package dev.optc.cli;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.Backend;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.UserFiles;
import dev.optc.runtime.device.KernelEngine;
import dev.optc.runtime.java.JavaBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "emit", mixinStandardHelpOptions = true,
    description = {"Print the generated source of an optimizer (or write it under a directory).",
        "--target prints what a code generator writes for a target; --backend prints exactly what that backend "
            + "builds on this machine (the device's work-group size, accumulation and vector width)."})
final class EmitCommand implements Callable<Integer> {
  /** Code generators by target name, with the dialect of the C-family ones. */
  enum Target {
    java(null),
    opencl(Dialect.OPENCL),
    cuda(Dialect.CUDA);

    final Dialect dialect;

    Target(Dialect dialect) {
      this.dialect = dialect;
    }
  }

  @Parameters(index = "0", paramLabel = "OPT", description = ".opt file or library name")
  String opt;

  @Option(names = "--target", paramLabel = "TARGET",
      description = "What to generate: ${COMPLETION-CANDIDATES} (kernels at --local-size, float accumulation, the "
          + "dialect's vector width).")
  Target target;

  @Option(names = "--backend", paramLabel = "BACKEND",
      description = "Print what this backend builds here instead: java, java64, opencl[:PLATFORM:DEVICE] or "
          + "cuda[:DEVICE] (the device as simulate and bench choose it, $OPTC_DEVICE included).")
  String backend;

  @Option(names = "--precision", paramLabel = "P",
      description = "Arithmetic of the Java reference with --target java: f32 (default) or f64.")
  String precision;

  @Option(names = "--fusion", defaultValue = "full", paramLabel = "LEVEL",
      description = "full (one kernel per phase, default), statement (one per DSL statement) or none (one per "
          + "operation).")
  String fusion;

  @Option(names = "--local-size", paramLabel = "N",
      description = "Work-group size the --target opencl/cuda kernels are written for (a power of two; default 256).")
  Integer localSize;

  @Option(names = {"-o", "--output"}, paramLabel = "DIR",
      description = "Write the source under DIR (in its package folders) instead of printing it.")
  Path output;

  @Mixin
  Common common;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CompileException, IOException {
    if (target == null && backend == null) {
      throw new OptcException("emit needs --target java|opencl|cuda (what the code generator writes) or --backend "
          + "BACKEND (what that backend builds here)");
    }
    var f = SimulateCommand.parseFusion(fusion);
    Backend chosen = backend == null ? null : backend();
    var p = chosen == null ? precision() : null;
    int local = chosen == null ? localSize() : 0;
    var program = common.load(opt, spec.commandLine().getErr());
    var plan = Planner.plan(program.ir(), f);
    var source = chosen != null ? chosen.source(plan) : target(plan, p, local);
    if (output == null) {
      spec.commandLine().getOut().print(source.text());
      spec.commandLine().getOut().flush();
      return 0;
    }
    var path = output.resolve(source.path());
    return write(path.getParent(), path, source.text());
  }

  /** The backend of --backend, after checking that no --target option was given with it. */
  private Backend backend() {
    if (target != null) {
      throw new OptcException("--target and --backend exclude each other: --backend prints what that backend "
          + "builds here, --target what the code generator writes for a target; give one");
    }
    if (localSize != null || precision != null) {
      throw new OptcException((localSize != null ? "--local-size" : "--precision") + " applies to --target only: "
          + "with --backend the backend decides it (--backend java64 is the f64 Java reference)");
    }
    return SimulateCommand.backend(backend, Runtime.getRuntime().availableProcessors());
  }

  /** The source of --target: the Java reference, or kernels in the target's dialect at --local-size. */
  private Backend.Source target(Plan plan, JavaEmitter.Precision p, int local) {
    if (target.dialect == null) {
      return JavaBackend.sourceOf(JavaEmitter.emit(plan, p));
    }
    // Float accumulation and the dialect's vector width: the text any device of the dialect can build.
    return KernelEngine.source(plan, KernelConfig.of(target.dialect, local).withAccumulation(Accumulation.FLOAT));
  }

  private JavaEmitter.Precision precision() {
    return switch (precision == null ? "f32" : precision) {
      case "f32" -> JavaEmitter.Precision.F32;
      case "f64" -> JavaEmitter.Precision.F64;
      default -> throw new OptcException("--precision must be f32 or f64, not '" + precision + "'");
    };
  }

  private int localSize() {
    int n = localSize == null ? 256 : localSize;
    if (Integer.bitCount(n) != 1 || n > 1024) {
      throw new OptcException("--local-size must be a power of two up to 1024, not " + n);
    }
    return n;
  }

  /** Writes {@code text} to {@code path}, making {@code dir} first; never over the .opt file it came from. */
  private int write(Path dir, Path path, String text) {
    if (Files.exists(output) && !Files.isDirectory(output)) {
      throw new OptcException("-o " + output + ": is not a directory");
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new OptcException("-o " + output + ": cannot make directory " + dir + " (" + UserFiles.reason(e) + ")");
    }
    OutputFiles.check(OutputFiles.optInput(opt), Map.of("-o", path));
    AtomicFiles.write(path, text);
    spec.commandLine().getOut().println(path);
    return 0;
  }
}
