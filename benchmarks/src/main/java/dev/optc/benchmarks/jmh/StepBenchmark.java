package dev.optc.benchmarks.jmh;

import dev.optc.bench.Harness;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
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
 * One optimizer step: backend × optimizer × fusion level × workload. The full matrix takes hours; pick with
 * JMH's {@code -p}, e.g.
 * {@code java -jar benchmarks/target/benchmarks.jar StepBenchmark -p backend=java -p optimizer=adamw -p workload=flat-64M}.
 * {@code optc bench} measures the same steps with the floors beside them, and is what the README reports.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
    "-XX:+UseParallelGC", "-XX:MaxRAMPercentage=75"})
public class StepBenchmark {
  /** {@code java} or {@code opencl} (the default OpenCL device, or $OPTC_DEVICE). */
  @Param({"java", "opencl"})
  public String backend;

  @Param({"adamw", "adam", "sgd", "adagrad", "rmsprop", "nadam"})
  public String optimizer;

  @Param({"full", "statement", "none"})
  public String fusion;

  /** {@code flat-16M}, {@code flat-64M}, {@code gpt2-small} or {@code tensors-1000}. */
  @Param({"flat-16M", "flat-64M", "gpt2-small", "tensors-1000"})
  public String workload;

  /** Threads of the java backend; 0 means every core. */
  @Param({"0"})
  public int threads;

  private Optimizer opt;

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    var program = OptProgram.load(optimizer);
    opt = Harness.bind(JmhParams.backend(backend, threads), program, JmhParams.fusion(fusion),
        JmhParams.workload(workload), Harness.PEER_HYPERS.getOrDefault(program.name(), Map.of()));
  }

  @Benchmark
  public void step() {
    opt.step();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    opt.close();
  }
}
