package dev.optc.runtime.opencl;

import dev.optc.runtime.Backend;
import dev.optc.runtime.BackendProvider;

/** {@code opencl} or {@code opencl:PLATFORM:DEVICE}. */
public final class OpenClBackendProvider implements BackendProvider {
  @Override
  public String usage() {
    return "opencl[:PLATFORM:DEVICE]";
  }

  @Override
  public boolean accepts(String spec) {
    return spec.equals("opencl") || spec.startsWith("opencl:");
  }

  @Override
  public Backend create(String spec, int threads) {
    return OpenClBackend.select(spec.equals("opencl") ? "" : spec.substring("opencl:".length()));
  }
}
