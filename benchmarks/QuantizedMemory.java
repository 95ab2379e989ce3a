import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.java.JavaBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Optimizer state memory of one bound tensor of N parameters, per program (one JVM each, see
 * quantized_memory.sh): the bytes the engine allocated for states (Optimizer.stateBytes), and, to show those bytes
 * are real memory, the growth of the process's resident set when amsgrad switches on and max_exp_avg_sq is
 * allocated and initialised (one state: 4 bytes per parameter in float32, 1 + 4/256 as q8, 0.5 + 4/128 as q4).
 */
public class QuantizedMemory {
  static long rss() throws Exception {
    for (var line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IllegalStateException("no VmRSS in /proc/self/status");
  }

  public static void main(String[] args) throws Exception {
    var name = args[0];
    int n = Integer.parseInt(args[1]);
    try (var opt = Optimizer.builder(OptProgram.load(name)).backend(new JavaBackend(JavaEmitter.Precision.F32, 1))
        .params(Map.of(), List.of(new Optimizer.Param("x", n))).build()) {
      opt.step();
      long bytes = opt.stateBytes();
      long before = rss();
      opt.setHyper("amsgrad", 1);
      long after = rss();
      System.out.printf("%-10s %,d parameters: states %.4f B/param allocated (amsgrad off); amsgrad on: +%.4f "
          + "B/param allocated, resident set +%.4f B/param%n", name, n, bytes / (double) n,
          (opt.stateBytes() - bytes) / (double) n, (after - before) / (double) n);
    }
  }
}
