package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.optc.runtime.device.Downcalls;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;

/**
 * Raw FFM bindings to NVRTC, the CUDA runtime compiler ({@code libnvrtc.so}, part of the CUDA toolkit,
 * not of the driver): one {@code static final} {@link MethodHandle} per C function with the exact C
 * signature of {@code nvrtc.h} ({@code nvrtcResult} and {@code int} → {@code JAVA_INT}, {@code size_t}
 * → {@code JAVA_LONG}, {@code nvrtcProgram} and pointers → {@code ADDRESS}). {@link Nvrtc} is the
 * idiomatic layer.
 *
 * <p>Where the library is: the toolkit installs it in several places and under a versioned name, and
 * no package puts it on the loader's default path, so it is searched for, in this order:
 * <ol>
 *   <li>{@code $OPTC_NVRTC}, if set: that file (or that directory), and nothing else, so a wrong value
 *       is an error rather than a silent fallback;
 *   <li>{@code libnvrtc.so.13}, {@code .so.12}, {@code .so.11.2}, {@code libnvrtc.so} in each of the
 *       {@code $LD_LIBRARY_PATH} entries, {@code $CUDA_HOME/lib64}, {@code $CUDA_PATH/lib64},
 *       {@code /usr/local/cuda/lib64}, {@code /usr/local/cuda/targets/x86_64-linux/lib}, the versioned
 *       {@code /usr/local/cuda-*}{@code /lib64} (newest first), {@code /usr/lib/x86_64-linux-gnu},
 *       {@code $CONDA_PREFIX/lib}, and pip's {@code nvidia/cu13/lib} and {@code nvidia/cuda_nvrtc/lib}
 *       (the {@code nvidia-cuda-nvrtc} wheels) under the Python package directories of
 *       {@code $VIRTUAL_ENV}, {@code /usr/local/lib}, {@code /usr/lib}, {@code ~/.local/lib} and pyenv;
 *   <li>the same names through the dynamic loader's own search ({@code ldconfig}'s cache).
 * </ol>
 *
 * <p>NVRTC {@code dlopen}s its builtins library ({@code libnvrtc-builtins.so.MAJOR.MINOR}) by bare name
 * at the first compile, which fails when the directory it lives in is not on the loader's path (as in
 * every case above but the last). So once NVRTC is loaded from a directory, the builtins beside it are
 * loaded too: the loader then finds them already mapped, by their soname.
 *
 * <p>As with {@link CuRaw}, this class always initializes: without NVRTC every function throws an
 * {@link dev.optc.runtime.OptcException} with {@link #loadFailure()}'s message.
 */
public final class NvrtcRaw {

  /** The environment variable that names the library to use (a file, or a directory holding it). */
  public static final String ENV_OVERRIDE = "OPTC_NVRTC";

  /** The sonames tried in every directory, newest first. */
  static final List<String> NAMES = List.of("libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so");

  static final String INSTALL_HINT = "install the CUDA toolkit's NVRTC (or 'pip install nvidia-cuda-nvrtc') or set "
      + ENV_OVERRIDE + " to the path of libnvrtc.so";

  /** What the search found: the library, where it was, and its directory when known. */
  record Found(SymbolLookup lookup, String location, Optional<Path> directory) {}

  /** The search's outcome: exactly one of {@code found} and {@code failure}. */
  record Search(Optional<Found> found, Optional<String> failure) {
    static Search of(Found found) {
      return new Search(Optional.of(found), Optional.empty());
    }

    static Search failed(String failure) {
      return new Search(Optional.empty(), Optional.of(failure));
    }
  }

  private static final Found FOUND;
  private static final String LOAD_FAILURE;
  private static final Downcalls NVRTC;

  static {
    var search = ADDRESS.byteSize() == 8
        ? search(System.getenv())
        : Search.failed("NVRTC is not available: optc's NVRTC bindings need a 64-bit JVM");
    FOUND = search.found().orElse(null);
    LOAD_FAILURE = search.failure().orElse(null);
    NVRTC = new Downcalls(FOUND == null ? null : FOUND.lookup(), FOUND == null ? "libnvrtc" : FOUND.location(),
        LOAD_FAILURE);
  }

  /**
   * Searches for NVRTC as described above, with {@code env} standing in for the process's environment
   * (so tests can try an override), and loads the first library that loads.
   */
  static Search search(Map<String, String> env) {
    return search(env, NvrtcRaw::load);
  }

  /** {@link #search(Map)} with the loader given: {@code load} returns null for a file that does not load. */
  static Search search(Map<String, String> env, Function<Path, SymbolLookup> load) {
    var override = env.getOrDefault(ENV_OVERRIDE, "").strip();
    if (!override.isEmpty()) {
      var path = Path.of(override);
      if (Files.isDirectory(path)) {
        for (var name : NAMES) {
          var candidate = path.resolve(name);
          if (Files.isRegularFile(candidate)) {
            return loadOverride(candidate, load);
          }
        }
        return Search.failed("NVRTC is not available: " + ENV_OVERRIDE + "=" + override + " is a directory without "
            + String.join(", ", NAMES));
      }
      if (!Files.exists(path)) {
        return Search.failed("NVRTC is not available: " + ENV_OVERRIDE + "=" + override + " names no file; set it to"
            + " the path of libnvrtc.so (e.g. /usr/local/cuda/lib64/libnvrtc.so.13) or unset it to search the"
            + " usual places");
      }
      return loadOverride(path, load);
    }
    var unloadable = new ArrayList<String>();
    for (var dir : directories(env)) {
      for (var name : NAMES) {
        var candidate = dir.resolve(name);
        if (Files.isRegularFile(candidate)) {
          var lib = load.apply(candidate);
          if (lib != null) {
            return Search.of(new Found(lib, candidate.toString(), Optional.of(dir)));
          }
          unloadable.add(candidate.toString());
        }
      }
    }
    for (var name : NAMES) {
      var lib = loadByName(name);
      if (lib != null) {
        return Search.of(new Found(lib, name, Optional.empty()));
      }
    }
    var why = "NVRTC is not available: no " + String.join(", ", NAMES) + " in $LD_LIBRARY_PATH, $CUDA_HOME/lib64,"
        + " /usr/local/cuda/lib64, /usr/local/cuda/targets/x86_64-linux/lib, /usr/lib/x86_64-linux-gnu or pip's"
        + " nvidia/*/lib, nor on the loader's path";
    if (!unloadable.isEmpty()) {
      why += " (found but could not load " + String.join(", ", unloadable) + ")";
    }
    return Search.failed(why + "; " + INSTALL_HINT);
  }

  private static Search loadOverride(Path path, Function<Path, SymbolLookup> load) {
    var lib = load.apply(path);
    if (lib == null) {
      return Search.failed("NVRTC is not available: " + ENV_OVERRIDE + "=" + path + " could not be loaded as a"
          + " shared library for this machine (is it libnvrtc.so, for x86-64 Linux?)");
    }
    return Search.of(new Found(lib, path.toString(), Optional.ofNullable(path.toAbsolutePath().getParent())));
  }

  /** The directories searched, in order, without duplicates; only those that exist. */
  static List<Path> directories(Map<String, String> env) {
    var dirs = new LinkedHashSet<Path>();
    for (var entry : env.getOrDefault("LD_LIBRARY_PATH", "").split(":")) {
      if (!entry.isBlank()) {
        dirs.add(Path.of(entry.strip()));
      }
    }
    for (var home : new String[] {env.get("CUDA_HOME"), env.get("CUDA_PATH")}) {
      if (home != null && !home.isBlank()) {
        dirs.add(Path.of(home.strip(), "lib64"));
        dirs.add(Path.of(home.strip(), "lib"));
      }
    }
    dirs.add(Path.of("/usr/local/cuda/lib64"));
    dirs.add(Path.of("/usr/local/cuda/targets/x86_64-linux/lib"));
    // /usr/local/cuda-12.4, /usr/local/cuda-13.0, ...: newest first, by version, not by string.
    subdirectories(Path.of("/usr/local"), "cuda-").stream()
        .sorted(Comparator.comparing((Path p) -> versionKey(p.getFileName().toString().substring(5))).reversed())
        .forEach(p -> dirs.add(p.resolve("lib64")));
    dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
    // conda's cuda-nvrtc package puts the library straight into the environment's lib.
    var conda = env.get("CONDA_PREFIX");
    if (conda != null && !conda.isBlank()) {
      dirs.add(Path.of(conda.strip(), "lib"));
    }
    var pythonRoots = new ArrayList<Path>();
    pythonRoots.add(Path.of("/usr/lib/python3/dist-packages"));
    var home = env.getOrDefault("HOME", "/root");
    var pythonLibs = new ArrayList<Path>(List.of(Path.of("/usr/local/lib"), Path.of("/usr/lib"),
        Path.of(home, ".local", "lib")));
    var venv = env.get("VIRTUAL_ENV");
    if (venv != null && !venv.isBlank()) {
      pythonLibs.addFirst(Path.of(venv.strip(), "lib"));
    }
    for (var pyenv : subdirectories(Path.of(home, ".pyenv", "versions"), "")) {
      pythonLibs.add(pyenv.resolve("lib"));
    }
    for (var base : pythonLibs) {
      for (var python : subdirectories(base, "python3")) {
        pythonRoots.add(python.resolve("site-packages"));
        pythonRoots.add(python.resolve("dist-packages"));
      }
    }
    for (var root : pythonRoots) {
      dirs.add(root.resolve("nvidia/cu13/lib"));
      dirs.add(root.resolve("nvidia/cuda_nvrtc/lib"));
    }
    return dirs.stream().filter(Files::isDirectory).toList();
  }

  private static List<Path> subdirectories(Path dir, String prefix) {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (var entries = Files.newDirectoryStream(dir, prefix + "*")) {
      var out = new ArrayList<Path>();
      entries.forEach(p -> {
        if (Files.isDirectory(p)) {
          out.add(p);
        }
      });
      return out;
    } catch (IOException e) {
      return List.of(); // an unreadable directory holds nothing we can load
    }
  }

  /** "12.4" → 12_004, for ordering; anything unparsable sorts first. */
  private static long versionKey(String version) {
    long key = 0;
    for (var part : version.split("\\.", 3)) {
      try {
        key = key * 1000 + Integer.parseInt(part);
      } catch (NumberFormatException e) {
        return -1;
      }
    }
    return key;
  }

  @SuppressWarnings("restricted") // loading NVRTC is this class's purpose
  private static SymbolLookup load(Path path) {
    try {
      // Arena.global(): NVRTC stays mapped for the life of the JVM.
      return SymbolLookup.libraryLookup(path, Arena.global());
    } catch (IllegalArgumentException | IllegalCallerException e) {
      return null;
    }
  }

  @SuppressWarnings("restricted")
  private static SymbolLookup loadByName(String name) {
    try {
      return SymbolLookup.libraryLookup(name, Arena.global());
    } catch (IllegalArgumentException | IllegalCallerException e) {
      return null;
    }
  }

  /** Why NVRTC could not be loaded, or empty when it was. */
  public static Optional<String> loadFailure() {
    return Optional.ofNullable(LOAD_FAILURE);
  }

  /** The library loaded: its path, or its bare name when the loader's own search found it. */
  public static Optional<String> location() {
    return FOUND == null ? Optional.empty() : Optional.of(FOUND.location());
  }

  /** The directory the library was loaded from; empty when not loaded or found by bare name. */
  public static Optional<Path> directory() {
    return FOUND == null ? Optional.empty() : FOUND.directory();
  }

  /** Whether the loaded library exports {@code symbol}; false when there is none. */
  public static boolean has(String symbol) {
    return FOUND != null && NVRTC.has(symbol);
  }

  // ---- version and errors --------------------------------------------------------------------------

  private static final MethodHandle NVRTC_GET_ERROR_STRING = NVRTC.bind("nvrtcGetErrorString", ADDRESS, JAVA_INT);

  /** {@code const char *nvrtcGetErrorString(nvrtcResult result)}: the enum's name, in static memory. */
  public static MemorySegment nvrtcGetErrorString(int result) {
    try {
      return (MemorySegment) NVRTC_GET_ERROR_STRING.invokeExact(result);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_VERSION = NVRTC.bind("nvrtcVersion", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code nvrtcResult nvrtcVersion(int *major, int *minor)} */
  public static int nvrtcVersion(MemorySegment major, MemorySegment minor) {
    try {
      return (int) NVRTC_VERSION.invokeExact(major, minor);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_NUM_SUPPORTED_ARCHS =
      NVRTC.bind("nvrtcGetNumSupportedArchs", JAVA_INT, ADDRESS);

  /** {@code nvrtcResult nvrtcGetNumSupportedArchs(int *numArchs)} */
  public static int nvrtcGetNumSupportedArchs(MemorySegment numArchs) {
    try {
      return (int) NVRTC_GET_NUM_SUPPORTED_ARCHS.invokeExact(numArchs);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_SUPPORTED_ARCHS = NVRTC.bind("nvrtcGetSupportedArchs", JAVA_INT, ADDRESS);

  /** {@code nvrtcResult nvrtcGetSupportedArchs(int *supportedArchs)} */
  public static int nvrtcGetSupportedArchs(MemorySegment supportedArchs) {
    try {
      return (int) NVRTC_GET_SUPPORTED_ARCHS.invokeExact(supportedArchs);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- programs ------------------------------------------------------------------------------------

  private static final MethodHandle NVRTC_CREATE_PROGRAM =
      NVRTC.bind("nvrtcCreateProgram", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);

  /**
   * {@code nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name,
   * int numHeaders, const char * const *headers, const char * const *includeNames)}: {@code name} is
   * the file name the log's messages use; the headers are in-memory sources for {@code #include}.
   */
  public static int nvrtcCreateProgram(MemorySegment prog, MemorySegment src, MemorySegment name, int numHeaders,
      MemorySegment headers, MemorySegment includeNames) {
    try {
      return (int) NVRTC_CREATE_PROGRAM.invokeExact(prog, src, name, numHeaders, headers, includeNames);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_DESTROY_PROGRAM = NVRTC.bind("nvrtcDestroyProgram", JAVA_INT, ADDRESS);

  /** {@code nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog)}: takes the handle's address, and NULLs it. */
  public static int nvrtcDestroyProgram(MemorySegment prog) {
    try {
      return (int) NVRTC_DESTROY_PROGRAM.invokeExact(prog);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_COMPILE_PROGRAM =
      NVRTC.bind("nvrtcCompileProgram", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);

  /** {@code nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options)} */
  public static int nvrtcCompileProgram(MemorySegment prog, int numOptions, MemorySegment options) {
    try {
      return (int) NVRTC_COMPILE_PROGRAM.invokeExact(prog, numOptions, options);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_PROGRAM_LOG_SIZE =
      NVRTC.bind("nvrtcGetProgramLogSize", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet)} */
  public static int nvrtcGetProgramLogSize(MemorySegment prog, MemorySegment logSizeRet) {
    try {
      return (int) NVRTC_GET_PROGRAM_LOG_SIZE.invokeExact(prog, logSizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_PROGRAM_LOG =
      NVRTC.bind("nvrtcGetProgramLog", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log)} */
  public static int nvrtcGetProgramLog(MemorySegment prog, MemorySegment log) {
    try {
      return (int) NVRTC_GET_PROGRAM_LOG.invokeExact(prog, log);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_PTXSIZE = NVRTC.bind("nvrtcGetPTXSize", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet)}: the size includes the NUL. */
  public static int nvrtcGetPTXSize(MemorySegment prog, MemorySegment ptxSizeRet) {
    try {
      return (int) NVRTC_GET_PTXSIZE.invokeExact(prog, ptxSizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_PTX = NVRTC.bind("nvrtcGetPTX", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx)} */
  public static int nvrtcGetPTX(MemorySegment prog, MemorySegment ptx) {
    try {
      return (int) NVRTC_GET_PTX.invokeExact(prog, ptx);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_CUBINSIZE = NVRTC.bind("nvrtcGetCUBINSize", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet)} */
  public static int nvrtcGetCUBINSize(MemorySegment prog, MemorySegment cubinSizeRet) {
    try {
      return (int) NVRTC_GET_CUBINSIZE.invokeExact(prog, cubinSizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle NVRTC_GET_CUBIN = NVRTC.bind("nvrtcGetCUBIN", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin)} */
  public static int nvrtcGetCUBIN(MemorySegment prog, MemorySegment cubin) {
    try {
      return (int) NVRTC_GET_CUBIN.invokeExact(prog, cubin);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- builtins ------------------------------------------------------------------------------------

  static {
    preloadBuiltins();
  }

  /**
   * Maps {@code libnvrtc-builtins.so.MAJOR.MINOR} from the directory NVRTC was loaded from (or from the
   * one its symlink points into), so that NVRTC's own {@code dlopen} of it by bare name succeeds.
   * Without it NVRTC still loads, and its first compile fails with a log saying it could not open the
   * builtins, which names the problem well enough.
   */
  @SuppressWarnings("restricted")
  private static void preloadBuiltins() {
    if (FOUND == null || FOUND.directory().isEmpty() || !has("nvrtcVersion")) {
      return;
    }
    int major;
    int minor;
    try (var arena = Arena.ofConfined()) {
      var ma = arena.allocate(JAVA_INT);
      var mi = arena.allocate(JAVA_INT);
      if (nvrtcVersion(ma, mi) != 0) {
        return;
      }
      major = ma.get(JAVA_INT, 0);
      minor = mi.get(JAVA_INT, 0);
    }
    var name = "libnvrtc-builtins.so." + major + "." + minor;
    Set<Path> dirs = new LinkedHashSet<>();
    dirs.add(FOUND.directory().get());
    try {
      var real = Path.of(FOUND.location()).toRealPath().getParent();
      if (real != null) {
        dirs.add(real);
      }
    } catch (IOException | RuntimeException e) {
      // no real path: the directory searched is all there is
    }
    for (var dir : dirs) {
      var builtins = dir.resolve(name);
      if (Files.isRegularFile(builtins)) {
        try {
          SymbolLookup.libraryLookup(builtins, Arena.global());
          return;
        } catch (IllegalArgumentException | IllegalCallerException e) {
          return; // the compile will say what is wrong, in its log
        }
      }
    }
  }

  private NvrtcRaw() {}
}
