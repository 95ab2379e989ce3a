package dev.optc.runtime.java;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.runtime.Backend;
import dev.optc.runtime.BackendProvider;

/** {@code java} (float32, the reference) and {@code java64} (float64, to measure float32's error). */
public final class JavaBackendProvider implements BackendProvider {
  @Override
  public String usage() {
    return "java, java64";
  }

  @Override
  public boolean accepts(String spec) {
    return spec.equals("java") || spec.equals("java64");
  }

  @Override
  public Backend create(String spec, int threads) {
    return new JavaBackend(spec.equals("java") ? JavaEmitter.Precision.F32 : JavaEmitter.Precision.F64, threads);
  }
}
