package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An OpenCL context on one device: the scope in which buffers, programs and queues are made and may be
 * used together. {@link #close()} releases optc's reference; objects made in it keep it alive until
 * they are closed too.
 */
public final class ClContext extends ClHandle {

  private final ClDevice device;

  private ClContext(ClDevice device, MemorySegment handle) {
    super(handle);
    this.device = device;
  }

  /** A context holding just {@code device}, on the device's own platform. */
  public static ClContext create(ClDevice device) {
    try (var arena = Arena.ofConfined()) {
      // Naming the platform explicitly: with NULL properties the choice is implementation-defined.
      var properties = arena.allocateFrom(JAVA_LONG,
          ClRaw.CL_CONTEXT_PLATFORM, device.platform().id().address(), 0L);
      var devices = arena.allocateFrom(ADDRESS, device.id());
      var err = arena.allocate(JAVA_INT);
      var context = ClRaw.clCreateContext(properties, 1, devices, MemorySegment.NULL, MemorySegment.NULL, err);
      ClStatus.check(err.get(JAVA_INT, 0), "clCreateContext", () -> "creating a context on " + device.name());
      return new ClContext(device, context);
    }
  }

  public ClDevice device() {
    return device;
  }

  /** An in-order command queue with profiling enabled. */
  public ClQueue createQueue() {
    return ClQueue.create(this);
  }

  /** A read-write device buffer of {@code bytes} bytes; its contents are undefined until written. */
  public ClBuffer createBuffer(long bytes) {
    return ClBuffer.allocate(this, bytes);
  }

  /** A buffer over the caller's native {@code host} memory, used in place (see {@link ClBuffer}). */
  public ClBuffer createBuffer(MemorySegment host) {
    return ClBuffer.useHost(this, host);
  }

  /**
   * A {@link ClBuffer} for a {@code cl_mem} made elsewhere (another library, another binding) in this
   * context. The wrapper takes its own reference ({@code clRetainMemObject}) and gives only that one
   * back on close, so the caller's handle stays valid and remains the caller's to release.
   */
  public ClBuffer wrapBuffer(MemorySegment clMem) {
    return ClBuffer.wrap(this, clMem);
  }

  /** Compiles OpenCL C for this context's device; a compile error is a {@link ClBuildException} with the log. */
  public ClProgram buildProgram(String source, String options) {
    return ClProgram.build(this, source, options);
  }

  /** Loads a program from a binary that {@link ClProgram#binary()} returned for the same device and driver. */
  public ClProgram loadProgram(byte[] binary, String options) {
    return ClProgram.load(this, binary, options);
  }

  /** {@code CL_CONTEXT_REFERENCE_COUNT}; the driver's own count, meant for leak tests and debugging. */
  public int referenceCount() {
    var h = handle();
    return ClInfo.uint((size, value, sizeRet) ->
            ClRaw.clGetContextInfo(h, ClRaw.CL_CONTEXT_REFERENCE_COUNT, size, value, sizeRet),
        "clGetContextInfo", () -> "reading a context's reference count");
  }

  @Override
  int release(MemorySegment handle) {
    return ClRaw.clReleaseContext(handle);
  }

  @Override
  String releaseCall() {
    return "clReleaseContext";
  }

  @Override
  public String toString() {
    return "ClContext[" + device.name() + (isClosed() ? ", closed]" : "]");
  }
}
