package dev.optc.compiler.pass;

import dev.optc.compiler.ir.IrPrinter;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Verifier;
import java.io.PrintStream;
import java.util.List;

/**
 * The passes, in order (Halide's Lower.cpp): one place that says what the compiler does to a program
 * between the frontend and the planner.
 */
public final class Pipeline {

  public static final List<Pass> PASSES = List.of(
      new Simplify(),
      new Cse(),
      new Dce(),
      new HoistUniform());

  /**
   * @param dump where to print the IR after each pass ("(unchanged)" when a pass changed nothing), or null
   * @param verify run the {@link Verifier} after every pass (tests do)
   */
  public record Options(PrintStream dump, boolean verify) {
    public static final Options DEFAULT = new Options(null, false);
  }

  private Pipeline() {}

  public static IrProgram run(IrProgram program, Options options) {
    var p = program;
    if (options.dump() != null) {
      options.dump().print("== frontend\n" + IrPrinter.print(p));
    }
    if (options.verify()) {
      Verifier.verify(p);
    }
    for (var pass : PASSES) {
      var next = pass.run(p);
      if (options.dump() != null) {
        options.dump().print("== " + pass.name() + (next == p ? " (unchanged)\n" : "\n" + IrPrinter.print(next)));
      }
      if (options.verify()) {
        Verifier.verify(next);
      }
      p = next;
    }
    return p;
  }
}
