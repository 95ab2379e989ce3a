package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * One kernel function of a {@link ClProgram}, with its arguments. Arguments stick until set again, so a
 * training loop sets the buffers once and only the changing scalars per step. As in OpenCL itself, a
 * kernel must not have its arguments set from two threads at once; give each thread its own.
 *
 * <p>The driver does not keep a buffer argument alive: keep a {@link ClBuffer} open while launches that
 * use it may still run (commands already enqueued are safe; the driver holds what they use).
 *
 * <p>Scalar setters take Java's types for the C ones of the same width: {@code int} for {@code int}/
 * {@code uint}, {@code long} for {@code long}/{@code ulong}/{@code size_t}; a wrong width is the
 * driver's {@code CL_INVALID_ARG_SIZE}.
 */
public final class ClKernel extends ClHandle {

  private final ClProgram program;
  private final String name;

  private ClKernel(ClProgram program, MemorySegment handle, String name) {
    super(handle);
    this.program = program;
    this.name = name;
  }

  static ClKernel create(ClProgram program, String name) {
    try (var arena = Arena.ofConfined()) {
      var err = arena.allocate(JAVA_INT);
      var kernel = ClRaw.clCreateKernel(program.handle(), arena.allocateFrom(name), err);
      ClStatus.check(err.get(JAVA_INT, 0), "clCreateKernel", () -> "creating kernel '" + name + "'");
      return new ClKernel(program, kernel, name);
    }
  }

  public ClProgram program() {
    return program;
  }

  public String name() {
    return name;
  }

  /** A {@code __global} buffer argument. */
  public ClKernel setArg(int index, ClBuffer buffer) {
    try (var arena = Arena.ofConfined()) {
      return set(index, ADDRESS.byteSize(), arena.allocateFrom(ADDRESS, buffer.handle()), "buffer");
    }
  }

  public ClKernel setArg(int index, int value) {
    try (var arena = Arena.ofConfined()) {
      return set(index, JAVA_INT.byteSize(), arena.allocateFrom(JAVA_INT, value), "4-byte int");
    }
  }

  public ClKernel setArg(int index, long value) {
    try (var arena = Arena.ofConfined()) {
      return set(index, JAVA_LONG.byteSize(), arena.allocateFrom(JAVA_LONG, value), "8-byte long");
    }
  }

  public ClKernel setArg(int index, float value) {
    try (var arena = Arena.ofConfined()) {
      return set(index, JAVA_FLOAT.byteSize(), arena.allocateFrom(JAVA_FLOAT, value), "float");
    }
  }

  /** A {@code double} argument; the device needs {@link ClDevice#supportsFp64()}. */
  public ClKernel setArg(int index, double value) {
    try (var arena = Arena.ofConfined()) {
      return set(index, JAVA_DOUBLE.byteSize(), arena.allocateFrom(JAVA_DOUBLE, value), "double");
    }
  }

  /** A {@code __local} argument of {@code bytes} bytes, allocated per work-group by the driver. */
  public ClKernel setLocalArg(int index, long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("local memory argument " + index + " needs at least one byte, not " + bytes);
    }
    return set(index, bytes, MemorySegment.NULL, bytes + "-byte __local");
  }

  private ClKernel set(int index, long size, MemorySegment value, String what) {
    ClStatus.check(ClRaw.clSetKernelArg(handle(), index, size, value), "clSetKernelArg",
        () -> "setting argument " + index + " (a " + what + ") of kernel '" + name + "'");
    return this;
  }

  /** The largest work-group this kernel can be launched with on {@code device} (registers, local memory). */
  public long maxWorkGroupSize(ClDevice device) {
    return workGroupInfo(device, ClRaw.CL_KERNEL_WORK_GROUP_SIZE, "max work-group size");
  }

  /** The work-group size multiple the device runs best (the SIMD or warp width). */
  public long preferredWorkGroupSizeMultiple(ClDevice device) {
    return workGroupInfo(device, ClRaw.CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, "preferred work-group multiple");
  }

  private long workGroupInfo(ClDevice device, int param, String what) {
    var h = handle();
    return ClInfo.ulong((size, value, sizeRet) ->
            ClRaw.clGetKernelWorkGroupInfo(h, device.id(), param, size, value, sizeRet),
        "clGetKernelWorkGroupInfo", () -> "reading the " + what + " of kernel '" + name + "' on " + device.name());
  }

  @Override
  int release(MemorySegment handle) {
    return ClRaw.clReleaseKernel(handle);
  }

  @Override
  String releaseCall() {
    return "clReleaseKernel";
  }

  @Override
  public String toString() {
    return "ClKernel[" + name + (isClosed() ? ", closed]" : "]");
  }
}
