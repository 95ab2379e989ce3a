package dev.optc.runtime.java;

import com.palantir.javapoet.JavaFile;
import dev.optc.compiler.codegen.java.InterpretedStep;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Backend;
import dev.optc.runtime.Engine;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;

/**
 * The Java reference backend: the generated Java class, run over chunks of the flat buffers by a pool
 * of threads. In {@link JavaEmitter.Precision#F32} it is the oracle every other backend is tested
 * against; in {@link JavaEmitter.Precision#F64} it measures float32's own error.
 */
public record JavaBackend(JavaEmitter.Precision precision, int threads, boolean interpreted) implements Backend {

  /**
   * The most threads a Java engine takes: far more than any machine's cores, far fewer than a thread
   * pool's own limit (32,767) or what the OS allows a process without tuning.
   */
  public static final int MAX_THREADS = 1024;

  public JavaBackend {
    checkThreads(threads, "threads");
  }

  public JavaBackend(JavaEmitter.Precision precision, int threads) {
    this(precision, threads, false);
  }

  /**
   * The float32 backend with steps run by {@link InterpretedStep} where the plan allows (no javac, no warm-up
   * per program; the generated class's bits): what a program search evaluates candidates with.
   */
  public static JavaBackend interpreted(int threads) {
    return new JavaBackend(JavaEmitter.Precision.F32, threads, true);
  }

  /** A thread count a user gave under {@code flag}: 1 to {@link #MAX_THREADS}, or a one-line error. */
  public static int checkThreads(int threads, String flag) {
    if (threads < 1 || threads > MAX_THREADS) {
      throw new OptcException(flag + " must be between 1 and " + MAX_THREADS + " (this machine has "
          + Runtime.getRuntime().availableProcessors() + " cores), not " + threads);
    }
    return threads;
  }

  /** float32, as many threads as the machine has cores. */
  public static JavaBackend reference() {
    return new JavaBackend(JavaEmitter.Precision.F32, Runtime.getRuntime().availableProcessors());
  }

  @Override
  public String name() {
    return precision == JavaEmitter.Precision.F32 ? "java" : "java64";
  }

  @Override
  public Source source(Plan plan) {
    return sourceOf(JavaEmitter.emit(plan, precision));
  }

  /** A generated class as source, at its package's path. */
  public static Source sourceOf(JavaFile file) {
    return new Source(file.packageName().replace('.', '/') + "/" + file.typeSpec().name() + ".java", file.toString());
  }

  @Override
  public Engine open(OptProgram program, Plan plan, Layout layout) {
    return new JavaEngine(program, layout, plan, precision, threads, interpreted);
  }
}
