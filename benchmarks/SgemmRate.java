import dev.optc.runtime.blas.Gemm;
import dev.optc.runtime.blas.OpenBlas;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.SplittableRandom;

/**
 * optc's FFM binding of OpenBLAS's sgemm against NumPy's np.matmul on float32, at the products Muon's
 * Newton–Schulz iteration makes on GPT-2 small's 2-D weights, in one run: each product is timed through
 * optc, then through NumPy (one child process answering requests), the order swapped every round, because
 * on this shared VM the rate drifts from one minute to the next more than the difference measured. Each
 * side's number is the median over rounds of the median seconds per call. Started by
 * {@code benchmarks/sgemm_rate.sh}, which builds the runtime.
 *
 * <p>Products, for each weight W (rows × cols) with X = W, or Wᵀ when rows > cols as Muon does (a
 * transpose flag, no copy): the Gram matrix A = X·Xᵀ, A·A, and B·X (B square). Arguments: {@code PYTHON
 * ROUNDS MIN_SECONDS}.
 */
public class SgemmRate {
  record Product(String name, Gemm gemm) {}

  /**
   * A cache line, as optc's host arenas align tensors. NumPy 1.24's arrays here start 16 bytes past one;
   * OpenBLAS copies its operands into aligned panels, so this is not what the ratio measures.
   */
  static final long ALIGNMENT = 64;

  public static void main(String[] args) throws Exception {
    var python = args[0];
    int rounds = Integer.parseInt(args[1]);
    double minSeconds = Double.parseDouble(args[2]);
    var products = products();
    var blas = OpenBlas.get();
    var optc = new HashMap<String, List<Double>>();
    var numpy = new HashMap<String, List<Double>>();
    var script = Path.of(System.getProperty("sgemm.dir", "benchmarks"), "sgemm_rate.py");
    var process = new ProcessBuilder(python, script.toString(), Double.toString(minSeconds))
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    var toNumpy = new PrintWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8), true);
    var fromNumpy = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    for (int round = 0; round < rounds; round++) {
      System.err.printf("round %d/%d%n", round + 1, rounds);
      for (var p : products) {
        // Alternate which side goes first, so that neither always runs right after the other.
        for (int side = 0; side < 2; side++) {
          if ((side + round) % 2 == 0) {
            optc.computeIfAbsent(p.name(), x -> new ArrayList<>()).add(secondsPerCall(blas, p.gemm(), minSeconds));
          } else {
            var g = p.gemm();
            toNumpy.println(g.m() + " " + g.n() + " " + g.k() + " " + (g.transA() ? 1 : 0) + " " + (g.transB() ? 1 : 0));
            numpy.computeIfAbsent(p.name(), x -> new ArrayList<>()).add(Double.parseDouble(fromNumpy.readLine()));
          }
        }
      }
    }
    toNumpy.close();
    var numpyBlas = fromNumpy.readLine().replaceFirst("^# blas ", "");
    if (process.waitFor() != 0) {
      throw new IllegalStateException(python + " " + script + " failed with exit code " + process.exitValue());
    }
    System.out.printf("# optc: %s, through FFM; %s%n", blas.describe(), blas.config());
    System.out.printf("# numpy: %s%n", numpyBlas);
    System.out.printf("# GFLOP/s = 2mnk / (median over %d rounds of the median seconds per call, >= %.1f s of calls"
        + " per product per round)%n", rounds, minSeconds);
    System.out.printf("%-24s %-34s %8s %10s %10s %7s%n", "weight: product", "gemm", "MFLOP", "optc GF/s",
        "numpy GF/s", "ratio");
    for (var p : products) {
      double flops = p.gemm().flops();
      double ours = flops / median(optc.get(p.name())) / 1e9;
      double theirs = flops / median(numpy.get(p.name())) / 1e9;
      System.out.printf("%-24s %-34s %8.1f %10.1f %10.1f %7.2f%n", p.name(), p.gemm(), flops / 1e6, ours, theirs,
          ours / theirs);
    }
  }

  static List<Product> products() {
    var products = new ArrayList<Product>();
    int[][] weights = {{768, 768}, {768, 3072}, {3072, 768}, {768, 2304}};
    for (var w : weights) {
      int rows = w[0];
      int cols = w[1];
      boolean tall = rows > cols; // X = Wᵀ, read through a transpose flag
      int s = Math.min(rows, cols);
      int l = Math.max(rows, cols);
      var name = rows + "x" + cols;
      // X·Xᵀ: X is s × l; stored as W, so a tall W is read as Wᵀ·W.
      products.add(new Product(name + ": X·Xᵀ", new Gemm(s, s, l, tall, !tall)));
      products.add(new Product(name + ": A·A", Gemm.of(s, s, s)));
      // B·X: X as stored W (tall: Wᵀ, the transposed operand).
      products.add(new Product(name + ": B·X", new Gemm(s, l, s, false, tall)));
    }
    return products;
  }

  static double secondsPerCall(OpenBlas blas, Gemm gemm, double minSeconds) {
    try (var arena = Arena.ofConfined()) {
      var a = random(arena, gemm.aElements(), 1);
      var b = random(arena, gemm.bElements(), 2);
      var c = arena.allocate(gemm.cElements() * Float.BYTES, ALIGNMENT);
      for (int i = 0; i < 3; i++) {
        blas.sgemm(gemm, 1, a, b, 0, c);
      }
      var times = new ArrayList<Double>();
      long start = System.nanoTime();
      while (times.size() < 5 || (System.nanoTime() - start) / 1e9 < minSeconds) {
        long t0 = System.nanoTime();
        blas.sgemm(gemm, 1, a, b, 0, c);
        times.add((System.nanoTime() - t0) / 1e9);
      }
      return median(times);
    }
  }

  static MemorySegment random(Arena arena, long n, long seed) {
    var random = new SplittableRandom(seed);
    var segment = arena.allocate(n * Float.BYTES, ALIGNMENT);
    for (long i = 0; i < n; i++) {
      segment.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (random.nextDouble() * 2 - 1));
    }
    return segment;
  }

  static double median(List<Double> values) {
    var sorted = values.stream().mapToDouble(Double::doubleValue).toArray();
    Arrays.sort(sorted);
    return sorted.length % 2 == 1 ? sorted[sorted.length / 2]
        : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  }
}
