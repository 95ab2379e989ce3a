package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.java.JavaBackend;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Binding, stepping and comparing optimizers in the runtime's tests. */
final class Fixtures {
  private Fixtures() {}

  /** A tensor to bind: name, shape, group. */
  record TensorSpec(String name, long[] shape, int group) {
    int numel() {
      return MatrixView.of(shape).numel();
    }

    TensorSpec inGroup(int g) {
      return new TensorSpec(name, shape, g);
    }
  }

  /** Everything about an optimizer that a step or a checkpoint can change. */
  record Snapshot(long t, Map<String, float[]> weights, Map<String, float[]> states,
      List<Map<String, Double>> hypers, List<Map<String, Double>> overrides) {}

  static OptProgram compile(String name, String source) throws CompileException {
    return OptProgram.compile(SourceFile.of(name + ".opt", source), Pipeline.Options.DEFAULT);
  }

  /** A hyper of {@code p} besides {@code lr} that tests change, with values in (0, 1). */
  static String secondHyper(OptProgram p) {
    for (var h : List.of("beta1", "beta", "momentum", "alpha", "rho")) {
      if (p.ir().hypers().stream().anyMatch(x -> x.name().equals(h))) {
        return h;
      }
    }
    throw new AssertionError("no second hyper in " + p.name());
  }

  static float[] randomArray(Random rnd, int n, float scale) {
    var a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (rnd.nextGaussian() * scale);
    }
    return a;
  }

  static Map<String, float[]> randomWeights(Random rnd, List<TensorSpec> specs) {
    var m = new LinkedHashMap<String, float[]>();
    specs.forEach(s -> m.put(s.name(), randomArray(rnd, s.numel(), 1f)));
    return m;
  }

  /** Gradients of {@code steps} steps, each step with its own scale. */
  static List<Map<String, float[]>> randomGrads(Random rnd, List<TensorSpec> specs, int steps) {
    var list = new ArrayList<Map<String, float[]>>();
    for (int k = 0; k < steps; k++) {
      var m = new LinkedHashMap<String, float[]>();
      for (var s : specs) {
        m.put(s.name(), randomArray(rnd, s.numel(), 0.1f + rnd.nextFloat()));
      }
      list.add(m);
    }
    return list;
  }

  static int groups(List<TensorSpec> specs) {
    return specs.stream().mapToInt(TensorSpec::group).max().orElse(0) + 1;
  }

  static List<Map<String, Double>> noOverrides(int groups) {
    var l = new ArrayList<Map<String, Double>>();
    for (int g = 0; g < groups; g++) {
      l.add(Map.of());
    }
    return l;
  }

  /** Binds {@code specs} (group {@code g} gets {@code overrides.get(g)}) with copies of the weights. */
  static Optimizer build(OptProgram p, Backend backend, List<TensorSpec> specs,
      List<Map<String, Double>> overrides, Map<String, float[]> weights) {
    return build(p, backend, Fusion.FULL, specs, overrides, weights);
  }

  static Optimizer build(OptProgram p, Backend backend, Fusion fusion, List<TensorSpec> specs,
      List<Map<String, Double>> overrides, Map<String, float[]> weights) {
    var b = Optimizer.builder(p).backend(backend).fusion(fusion);
    for (int g = 0; g < overrides.size(); g++) {
      int group = g;
      b.group(overrides.get(g), specs.stream().filter(s -> s.group() == group)
          .map(s -> new Optimizer.Tensor(s.name(), s.shape(), weights.get(s.name()).clone())).toList());
    }
    return b.build();
  }

  static Optimizer build(OptProgram p, List<TensorSpec> specs, List<Map<String, Double>> overrides,
      Map<String, float[]> weights) {
    return build(p, JavaBackend.reference(), specs, overrides, weights);
  }

  /** Steps {@code from} (inclusive) to {@code to} (exclusive) of {@code grads}, for the tensors it has. */
  static void run(Optimizer opt, List<Map<String, float[]>> grads, int from, int to) {
    var names = opt.layout().tensors().stream().map(Layout.Tensor::name).toList();
    for (int k = from; k < to; k++) {
      for (var n : names) {
        opt.setGrad(n, grads.get(k).get(n));
      }
      opt.step();
    }
  }

  static Map<String, float[]> weights(Optimizer opt) {
    var m = new LinkedHashMap<String, float[]>();
    opt.layout().tensors().forEach(t -> m.put(t.name(), opt.weights(t.name())));
    return m;
  }

  /** Every state of every tensor, keyed {@code state/tensor}. */
  static Map<String, float[]> states(Optimizer opt) {
    var states = new LinkedHashMap<String, float[]>();
    for (var s : opt.program().ir().states()) {
      for (var t : opt.layout().tensors()) {
        states.put(s.name() + "/" + t.name(), opt.state(s.name(), t.name()));
      }
    }
    return states;
  }

  static Snapshot snapshot(Optimizer opt) {
    var hypers = new ArrayList<Map<String, Double>>();
    var overrides = new ArrayList<Map<String, Double>>();
    for (int g = 0; g < opt.layout().groups(); g++) {
      var h = new LinkedHashMap<String, Double>();
      for (var info : opt.program().ir().hypers()) {
        h.put(info.name(), opt.hyper(g, info.name()));
      }
      hypers.add(h);
      overrides.add(opt.hyperOverrides(g));
    }
    return new Snapshot(opt.t(), weights(opt), states(opt), hypers, overrides);
  }

  /** Bit-identical (NaNs compare equal, +0 and -0 do not), with the first difference in the message. */
  static void assertSameBits(float[] expected, float[] actual, String what) {
    assertEquals(expected.length, actual.length, what + ": length");
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
        fail(what + ": first difference at [" + i + "] of " + expected.length + ": expected " + expected[i]
            + " but was " + actual[i]);
      }
    }
  }

  /** Every array of {@code expected} equals the one of the same key in {@code actual}, bit for bit. */
  static void assertSameBits(Map<String, float[]> expected, Map<String, float[]> actual, String what) {
    assertEquals(expected.keySet(), actual.keySet(), what + ": keys");
    for (var k : expected.keySet()) {
      assertSameBits(expected.get(k), actual.get(k), what + ": " + k);
    }
  }

  static void assertSameSnapshot(Snapshot expected, Snapshot actual, String what) {
    assertEquals(expected.t(), actual.t(), what + ": t");
    assertSameBits(expected.weights(), actual.weights(), what + ": weights");
    assertSameBits(expected.states(), actual.states(), what + ": states");
    assertEquals(expected.hypers(), actual.hypers(), what + ": hyper values");
    assertEquals(expected.overrides(), actual.overrides(), what + ": hyper overrides");
  }
}
