package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.plan.Fusion;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Running the same steps on two backends and comparing what they leave behind: shared by the device
 * backends' tests (OpenCL, CUDA) against the Java reference. Results are read into NaN-poisoned arrays so
 * an element a kernel failed to write shows up.
 *
 * <p>Tolerance: device kernels are built without contraction (no fma) and with correctly rounded division
 * and square root, so the arithmetic is the Java reference's; only the math library (exp, log, pow, tanh,
 * sin, cos) may differ by a few ulp, and that difference can grow over steps. Reductions add in a
 * different order. Values must agree within 8 ulp of the larger magnitude, or within 1e-6 of the
 * buffer's largest value for values near zero; a bf16 or f16 state within 2 ulp of its own type (one
 * rounding tie decided the other way moves a whole ulp), and in a program with such a state every buffer
 * within 2^-9 of its largest value (that ulp flows on into the weights). Programs with reductions: within
 * 1e-5 of the buffer's largest value.
 */
public final class BackendComparison {
  private BackendComparison() {}

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

  /** Runs {@code steps} steps; returns weights then states of every tensor, read into poisoned arrays. */
  public static float[][] run(OptProgram program, Backend backend, Fusion fusion, List<List<Optimizer.Tensor>> groups,
      List<Map<String, Double>> hypers, int steps, long seed) {
    var builder = Optimizer.builder(program).backend(backend).fusion(fusion);
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
      return out.toArray(float[][]::new);
    }
  }

  public static float[] poisonedRead(Optimizer opt, String buffer, String tensor, int n) {
    var out = new float[n];
    Arrays.fill(out, Float.NaN);
    opt.engine().read(buffer, opt.layout().index(tensor), out);
    return out;
  }

  /** Storage type of each array {@link #run} returns: w, then each state, per tensor. */
  public static List<dev.optc.compiler.ir.Dtype> dtypes(OptProgram program, int tensors) {
    var list = new ArrayList<dev.optc.compiler.ir.Dtype>();
    for (int t = 0; t < tensors; t++) {
      list.add(dev.optc.compiler.ir.Dtype.F32);
      program.ir().states().forEach(s -> list.add(s.dtype()));
    }
    return list;
  }

  public static void assertClose(float[][] want, float[][] got, String what) {
    assertClose(want, got, null, what);
  }

  public static void assertClose(float[][] want, float[][] got, List<dev.optc.compiler.ir.Dtype> dtypes, String what) {
    assertClose(want, got, dtypes, false, what);
  }

  public static void assertClose(float[][] want, float[][] got, List<dev.optc.compiler.ir.Dtype> dtypes,
      boolean reductions, String what) {
    assertEquals(want.length, got.length);
    boolean lowPrecision = dtypes != null && dtypes.stream().anyMatch(d -> d != dev.optc.compiler.ir.Dtype.F32);
    for (int b = 0; b < want.length; b++) {
      var dtype = dtypes == null ? dev.optc.compiler.ir.Dtype.F32 : dtypes.get(b);
      // The spacing of the storage type: 2^13 float ulps for f16 (10-bit mantissa), 2^16 for bf16.
      int storageUlps = switch (dtype) {
        case F32 -> 8;
        case F16 -> 2 << 13;
        case BF16 -> 2 << 16;
      };
      float scale = 0;
      for (float v : want[b]) {
        if (Float.isFinite(v)) {
          scale = Math.max(scale, Math.abs(v));
        }
      }
      for (int i = 0; i < want[b].length; i++) {
        float x = want[b][i];
        float y = got[b][i];
        if (x == y || (Float.isNaN(x) && Float.isNaN(y))) {
          continue;
        }
        float ulps = storageUlps * Math.ulp(Math.max(Math.abs(x), Math.abs(y)));
        float floor = lowPrecision ? scale / 512 : (reductions ? 1e-5f : 1e-6f) * scale;
        if (!(Math.abs(x - y) <= Math.max(ulps, floor))) {
          fail(what + ": buffer " + b + " [" + i + "]: java " + x + ", opencl " + y);
        }
      }
    }
  }
}
