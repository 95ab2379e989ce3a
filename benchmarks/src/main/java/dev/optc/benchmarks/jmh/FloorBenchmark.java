package dev.optc.benchmarks.jmh;

import dev.optc.bench.Floors;
import dev.optc.bench.Harness;
import dev.optc.compiler.plan.Cost;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.opencl.OpenClBackend;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The floors of {@link StepBenchmark}'s steps: the copy over the bytes the fused step of {@code optimizer}
 * moves, and the probe with its access pattern ({@link Floors}), on the same backend and workload.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
    "-XX:+UseParallelGC", "-XX:MaxRAMPercentage=75"})
public class FloorBenchmark {
  @Param({"java", "opencl"})
  public String backend;

  @Param({"adamw", "adam", "sgd", "adagrad", "rmsprop", "nadam"})
  public String optimizer;

  /** {@code copy} or {@code probe}. */
  @Param({"copy", "probe"})
  public String floor;

  @Param({"flat-16M", "flat-64M", "gpt2-small", "tensors-1000"})
  public String workload;

  @Param({"0"})
  public int threads;

  private Floors.Kernel copy;
  private Optimizer probe;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    var program = OptProgram.load(optimizer);
    var w = JmhParams.workload(workload);
    var b = JmhParams.backend(backend, threads);
    if (floor.equals("copy")) {
      long bytes = (long) Cost.of(Planner.plan(program.ir(), Fusion.FULL)).bytesPerElement() * w.numel();
      copy = b instanceof OpenClBackend o ? Floors.openClCopy(o.device(), bytes)
          : Floors.javaCopy(bytes, Harness.threadsOf(b));
    } else if (floor.equals("probe")) {
      probe = Harness.bind(b, Floors.probe(program), Fusion.FULL, w, Map.of());
    } else {
      throw new IllegalArgumentException("floor must be copy or probe, not " + floor);
    }
  }

  @Benchmark
  public void run() {
    if (copy != null) {
      copy.run();
    } else {
      probe.step();
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    if (copy != null) {
      copy.close();
    }
    if (probe != null) {
      probe.close();
    }
  }
}
