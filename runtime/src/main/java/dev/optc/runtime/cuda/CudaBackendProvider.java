package dev.optc.runtime.cuda;

import dev.optc.runtime.Backend;
import dev.optc.runtime.BackendProvider;

/** {@code cuda} or {@code cuda:DEVICE}. */
public final class CudaBackendProvider implements BackendProvider {
  @Override
  public String usage() {
    return "cuda[:DEVICE]";
  }

  @Override
  public boolean accepts(String spec) {
    return spec.equals("cuda") || spec.startsWith("cuda:");
  }

  @Override
  public Backend create(String spec, int threads) {
    return CudaBackend.select(spec.equals("cuda") ? "" : spec.substring("cuda:".length()));
  }
}
