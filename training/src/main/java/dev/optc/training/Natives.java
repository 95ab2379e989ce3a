package dev.optc.training;

import dev.optc.runtime.OptcException;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.presets.openblas_nolapack;
import org.bytedeco.pytorch.global.torch;

/**
 * Loads libtorch (JavaCPP's PyTorch presets) once per process, around the traps measured on this project's
 * machines:
 *
 * <ul>
 *   <li>On a machine with Debian's {@code python3-torch}, a cold native cache ({@code ~/.javacpp/cache}) made the
 *       dynamic linker resolve {@code libtorch_cpu.so} to the system's libtorch 1.13 while JavaCPP loaded its own
 *       2.10 copy too: both registered their operators and the JVM crashed in {@code pthread_mutex_lock}
 *       (reproduced here with a fresh cache directory). Extracting {@code libtorch_cpu.so} into the cache
 *       first ({@link Loader#cacheResource}) makes every later {@code dlopen} find the presets' copy.
 *   <li>OpenMP workers busy-wait between parallel regions, and on two shared cores they take the time from the
 *       thread that has work: libtorch and OpenBLAS (which keeps its own thread count, all cores, untouched by
 *       {@code torch::set_num_threads}) both run {@link #threads()} threads, {@code $OPTC_TORCH_THREADS}, default
 *       1. Measured on the digits MLP (2 cores, shared): forward and backward 0.8 ms a step with both at 1 thread,
 *       2.6 to 9 ms with libtorch at 1 and OpenBLAS at its default, 134 ms with both at 2.
 *   <li>Every torch call of a run happens on the thread that made its {@link FlatParameters} (JavaCPP's
 *       {@code PointerScope} and autograd's grad mode are per thread); {@link FlatParameters} checks it.
 * </ul>
 *
 * <p>A machine without the natives (another platform, a damaged cache) gets one line saying why: {@link
 * #unavailable()} for tests that skip, an {@link OptcException} from {@link #load()} for the CLI.
 */
public final class Natives {
  private static final String PLATFORM = "linux-x86_64";
  private static String failure;
  private static boolean loaded;
  private static int threads;

  private Natives() {}

  /**
   * Loads libtorch if that has not been done, and sets its thread count.
   *
   * @throws OptcException libtorch cannot run here; the message says why in one line
   */
  public static synchronized void load() {
    if (loaded) {
      return;
    }
    if (failure != null) {
      throw new OptcException(failure);
    }
    int wanted = configuredThreads();
    try {
      var platform = Loader.getPlatform();
      if (!platform.equals(PLATFORM)) {
        throw new IllegalStateException("optc ships libtorch for " + PLATFORM + " only; this is " + platform);
      }
      // Before any class of the presets loads libtorch: see the class comment.
      Loader.cacheResource(torch.class, "/org/bytedeco/pytorch/" + platform + "/libtorch_cpu.so");
      Loader.load(torch.class);
      threads = wanted;
      torch.set_num_threads(threads);
      // OpenBLAS keeps its own count (all cores) and its OpenMP workers spin between calls: set it too.
      openblas_nolapack.blas_set_num_threads(threads);
      loaded = true;
    } catch (Throwable e) { // UnsatisfiedLinkError, IOException, ExceptionInInitializerError, ...
      var message = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
      failure = "libtorch cannot be loaded on this machine (" + e.getClass().getSimpleName() + ": " + message + ")";
      throw new OptcException(failure, e);
    }
  }

  /** Why libtorch cannot be loaded here, or null when it can (it is then loaded). */
  public static synchronized String unavailable() {
    try {
      load();
      return null;
    } catch (OptcException e) {
      return e.getMessage();
    }
  }

  /** The number of threads libtorch runs its operators on. */
  public static synchronized int threads() {
    load();
    return threads;
  }

  /** {@code $OPTC_TORCH_THREADS}, default 1; read without loading anything (optc's Java backend runs as many). */
  public static int configuredThreads() {
    var text = System.getenv("OPTC_TORCH_THREADS");
    if (text == null || text.isBlank()) {
      return 1;
    }
    try {
      int n = Integer.parseInt(text.strip());
      if (n >= 1 && n <= 1024) {
        return n;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new OptcException("$OPTC_TORCH_THREADS must be a number of threads from 1 to 1024, not '" + text
        + "'");
  }
}
