package dev.optc.runtime;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.Diagnostic;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.pass.StandardMetrics;
import dev.optc.runtime.cache.ProgramCache;
import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A compiled optimizer: its source, IR and warnings. Made from a {@code .opt} file or a library name.
 *
 * @param hash SHA-256 of the source text: checkpoints record it so that a state file is only restored
 *     into the program that wrote it
 */
public record OptProgram(SourceFile source, IrProgram ir, List<Diagnostic> warnings, String hash) {
  /** 64 MiB: far above any real optimizer; a bigger file is a mistake, not a program to hold in memory. */
  static final long MAX_SOURCE_BYTES = 64L << 20;

  /**
   * Compiles {@code opt}: an existing file path, or else a library name such as {@code adamw}.
   *
   * @throws CompileException the program has errors (all of them are in the exception)
   * @throws OptcException the file cannot be read, or no such library optimizer exists
   */
  public static OptProgram load(String opt, Pipeline.Options options) throws CompileException {
    return compile(resolve(opt), options);
  }

  public static OptProgram load(String opt) throws CompileException {
    return load(opt, Pipeline.Options.DEFAULT);
  }

  /** The source of {@code opt}: a file when one exists at that path, otherwise a library optimizer. */
  public static SourceFile resolve(String opt) {
    if (opt.isEmpty()) {
      throw new OptcException("'': an empty file name; give a .opt file or a library name");
    }
    // Anything at that path is the user's file, never a library fallback; only a regular one is read
    // (a FIFO would block, /dev/zero never end).
    var why = opt.indexOf('\0') >= 0 ? "no such file" : UserFiles.notRegular(Path.of(opt));
    if (why == null) {
      var path = Path.of(opt);
      try {
        if (Files.size(path) > MAX_SOURCE_BYTES) {
          throw new OptcException(opt + ": is " + Files.size(path) + " bytes; a .opt file may have at most "
              + MAX_SOURCE_BYTES);
        }
        return SourceFile.of(opt, Files.readString(path, StandardCharsets.UTF_8));
      } catch (MalformedInputException e) {
        throw new OptcException(opt + ": not UTF-8 text; save the .opt file as UTF-8");
      } catch (IOException e) {
        throw new OptcException(opt + ": cannot read it (" + UserFiles.reason(e) + ")");
      }
    }
    if (!why.equals("no such file")) {
      throw new OptcException(opt + ": " + why + "; give a .opt file or a library name");
    }
    return Library.source(opt).map(text -> SourceFile.of(opt + ".opt", text))
        .orElseThrow(() -> new OptcException(opt + ": no such file, and no library optimizer of that name "
            + "(library: " + String.join(", ", Library.NAMES) + ")"));
  }

  public static OptProgram compile(SourceFile source, Pipeline.Options options) throws CompileException {
    var result = Compiler.check(source, options);
    if (!result.ok()) {
      throw new CompileException(result.diagnostics());
    }
    return new OptProgram(source, result.program(), result.warnings(), ProgramCache.hash(source.text()));
  }

  public String name() {
    return ir.name();
  }

  /**
   * This program with the standard metrics added ({@code grad_norm}, {@code weight_norm},
   * {@code update_norm}, {@code update_ratio}, {@code effective_lr}; see {@link StandardMetrics}).
   */
  public OptProgram withStandardMetrics() {
    var ir2 = Pipeline.run(new StandardMetrics().run(ir), Pipeline.Options.DEFAULT);
    return new OptProgram(source, ir2, warnings, hash);
  }
}
