package dev.optc.runtime;

import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Runs the same steps on two backends and compares what they leave behind: how the device backends are
 * checked against the Java reference, in the tests and by {@code optc verify} on a user's own device.
 * Results are read into NaN-poisoned arrays so an element a kernel failed to write shows up.
 *
 * <p>Tolerance: device kernels are built without contraction (no fma) and with correctly rounded division
 * and square root, so the arithmetic is the Java reference's; only the math library (exp, log, pow, tanh,
 * sin, cos) may differ by a few ulp, and that difference can grow over steps. Reductions add in a
 * different order. Values must agree within 8 ulp of the larger magnitude, or within 1e-6 of the
 * buffer's largest value for values near zero; a bf16 or f16 state within 2 ulp of its own type (one
 * rounding tie decided the other way moves a whole ulp), and in a program with such a state every buffer
 * within 2^-9 of its largest value (that ulp flows on into the weights). Programs with reductions or matrix
 * products (each BLAS sums in its own blocked order): within 1e-5 of the buffer's largest value.
 */
public final class Conformance {
  private Conformance() {}

  /** Tensors of the given shapes with standard normal weights, named {@code prefix0, prefix1, ...}. */
  public static List<Optimizer.Tensor> tensors(Random r, long[][] shapes, String prefix) {
    var list = new ArrayList<Optimizer.Tensor>();
    for (int i = 0; i < shapes.length; i++) {
      var n = MatrixView.of(shapes[i]).numel();
      var w = new float[n];
      for (int k = 0; k < n; k++) {
        w[k] = (float) r.nextGaussian();
      }
      list.add(new Optimizer.Tensor(prefix + i, shapes[i], w));
    }
    return list;
  }

  /**
   * Runs {@code steps} steps with gradients drawn from {@code seed} (one in 16 exactly zero, the rest
   * normal times a log-normal scale); returns weights then states of every tensor, read into poisoned
   * arrays.
   */
  public static float[][] run(OptProgram program, Backend backend, Fusion fusion, List<List<Optimizer.Tensor>> groups,
      List<Map<String, Double>> hypers, int steps, long seed) {
    return execute(program, backend, Arenas.BACKEND, fusion, groups, hypers, steps, seed).values();
  }

  /** {@link #run(OptProgram, Backend, Fusion, List, List, int, long)} with the arenas where {@code arenas} says. */
  public static float[][] run(OptProgram program, Backend backend, Arenas arenas, Fusion fusion,
      List<List<Optimizer.Tensor>> groups, List<Map<String, Double>> hypers, int steps, long seed) {
    return execute(program, backend, arenas, fusion, groups, hypers, steps, seed).values();
  }

  /** What {@link #run} leaves behind, and the plan the optimizer made for it (the one the engine ran). */
  private record Run(float[][] values, Plan plan) {}

  private static Run execute(OptProgram program, Backend backend, Arenas arenas, Fusion fusion,
      List<List<Optimizer.Tensor>> groups, List<Map<String, Double>> hypers, int steps, long seed) {
    var builder = Optimizer.builder(program).backend(backend).fusion(fusion).arenas(arenas);
    for (int g = 0; g < groups.size(); g++) {
      builder.group(hypers.get(g), groups.get(g));
    }
    var all = groups.stream().flatMap(List::stream).toList();
    try (var opt = builder.build()) {
      var r = new Random(seed);
      for (int step = 0; step < steps; step++) {
        for (var t : all) {
          var g = new float[t.weights().length];
          for (int k = 0; k < g.length; k++) {
            g[k] = r.nextInt(16) == 0 ? 0f : (float) (r.nextGaussian() * Math.exp(r.nextGaussian()));
          }
          opt.setGrad(t.name(), g);
          supplyInputs(opt, t.name(), t.weights().length, r);
        }
        opt.step();
      }
      var out = new ArrayList<float[]>();
      for (var t : all) {
        out.add(poisonedRead(opt, "w", t.name(), t.weights().length));
        for (var s : program.ir().states()) {
          out.add(opt.state(s.name(), t.name()));
        }
      }
      return new Run(out.toArray(float[][]::new), opt.plan());
    }
  }

  /**
   * Supplies every input of the program ({@code input NAME}) for one tensor's next step, drawn from {@code r} as a
   * Hessian-diagonal estimate would be: mostly positive, some 0, a few negative. Draws nothing without inputs.
   */
  public static void supplyInputs(Optimizer opt, String tensor, int numel, Random r) {
    for (var in : opt.inputs()) {
      var x = new float[numel];
      for (int k = 0; k < x.length; k++) {
        x[k] = r.nextInt(16) == 0 ? 0f : (float) (Math.abs(r.nextGaussian()) * Math.exp(r.nextGaussian())
            * (r.nextInt(8) == 0 ? -1 : 1));
      }
      opt.setInput(in, tensor, x);
    }
  }

  public static float[] poisonedRead(Optimizer opt, String buffer, String tensor, int n) {
    var out = new float[n];
    Arrays.fill(out, Float.NaN);
    opt.engine().read(buffer, opt.layout().index(tensor), out);
    return out;
  }

  /** Storage type of each array {@link #run} returns: w, then each state, per tensor. */
  public static List<Dtype> dtypes(OptProgram program, int tensors) {
    var list = new ArrayList<Dtype>();
    for (int t = 0; t < tensors; t++) {
      list.add(Dtype.F32);
      program.ir().states().forEach(s -> list.add(s.dtype()));
    }
    return list;
  }

  /**
   * What a comparison found.
   *
   * @param values values compared
   * @param identical how many were bit-identical (or both NaN)
   * @param maxUlps the largest difference, in float32 ulps of the larger magnitude
   * @param mismatch the first value outside the tolerance ({@code "buffer 3 [17]: want 0.5, got 0.25"}),
   *     or null
   */
  public record Result(long values, long identical, double maxUlps, String mismatch) {
    public boolean ok() {
      return mismatch == null;
    }
  }

  /**
   * Compares {@code got} with {@code want} under the class's tolerance.
   *
   * @param dtypes the storage type of each array, or null for all float32
   * @param reductions whether the program reduces (sums in another order)
   */
  public static Result compare(float[][] want, float[][] got, List<Dtype> dtypes, boolean reductions) {
    if (want.length != got.length) {
      return new Result(0, 0, 0, want.length + " arrays expected, " + got.length + " found");
    }
    boolean lowPrecision = dtypes != null && dtypes.stream().anyMatch(d -> d != Dtype.F32);
    long values = 0;
    long identical = 0;
    double maxUlps = 0;
    String mismatch = null;
    for (int b = 0; b < want.length; b++) {
      var dtype = dtypes == null ? Dtype.F32 : dtypes.get(b);
      // The spacing of the storage type: 2^13 float ulps for f16 (10-bit mantissa), 2^16 for bf16.
      int storageUlps = switch (dtype) {
        case F32 -> 8;
        case F16 -> 2 << 13;
        case BF16 -> 2 << 16;
        // A code one entry off moves a value by up to a map gap times the block's absmax.
        case Q8, Q4 -> 2 << 20;
      };
      float scale = 0;
      for (float v : want[b]) {
        if (Float.isFinite(v)) {
          scale = Math.max(scale, Math.abs(v));
        }
      }
      if (want[b].length != got[b].length) {
        mismatch = mismatch != null ? mismatch : "buffer " + b + " has " + got[b].length + " values, not "
            + want[b].length;
        continue;
      }
      for (int i = 0; i < want[b].length; i++) {
        values++;
        float x = want[b][i];
        float y = got[b][i];
        if (Float.floatToIntBits(x) == Float.floatToIntBits(y) || (Float.isNaN(x) && Float.isNaN(y))) {
          identical++;
          continue;
        }
        float ulp = Math.ulp(Math.max(Math.abs(x), Math.abs(y)));
        if (Float.isFinite(ulp) && ulp > 0) {
          maxUlps = Math.max(maxUlps, Math.abs((double) x - y) / ulp);
        }
        float floor = lowPrecision ? scale / 512 : (reductions ? 1e-5f : 1e-6f) * scale;
        if (x != y && !(Math.abs(x - y) <= Math.max(storageUlps * ulp, floor)) && mismatch == null) {
          mismatch = "buffer " + b + " [" + i + "]: reference " + x + ", backend " + y;
        }
      }
    }
    return new Result(values, identical, maxUlps, mismatch);
  }

  /**
   * The standard check of one program at one fusion level: two groups of odd-shaped tensors (empty, 1,
   * primes, 2^20 + 3 at full fusion), the second with lr 3e-3, {@code steps} steps on {@code backend}
   * and on {@code reference}, compared.
   */
  public static Result check(OptProgram program, Backend reference, Backend backend, Fusion fusion, int steps,
      long seed) {
    long[][] first = fusion == Fusion.FULL
        ? new long[][] {{0}, {1}, {7}, {13, 101}, {1 << 20 | 3}, {3, 1, 5}}
        : new long[][] {{0}, {1}, {7}, {13, 101}, {65_537}, {3, 1, 5}};
    return check(program, reference, backend, fusion, steps, seed, first, new long[][] {{2, 3}, {1009}, {1, 1}});
  }

  /** {@link #check} with the shapes of the two groups given. */
  public static Result check(OptProgram program, Backend reference, Backend backend, Fusion fusion, int steps,
      long seed, long[][] first, long[][] second) {
    var r = new Random(seed ^ program.name().hashCode() ^ fusion.ordinal());
    var groups = List.of(tensors(r, first, "a"), tensors(r, second, "b"));
    var hyperNames = program.ir().hypers().stream().map(h -> h.name()).toList();
    var overrides = hyperNames.contains("lr") ? Map.of("lr", 3e-3) : Map.<String, Double>of();
    var hypers = List.of(Map.<String, Double>of(), overrides);
    var want = execute(program, reference, Arenas.BACKEND, fusion, groups, hypers, steps, seed);
    var got = execute(program, backend, Arenas.BACKEND, fusion, groups, hypers, steps, seed);
    boolean reductions = !program.ir().metrics().isEmpty() || !got.plan().reductions().isEmpty()
        || got.plan().hasProducts();
    return compare(want.values(), got.values(), dtypes(program, first.length + second.length), reductions);
  }
}
