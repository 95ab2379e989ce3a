package dev.optc.training;

import dev.optc.bench.Stats;
import dev.optc.bench.Workload;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.java.JavaBackend;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.global.torch;

/**
 * optc's AdamW step against libtorch's {@code torch::optim::AdamW} on the same parameters, in one run: a
 * module with GPT-2 small's 148 parameter tensors (124M floats, {@link Workload#gpt2Small()}), bound the way
 * training binds it (optc: views of its native arenas, {@link OptcStepRunner}; libtorch: views of buffers of
 * its own, {@link TorchStepRunner}), synthetic gradients written into each runner's gradient buffer once, then
 * warm-up steps and timed steps of each. Both run {@code $OPTC_TORCH_THREADS} threads (optc's Java backend as
 * many). Run by {@code benchmarks/train_step.sh}; prints a table and the ratio.
 *
 * <p>Arguments: {@code [steps (default 10)] [warmup (default 2)] [model: gpt2-small | a parameter count]}.
 */
public final class StepBench {
  private StepBench() {}

  public static void main(String[] args) throws Exception {
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    int warmup = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    var workload = args.length > 2 && !args[2].equals("gpt2-small") ? Workload.flat(Workload.parseCount(args[2]))
        : Workload.gpt2Small();
    Natives.load();
    int threads = Natives.threads();
    var program = OptProgram.load("adamw");
    var hypers = HostEvaluator.hyperValues(program.ir(), Map.of());
    var factories = List.of(
        OptcStepRunner.factory(program, new JavaBackend(JavaEmitter.Precision.F32, threads), Map.of()),
        TorchStepRunner.factory("adamw", hypers));
    System.out.printf(Locale.ROOT, "AdamW step, %s: %,d parameters in %d tensors, %d threads, %d warm-up + %d timed"
        + " steps, synthetic gradients%n", workload.name(), workload.numel(), workload.tensorCount(), threads, warmup,
        steps);
    System.out.printf("%-8s  %-9s  %10s  %10s  %10s%n", "runner", "binding", "median ms", "min ms", "max ms");
    var medians = new ArrayList<Double>();
    for (var factory : factories) {
      var module = new Module("gpt2");
      int i = 0;
      for (var shape : workload.shapes()) {
        module.register_parameter("p" + i++, torch.zeros(shape));
      }
      try (var runner = factory.open(module)) {
        var grads = runner.params().grads();
        var random = new SplittableRandom(7);
        for (long k = 0; k < grads.byteSize() / Float.BYTES; k++) {
          grads.setAtIndex(ValueLayout.JAVA_FLOAT, k, (float) (random.nextDouble() - 0.5) * 1e-2f);
        }
        for (int s = 0; s < warmup; s++) {
          runner.step();
        }
        var seconds = new double[steps];
        for (int s = 0; s < steps; s++) {
          long t0 = System.nanoTime();
          runner.step();
          seconds[s] = (System.nanoTime() - t0) / 1e9;
        }
        runner.params().checkViews();
        var stats = Stats.of(seconds);
        medians.add(stats.median());
        System.out.printf(Locale.ROOT, "%-8s  %-9s  %10.1f  %10.1f  %10.1f%n", factory.runner(),
            factory.runner().equals("optc") ? "arenas" : "own", 1e3 * stats.median(), 1e3 * stats.min(),
            1e3 * stats.max());
      }
      module.close();
    }
    System.out.printf(Locale.ROOT, "libtorch / optc: %.2fx%n", medians.get(1) / medians.get(0));
  }
}
