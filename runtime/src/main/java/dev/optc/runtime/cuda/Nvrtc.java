package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.optc.runtime.OptcException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * CUDA C++ to PTX with NVRTC, in-process: {@link #compile} is the whole API most callers need. A failed
 * compile is an {@link NvrtcException} whose message ends with the compiler's whole log.
 *
 * <p>Headers: NVRTC has the CUDA built-in types and functions, but up to at least 13.0 no built-in
 * {@code cuda_fp16.h}, which every kernel optc generates includes. So when a source has an
 * {@code #include} and NVRTC cannot resolve {@code <cuda_fp16.h>} on its own (asked once, with a
 * one-line probe), {@code -I} of the toolkit's include directory is added ({@link #includeDirectory()}:
 * the {@code include} beside NVRTC's {@code lib64} first, then {@code $CUDA_HOME/include},
 * {@code /usr/local/cuda/include}, …).
 */
public final class Nvrtc {

  /** NVRTC's version, e.g. 13.0. */
  public record Version(int major, int minor) {
    @Override
    public String toString() {
      return major + "." + minor;
    }
  }

  /** A successful compile: the PTX (without its terminating NUL) and the log, warnings only. */
  public record Result(String ptx, String log) {}

  /**
   * The library's version, asked once; it is also the latest PTX ISA and driver it targets (PTX from
   * NVRTC 13.0 needs a 13.0 driver to JIT).
   */
  public static Version version() {
    return Loaded.VERSION;
  }

  /** Whether NVRTC could be loaded. */
  public static boolean isAvailable() {
    return NvrtcRaw.loadFailure().isEmpty();
  }

  /**
   * One line: why NVRTC is missing and how to get it (from {@link NvrtcRaw#loadFailure()}), or, when
   * it is there, which library, which version and where {@code cuda_fp16.h} comes from.
   */
  public static String unavailableReason() {
    var failure = NvrtcRaw.loadFailure();
    if (failure.isPresent()) {
      return failure.get();
    }
    return "NVRTC is available: " + NvrtcRaw.location().orElseThrow() + " (" + version() + ")";
  }

  /** The {@code compute_XY} architectures this NVRTC can target, as XY numbers (75, 80, …), ascending. */
  public static List<Integer> supportedArchitectures() {
    return Loaded.ARCHS;
  }

  /**
   * The {@code --gpu-architecture} option for PTX that a device of compute capability
   * {@code major.minor} can JIT: the newest {@code compute_XY} this NVRTC supports that is not newer
   * than the device. Throws when the device is older than anything this NVRTC targets.
   */
  public static String architectureOption(int major, int minor) {
    int cc = major * 10 + minor;
    int best = -1;
    for (int arch : supportedArchitectures()) {
      if (arch <= cc) {
        best = arch;
      }
    }
    if (best < 0) {
      throw new OptcException("NVRTC " + version() + " cannot target sm_" + cc + ": the oldest architecture it"
          + " supports is compute_" + supportedArchitectures().getFirst() + "; use an older CUDA toolkit");
    }
    return "--gpu-architecture=compute_" + best;
  }

  /** {@link #architectureOption(int, int)} for a device. */
  public static String architectureOption(CuDevice device) {
    return architectureOption(device.computeCapabilityMajor(), device.computeCapabilityMinor());
  }

  /**
   * The directory holding {@code cuda_fp16.h} that compiles of sources with an {@code #include} get
   * as {@code -I}; empty when this NVRTC has the header built in (or no such directory exists).
   */
  public static Optional<Path> includeDirectory() {
    return IncludeProbe.DIRECTORY;
  }

  /**
   * Compiles {@code source} to PTX. {@code name} is the file name the log uses ({@code "adam.cu"});
   * {@code options} are nvcc-style ({@code "--fmad=false"}, {@code "--gpu-architecture=compute_90"}).
   * Kernels to be found by name later must be {@code extern "C"}.
   *
   * @throws NvrtcException if the source does not compile, with the log in the message
   * @throws OptcException if there is no NVRTC, saying how to get it
   */
  public static String compile(String source, String name, List<String> options) {
    return compileWithLog(source, name, options).ptx();
  }

  /** {@link #compile}, also returning the log (warnings) of a successful compile. */
  public static Result compileWithLog(String source, String name, List<String> options) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(name, "name");
    requireAvailable();
    var effective = new ArrayList<>(options);
    var hint = "";
    if (source.contains("#include")) {
      var include = IncludeProbe.DIRECTORY;
      include.ifPresent(dir -> effective.add("-I" + dir));
      hint = headerHint(source, include);
    }
    return compileExactly(source, name, effective, hint);
  }

  /** One NVRTC program: create, compile with exactly {@code options}, read log and PTX, destroy. */
  private static Result compileExactly(String source, String name, List<String> options, String hint) {
    try (var arena = Arena.ofConfined()) {
      var programOut = arena.allocate(ADDRESS);
      NvrtcStatus.check(NvrtcRaw.nvrtcCreateProgram(programOut, arena.allocateFrom(source), arena.allocateFrom(name),
          0, MemorySegment.NULL, MemorySegment.NULL), "nvrtcCreateProgram", () -> "creating program " + name);
      var program = programOut.get(ADDRESS, 0);
      try {
        var optionArray = arena.allocate(ADDRESS, Math.max(1, options.size()));
        for (int i = 0; i < options.size(); i++) {
          optionArray.setAtIndex(ADDRESS, i, arena.allocateFrom(options.get(i)));
        }
        int rc = NvrtcRaw.nvrtcCompileProgram(program, options.size(), optionArray);
        var log = log(arena, program, name);
        if (rc != NvrtcStatus.NVRTC_SUCCESS.code()) {
          throw new NvrtcException("nvrtcCompileProgram", rc, "compiling " + name + " with " + options + hint, log);
        }
        return new Result(ptx(arena, program, name), log);
      } finally {
        // Frees the program whatever happened; a failure here would hide the one that matters.
        NvrtcRaw.nvrtcDestroyProgram(programOut);
      }
    }
  }

  private static String headerHint(String source, Optional<Path> include) {
    if (source.contains("cuda_fp16.h") && include.isEmpty() && !IncludeProbe.BUILTIN) {
      return " (NVRTC " + version() + " has no built-in cuda_fp16.h and no CUDA include directory holding it was"
          + " found: set CUDA_HOME or pass -I<cuda>/include)";
    }
    return "";
  }

  private static String log(Arena arena, MemorySegment program, String name) {
    var size = arena.allocate(JAVA_LONG);
    NvrtcStatus.check(NvrtcRaw.nvrtcGetProgramLogSize(program, size), "nvrtcGetProgramLogSize",
        () -> "reading the compile log of " + name);
    long n = size.get(JAVA_LONG, 0);
    if (n <= 1) {
      return ""; // just the NUL
    }
    var log = arena.allocate(n);
    NvrtcStatus.check(NvrtcRaw.nvrtcGetProgramLog(program, log), "nvrtcGetProgramLog",
        () -> "reading the compile log of " + name);
    return log.getString(0);
  }

  private static String ptx(Arena arena, MemorySegment program, String name) {
    var size = arena.allocate(JAVA_LONG);
    NvrtcStatus.check(NvrtcRaw.nvrtcGetPTXSize(program, size), "nvrtcGetPTXSize", () -> "sizing the PTX of " + name);
    long n = size.get(JAVA_LONG, 0);
    var ptx = arena.allocate(Math.max(1, n));
    NvrtcStatus.check(NvrtcRaw.nvrtcGetPTX(program, ptx), "nvrtcGetPTX", () -> "reading the PTX of " + name);
    return n <= 1 ? "" : ptx.getString(0);
  }

  private static void requireAvailable() {
    NvrtcRaw.loadFailure().ifPresent(reason -> {
      throw new OptcException(reason);
    });
  }

  /** Version and architectures, asked once, on first use. */
  private static final class Loaded {
    static final Version VERSION;
    static final List<Integer> ARCHS;

    static {
      requireAvailable();
      try (var arena = Arena.ofConfined()) {
        var major = arena.allocate(JAVA_INT);
        var minor = arena.allocate(JAVA_INT);
        NvrtcStatus.check(NvrtcRaw.nvrtcVersion(major, minor), "nvrtcVersion", () -> "asking NVRTC's version");
        VERSION = new Version(major.get(JAVA_INT, 0), minor.get(JAVA_INT, 0));
        var count = arena.allocate(JAVA_INT);
        NvrtcStatus.check(NvrtcRaw.nvrtcGetNumSupportedArchs(count), "nvrtcGetNumSupportedArchs",
            () -> "counting NVRTC's architectures");
        int n = count.get(JAVA_INT, 0);
        var archs = arena.allocate(JAVA_INT, Math.max(1, n));
        NvrtcStatus.check(NvrtcRaw.nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs",
            () -> "listing NVRTC's architectures");
        var list = new ArrayList<Integer>(n);
        for (int i = 0; i < n; i++) {
          list.add(archs.getAtIndex(JAVA_INT, i));
        }
        list.sort(null);
        ARCHS = List.copyOf(list);
      }
    }
  }

  /** Whether {@code <cuda_fp16.h>} needs an include path, and which; asked once, on first use. */
  private static final class IncludeProbe {
    static final boolean BUILTIN;
    static final Optional<Path> DIRECTORY;

    static {
      boolean builtin;
      try {
        compileExactly("#include <cuda_fp16.h>\n", "optc_probe_fp16.cu", List.of(), "");
        builtin = true;
      } catch (NvrtcException e) {
        builtin = false;
      }
      BUILTIN = builtin;
      DIRECTORY = builtin ? Optional.empty() : findIncludeDirectory();
    }
  }

  /** The first CUDA include directory holding {@code cuda_fp16.h}, the one beside NVRTC first. */
  static Optional<Path> findIncludeDirectory() {
    var candidates = new LinkedHashSet<Path>();
    NvrtcRaw.directory().ifPresent(dir -> {
      addParentInclude(candidates, dir);
      try {
        addParentInclude(candidates, dir.toRealPath());
      } catch (IOException e) {
        // the directory as found is all there is
      }
    });
    for (var env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
      var home = System.getenv(env);
      if (home != null && !home.isBlank()) {
        candidates.add(Path.of(home.strip(), "include"));
      }
    }
    if (isAvailable()) {
      // A toolkit of NVRTC's own version, before whichever one /usr/local/cuda points at.
      candidates.add(Path.of("/usr/local/cuda-" + version() + "/include"));
    }
    candidates.add(Path.of("/usr/local/cuda/include"));
    candidates.add(Path.of("/usr/local/cuda/targets/x86_64-linux/include"));
    candidates.add(Path.of("/usr/include"));
    return candidates.stream().filter(dir -> Files.isRegularFile(dir.resolve("cuda_fp16.h"))).findFirst();
  }

  private static void addParentInclude(LinkedHashSet<Path> candidates, Path libDir) {
    var parent = libDir.toAbsolutePath().getParent();
    if (parent != null) {
      candidates.add(parent.resolve("include"));
    }
  }

  private Nvrtc() {}
}
