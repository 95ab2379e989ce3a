package dev.optc.cli;

import dev.optc.compiler.codegen.c.CEmitter;
import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.UserFiles;
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
    description = "Print the generated source of an optimizer (or write it under a directory).")
final class EmitCommand implements Callable<Integer> {
  /** Code generators by target name. */
  enum Target {
    java,
    opencl,
    cuda
  }

  @Parameters(index = "0", paramLabel = "OPT", description = ".opt file or library name")
  String opt;

  @Option(names = "--target", required = true, paramLabel = "TARGET",
      description = "What to generate: ${COMPLETION-CANDIDATES}.")
  Target target;

  @Option(names = "--precision", defaultValue = "f32", paramLabel = "P",
      description = "Arithmetic of the Java reference: f32 (default) or f64.")
  String precision;

  @Option(names = "--fusion", defaultValue = "full", paramLabel = "LEVEL",
      description = "full (one kernel per phase, default), statement (one per DSL statement) or none (one per "
          + "operation).")
  String fusion;

  @Option(names = "--local-size", defaultValue = "256", paramLabel = "N",
      description = "Work-group size the OpenCL/CUDA kernels are written for (a power of two; default 256).")
  int localSize;

  @Option(names = {"-o", "--output"}, paramLabel = "DIR",
      description = "Write the source under DIR (in its package folders) instead of printing it.")
  Path output;

  @Mixin
  Common common;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CompileException, IOException {
    var p = switch (precision) {
      case "f32" -> JavaEmitter.Precision.F32;
      case "f64" -> JavaEmitter.Precision.F64;
      default -> throw new OptcException("--precision must be f32 or f64, not '" + precision + "'");
    };
    var f = SimulateCommand.parseFusion(fusion);
    if (Integer.bitCount(localSize) != 1 || localSize > 1024) {
      throw new OptcException("--local-size must be a power of two up to 1024, not " + localSize);
    }
    var program = common.load(opt, spec.commandLine().getErr());
    var plan = Planner.plan(program.ir(), f);
    if (target != Target.java) {
      var dialect = target == Target.opencl ? Dialect.OPENCL : Dialect.CUDA;
      var source = CEmitter.emit(plan, KernelConfig.of(dialect, localSize).withAccumulation(Accumulation.FLOAT)).source();
      if (output == null) {
        spec.commandLine().getOut().print(source);
        spec.commandLine().getOut().flush();
        return 0;
      }
      var name = program.name().replaceAll("[^A-Za-z0-9_]", "_") + (target == Target.opencl ? ".cl" : ".cu");
      return write(output, output.resolve(name), source);
    }
    var file = JavaEmitter.emit(plan, p);
    if (output == null) {
      spec.commandLine().getOut().print(file);
      spec.commandLine().getOut().flush();
      return 0;
    }
    var dir = output.resolve(file.packageName().replace('.', '/'));
    return write(dir, dir.resolve(file.typeSpec().name() + ".java"), file.toString());
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
