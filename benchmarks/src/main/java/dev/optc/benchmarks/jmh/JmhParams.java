package dev.optc.benchmarks.jmh;

import dev.optc.bench.Workload;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Backend;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenClBackend;
import java.util.Locale;

/** The JMH {@code @Param} strings, parsed. */
final class JmhParams {
  private JmhParams() {}

  static Backend backend(String name, int threads) {
    int n = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
    return switch (name) {
      case "java" -> new JavaBackend(JavaEmitter.Precision.F32, n);
      case "opencl" -> OpenClBackend.select("");
      default -> throw new IllegalArgumentException("backend must be java or opencl, not " + name);
    };
  }

  static Fusion fusion(String name) {
    return Fusion.valueOf(name.toUpperCase(Locale.ROOT));
  }

  /** {@code flat-N} (N as {@code 64M}), {@code gpt2-small} or {@code tensors-K}. */
  static Workload workload(String name) {
    if (name.startsWith("flat-")) {
      return Workload.flat(Workload.parseCount(name.substring("flat-".length())));
    }
    if (name.startsWith("tensors-")) {
      return Workload.tensors(Integer.parseInt(name.substring("tensors-".length())));
    }
    return Workload.model(name);
  }
}
