package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A program built for its context's device, from OpenCL C source or from a binary a previous build
 * produced ({@link #binary()}, for a disk cache). A failed build throws a {@link ClBuildException}
 * carrying the driver's build log and leaves nothing to release.
 */
public final class ClProgram extends ClHandle {

  private final ClContext context;
  private final String options;

  private ClProgram(ClContext context, MemorySegment handle, String options) {
    super(handle);
    this.context = context;
    this.options = options;
  }

  static ClProgram build(ClContext context, String source, String options) {
    Objects.requireNonNull(source, "source");
    var device = context.device();
    MemorySegment program;
    try (var arena = Arena.ofConfined()) {
      var strings = arena.allocateFrom(ADDRESS, arena.allocateFrom(source));
      var err = arena.allocate(JAVA_INT);
      // NULL lengths: the one string is NUL-terminated.
      program = ClRaw.clCreateProgramWithSource(context.handle(), 1, strings, MemorySegment.NULL, err);
      ClStatus.check(err.get(JAVA_INT, 0), "clCreateProgramWithSource",
          () -> "creating a program from " + source.length() + " characters of source on " + device.name());
    }
    return buildOrRelease(context, program, options, "building a program");
  }

  static ClProgram load(ClContext context, byte[] binary, String options) {
    if (binary.length == 0) {
      throw new IllegalArgumentException("an empty program binary");
    }
    var device = context.device();
    MemorySegment program;
    try (var arena = Arena.ofConfined()) {
      var bytes = arena.allocate(binary.length);
      MemorySegment.copy(binary, 0, bytes, JAVA_BYTE, 0, binary.length);
      var devices = arena.allocateFrom(ADDRESS, device.id());
      var lengths = arena.allocateFrom(JAVA_LONG, binary.length);
      var binaries = arena.allocateFrom(ADDRESS, bytes);
      var binaryStatus = arena.allocate(JAVA_INT);
      var err = arena.allocate(JAVA_INT);
      program = ClRaw.clCreateProgramWithBinary(context.handle(), 1, devices, lengths, binaries, binaryStatus, err);
      int code = err.get(JAVA_INT, 0);
      int status = binaryStatus.get(JAVA_INT, 0);
      ClStatus.check(code, "clCreateProgramWithBinary", () -> "loading a " + binary.length + "-byte program binary on "
          + device.name() + " (binary status " + ClStatus.nameOf(status) + "); rebuild it from source");
    }
    return buildOrRelease(context, program, options, "building a program from a " + binary.length + "-byte binary");
  }

  /** Takes ownership of {@code program}: either returns it built or releases it and throws. */
  private static ClProgram buildOrRelease(ClContext context, MemorySegment handle, String options, String what) {
    var program = new ClProgram(context, handle, options == null ? "" : options);
    try (var arena = Arena.ofConfined()) {
      var devices = arena.allocateFrom(ADDRESS, context.device().id());
      int rc = ClRaw.clBuildProgram(handle, 1, devices, arena.allocateFrom(program.options),
          MemorySegment.NULL, MemorySegment.NULL);
      if (rc != ClRaw.CL_SUCCESS) {
        String log;
        try {
          log = program.buildLog();
        } catch (ClException e) {
          log = "(the build log could not be read: " + e.getMessage() + ")";
        }
        var optionText = program.options.isEmpty() ? "no options" : "options '" + program.options + "'";
        throw new ClBuildException("clBuildProgram", rc, what + " with " + optionText + " on " + context.device().name(),
            log);
      }
      return program;
    } catch (RuntimeException e) {
      program.close();
      throw e;
    }
  }

  public ClContext context() {
    return context;
  }

  /** The build options this program was built with. */
  public String options() {
    return options;
  }

  /** The driver's build log for this program's device: warnings after a successful build, possibly empty. */
  public String buildLog() {
    var h = handle();
    var device = context.device().id();
    return ClInfo.string((size, value, sizeRet) ->
            ClRaw.clGetProgramBuildInfo(h, device, ClRaw.CL_PROGRAM_BUILD_LOG, size, value, sizeRet),
        "clGetProgramBuildInfo", () -> "reading a build log");
  }

  /**
   * The device binary ({@code CL_PROGRAM_BINARIES}) for {@link ClContext#loadProgram}, e.g. from a disk
   * cache keyed by source, options, device and driver version; what it contains (native code, LLVM IR,
   * PTX) is the driver's business.
   */
  public byte[] binary() {
    var h = handle();
    int devices = ClInfo.uint((size, value, sizeRet) ->
            ClRaw.clGetProgramInfo(h, ClRaw.CL_PROGRAM_NUM_DEVICES, size, value, sizeRet),
        "clGetProgramInfo", () -> "reading a program's device count");
    try (var arena = Arena.ofConfined()) {
      var sizes = arena.allocate(JAVA_LONG, devices);
      ClStatus.check(ClRaw.clGetProgramInfo(h, ClRaw.CL_PROGRAM_BINARY_SIZES, sizes.byteSize(), sizes,
          MemorySegment.NULL), "clGetProgramInfo", () -> "reading a program's binary sizes");
      // Our contexts hold one device, so the program's binary is the first; the array is sized for all
      // anyway, because the driver writes one pointer's worth per device.
      var pointers = arena.allocate(ADDRESS, devices);
      var buffers = new MemorySegment[devices];
      for (int i = 0; i < devices; i++) {
        long n = sizes.getAtIndex(JAVA_LONG, i);
        buffers[i] = n == 0 ? MemorySegment.NULL : arena.allocate(n);
        pointers.setAtIndex(ADDRESS, i, buffers[i]);
      }
      ClStatus.check(ClRaw.clGetProgramInfo(h, ClRaw.CL_PROGRAM_BINARIES, pointers.byteSize(), pointers,
          MemorySegment.NULL), "clGetProgramInfo", () -> "reading a program's binary");
      if (devices == 0 || buffers[0].byteSize() == 0) {
        throw new IllegalStateException("the driver returned no binary for " + context.device().name());
      }
      return buffers[0].toArray(JAVA_BYTE);
    }
  }

  /** The kernel function {@code name} of this program; close it before or after the program, either works. */
  public ClKernel createKernel(String name) {
    return ClKernel.create(this, name);
  }

  @Override
  int release(MemorySegment handle) {
    return ClRaw.clReleaseProgram(handle);
  }

  @Override
  String releaseCall() {
    return "clReleaseProgram";
  }
}
