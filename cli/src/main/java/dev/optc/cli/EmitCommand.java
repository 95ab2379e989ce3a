package dev.optc.cli;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.OptcException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
    java
  }

  @Parameters(index = "0", paramLabel = "OPT", description = ".opt file or library name")
  String opt;

  @Option(names = "--target", required = true, paramLabel = "TARGET",
      description = "What to generate: ${COMPLETION-CANDIDATES}.")
  Target target;

  @Option(names = "--precision", defaultValue = "f32", paramLabel = "P",
      description = "Arithmetic of the Java reference: f32 (default) or f64.")
  String precision;

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
    var program = common.load(opt, spec.commandLine().getErr());
    var file = switch (target) {
      case java -> JavaEmitter.emit(Planner.plan(program.ir(), Fusion.FULL), p);
    };
    if (output == null) {
      spec.commandLine().getOut().print(file);
      spec.commandLine().getOut().flush();
      return 0;
    }
    if (Files.exists(output) && !Files.isDirectory(output)) {
      throw new OptcException(output + ": is not a directory");
    }
    var dir = output.resolve(file.packageName().replace('.', '/'));
    Files.createDirectories(dir);
    var path = dir.resolve(file.typeSpec().name() + ".java");
    var tmp = Files.createTempFile(dir, ".emit", ".tmp");
    try {
      Files.writeString(tmp, file.toString());
      Files.move(tmp, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    spec.commandLine().getOut().println(path);
    return 0;
  }
}
