package dev.optc.runtime;

import java.util.List;
import java.util.ServiceLoader;

/**
 * Makes {@link Backend}s from command-line names ({@code java}, {@code opencl:0:0}, …). Providers are
 * found with {@link ServiceLoader} ({@code META-INF/services/dev.optc.runtime.BackendProvider}), so a
 * backend is added without touching the CLI, and the build needs no device to compile any of them.
 */
public interface BackendProvider {

  /** The names this provider answers to, for help texts: {@code opencl[:PLATFORM:DEVICE]}. */
  String usage();

  /** Whether {@code spec} (the whole --backend value) names this provider's backend. */
  boolean accepts(String spec);

  /**
   * @param threads host threads for CPU backends
   * @throws OptcException the backend cannot run here (no device, no driver), in one line
   */
  Backend create(String spec, int threads);

  static List<BackendProvider> all() {
    return ServiceLoader.load(BackendProvider.class).stream().map(ServiceLoader.Provider::get).toList();
  }

  /** The backend for a --backend value. */
  static Backend forName(String spec, int threads) {
    var providers = all();
    for (var p : providers) {
      if (p.accepts(spec)) {
        return p.create(spec, threads);
      }
    }
    throw new OptcException("unknown backend '" + spec + "' (available: "
        + String.join(", ", providers.stream().map(BackendProvider::usage).toList()) + ")");
  }
}
