import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.blas.Gemm;
import dev.optc.runtime.blas.OpenBlas;
import dev.optc.runtime.java.JavaBackend;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

/**
 * One Muon step (optc's muon.opt on the java backend: products on OpenBLAS through FFM, the elementwise phases as
 * generated Java) on GPT-2 small's 2-D hidden weights, against the same algorithm in float32 NumPy over the same
 * OpenBLAS (benchmarks/muon_numpy.py), and against the BLAS's own sgemm rate at the products' shapes, in one run:
 * rounds alternate optc and NumPy, because on this shared VM the rate drifts more from one minute to the next than
 * the differences measured. Started by {@code benchmarks/muon_step.sh}.
 *
 * <p>optc's step is split by the engine's phase timer: the product phases (their sgemm calls) and the rest (the
 * elementwise and Gram passes, each a generated loop). "products at sgemm rate" is the time the products would take
 * at the rate plain sgemm calls reach on the same shapes in this process, measured in every round; the products'
 * efficiency is that time over the products' time (1.0: no overhead beyond the BLAS). The flop count is 2mnk for
 * every product Newton–Schulz makes (per weight and iteration, with s the short side and l the long one: X·Xᵀ
 * 2s²l, A·A 2s³, B·X 2s²l), the same count muon_numpy.py uses.
 *
 * <p>Arguments: {@code PYTHON ROUNDS LAYERS THREADS MIN_SECONDS JSON_DIR}.
 */
public class MuonStep {
  /** GPT-2 small's 2-D weights of one block as Hugging Face stores them (Conv1D: in × out). */
  static final int[][] SHAPES = {{768, 2304}, {768, 768}, {768, 3072}, {3072, 768}};
  static final String[] NAMES = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};
  static final int NS_STEPS = 5;

  record Sample(double total, double products, double elementwise) {}

  public static void main(String[] args) throws Exception {
    var python = args[0];
    int rounds = Integer.parseInt(args[1]);
    int layers = Integer.parseInt(args[2]);
    int threads = Integer.parseInt(args[3]);
    double minSeconds = Double.parseDouble(args[4]);
    var jsonDir = Path.of(args[5]);
    var blas = OpenBlas.get();
    blas.setThreads(threads);
    var params = new ArrayList<Optimizer.Param>();
    for (int l = 0; l < layers; l++) {
      for (int i = 0; i < SHAPES.length; i++) {
        params.add(new Optimizer.Param("h." + l + "." + NAMES[i], SHAPES[i][0], SHAPES[i][1]));
      }
    }
    var opt = Optimizer.builder(OptProgram.load("muon")).backend(new JavaBackend(JavaEmitter.Precision.F32, threads))
        .params(Map.of(), params).build();
    var random = new SplittableRandom(7);
    for (var p : params) {
      var n = (int) (p.shape()[0] * p.shape()[1]);
      var w = new float[n];
      var g = new float[n];
      for (int i = 0; i < n; i++) {
        w[i] = (float) (random.nextDouble() - 0.5) * 0.04f;
        g[i] = (float) (random.nextDouble() - 0.5) * 0.002f;
      }
      opt.setWeights(p.name(), w);
      opt.setGrad(p.name(), g);
    }
    var plan = opt.plan();
    double gflop = 0;
    for (var p : params) {
      double s = Math.min(p.shape()[0], p.shape()[1]);
      double l = Math.max(p.shape()[0], p.shape()[1]);
      gflop += NS_STEPS * (4 * s * s * l + 2 * s * s * s) / 1e9;
    }
    System.err.printf("optc: %s, %d phases (%d of products), %.1f GFLOP of products per step%n", blas.describe(),
        plan.phases().size(), plan.phases().stream().filter(Plan.Phase::products).count(), gflop);
    opt.step(); // warm-up: compiles, touches every buffer
    opt.step();
    var optc = new ArrayList<Sample>();
    var atRate = new ArrayList<Double>();
    var numpy = new ArrayList<Map<String, Double>>();
    for (int round = 0; round < rounds; round++) {
      System.err.printf("round %d/%d%n", round + 1, rounds);
      for (int side = 0; side < 2; side++) {
        if ((side + round) % 2 == 0) {
          optc.add(optcStep(opt, plan, minSeconds));
          atRate.add(productsAtSgemmRate(blas, params, minSeconds / 4));
        } else {
          numpy.add(numpyStep(python, layers, threads, jsonDir.resolve("numpy-round" + round + ".json")));
        }
      }
    }
    double total = median(optc.stream().mapToDouble(Sample::total).toArray());
    double products = median(optc.stream().mapToDouble(Sample::products).toArray());
    double elementwise = median(optc.stream().mapToDouble(Sample::elementwise).toArray());
    double rate = median(atRate.stream().mapToDouble(Double::doubleValue).toArray());
    double npTotal = median(numpy.stream().mapToDouble(m -> m.get("total_s")).toArray());
    double npProducts = median(numpy.stream().mapToDouble(m -> m.get("products_s")).toArray());
    double npElementwise = median(numpy.stream().mapToDouble(m -> m.get("elementwise_s")).toArray());
    double npAtSgemm = median(numpy.stream().mapToDouble(m -> m.get("products_at_sgemm_rate_s")).toArray());
    var out = new StringBuilder();
    out.append(String.format(Locale.ROOT, "Muon step, %d layer(s) of GPT-2 small's 2-D weights (%s), %d threads, "
        + "median of %d rounds (optc: each round's median over >= %.1f s of steps)%n", layers,
        String.join(", ", Arrays.stream(SHAPES).map(s -> s[0] + "x" + s[1]).toList()), threads, rounds, minSeconds));
    out.append(String.format(Locale.ROOT, "BLAS: %s; products: %.1f GFLOP per step%n%n", blas.describe(), gflop));
    out.append(String.format(Locale.ROOT, "%-34s %10s %10s %12s %14s%n", "", "step s", "products s", "elementwise s",
        "products GF/s"));
    out.append(String.format(Locale.ROOT, "%-34s %10.3f %10.3f %12.3f %14.1f%n", "optc muon.opt (java, OpenBLAS)", total,
        products, elementwise, gflop / products));
    out.append(String.format(Locale.ROOT, "%-34s %10.3f %10.3f %12.3f %14.1f%n", "NumPy (same algorithm, same BLAS)",
        npTotal, npProducts, npElementwise, gflop / npProducts));
    out.append(String.format(Locale.ROOT, "%-34s %10s %10.3f %12s %14.1f%n", "plain sgemm at the same shapes", "",
        rate, "", gflop / rate));
    out.append(String.format(Locale.ROOT, "%noptc / NumPy: step %.2f, products %.2f, elementwise %.2f%n",
        total / npTotal, products / npProducts, elementwise / npElementwise));
    out.append(String.format(Locale.ROOT, "optc's products reach %.0f%% of plain sgemm's rate at their shapes "
        + "(NumPy's: %.0f%% of its own sgemm measurement; NumPy's X·Xᵀ takes ssyrk, half the flops)%n",
        100 * rate / products, 100 * npAtSgemm / npProducts));
    out.append(String.format(Locale.ROOT, "elementwise share of the step: optc %.1f%%, NumPy %.1f%%%n",
        100 * elementwise / total, 100 * npElementwise / npTotal));
    System.out.print(out);
    opt.close();
  }

  /** One round of optc: steps for at least {@code minSeconds}, the median step split by the phase timer. */
  static Sample optcStep(Optimizer opt, Plan plan, double minSeconds) {
    var engine = opt.engine();
    var samples = new ArrayList<Sample>();
    long start = System.nanoTime();
    while (samples.size() < 2 || System.nanoTime() - start < minSeconds * 1e9) {
      engine.timePhases(true);
      long t0 = System.nanoTime();
      opt.step();
      long t1 = System.nanoTime();
      var nanos = engine.phaseNanos().orElseThrow();
      engine.timePhases(false);
      long products = 0;
      long other = 0;
      for (var phase : plan.phases()) {
        if (phase.products()) {
          products += nanos[phase.index()];
        } else {
          other += nanos[phase.index()];
        }
      }
      samples.add(new Sample((t1 - t0) / 1e9, products / 1e9, other / 1e9));
    }
    samples.sort((a, b) -> Double.compare(a.total(), b.total()));
    return samples.get(samples.size() / 2);
  }

  /**
   * Seconds the products of one step take at the rate of plain sgemm calls on the same shapes: each product shape
   * timed on its own (the median of calls over {@code minSeconds}), times NS_STEPS and the count of weights of
   * that shape.
   */
  static double productsAtSgemmRate(OpenBlas blas, List<Optimizer.Param> params, double minSeconds) {
    double seconds = 0;
    try (var arena = Arena.ofConfined()) {
      for (var p : params) {
        int s = (int) Math.min(p.shape()[0], p.shape()[1]);
        int l = (int) Math.max(p.shape()[0], p.shape()[1]);
        var x = fill(arena, (long) s * l);
        var a = fill(arena, (long) s * s);
        var c = arena.allocate(ValueLayout.JAVA_FLOAT, (long) s * l);
        // X·Xᵀ (s × l times its transpose), A·A, B·X.
        seconds += NS_STEPS * (time(blas, new Gemm(s, s, l, false, true), x, x, c, minSeconds)
            + time(blas, Gemm.of(s, s, s), a, a, c, minSeconds) + time(blas, Gemm.of(s, l, s), a, x, c, minSeconds));
      }
    }
    return seconds;
  }

  static MemorySegment fill(Arena arena, long n) {
    var m = arena.allocate(ValueLayout.JAVA_FLOAT, n);
    for (long i = 0; i < n; i++) {
      m.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) Math.sin(i) * 0.01f);
    }
    return m;
  }

  static double time(OpenBlas blas, Gemm g, MemorySegment a, MemorySegment b, MemorySegment c, double minSeconds) {
    blas.sgemm(g, 1f, a, b, 0f, c);
    var calls = new ArrayList<Double>();
    long start = System.nanoTime();
    while (calls.size() < 3 || System.nanoTime() - start < minSeconds * 1e9) {
      long t0 = System.nanoTime();
      blas.sgemm(g, 1f, a, b, 0f, c);
      calls.add((System.nanoTime() - t0) / 1e9);
    }
    return median(calls.stream().mapToDouble(Double::doubleValue).toArray());
  }

  /** One round of NumPy: muon_numpy.py's medians (its sums over the weights), read from its JSON. */
  static Map<String, Double> numpyStep(String python, int layers, int threads, Path json) throws Exception {
    var script = Path.of(System.getProperty("muon.dir", "benchmarks"), "muon_numpy.py");
    var process = new ProcessBuilder(python, script.toString(), "--layers", Integer.toString(layers), "--repeat", "3",
        "--threads", Integer.toString(threads), "--json", json.toString())
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    if (process.waitFor() != 0) {
      throw new IllegalStateException("muon_numpy.py failed (exit " + process.exitValue() + ")");
    }
    var text = Files.readString(json);
    var sums = text.substring(text.indexOf("\"sums\""));
    var values = new java.util.HashMap<String, Double>();
    for (var key : List.of("total_s", "products_s", "elementwise_s", "products_at_sgemm_rate_s")) {
      var m = Pattern.compile("\"" + key + "\":\\s*([-0-9.eE+]+)").matcher(sums);
      if (!m.find()) {
        throw new IllegalStateException("no " + key + " in " + json);
      }
      values.put(key, Double.parseDouble(m.group(1)));
    }
    return values;
  }

  static double median(double[] v) {
    var s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
