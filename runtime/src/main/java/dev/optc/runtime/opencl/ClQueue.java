package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * An in-order command queue with profiling enabled, on its context's device. In order means every
 * command sees the effects of the ones enqueued before it, so a launch after a write needs no event
 * plumbing, and a blocking read after a launch sees its results.
 */
public final class ClQueue extends ClHandle {

  private final ClContext context;

  private ClQueue(ClContext context, MemorySegment handle) {
    super(handle);
    this.context = context;
  }

  static ClQueue create(ClContext context) {
    // clCreateCommandQueueWithProperties exists from 2.0 on; a 1.2 driver (NVIDIA's, for years) has
    // only the older call, which 2.0+ deprecates but every loader still exports.
    var device = context.device();
    return create(context,
        device.platform().apiVersion().atLeast(2, 0) && ClRaw.has("clCreateCommandQueueWithProperties"));
  }

  /** Package-private so tests can take the 1.2 path on a 2.0+ driver too. */
  static ClQueue create(ClContext context, boolean withProperties) {
    var device = context.device();
    try (var arena = Arena.ofConfined()) {
      var err = arena.allocate(JAVA_INT);
      MemorySegment queue;
      String call;
      if (withProperties) {
        call = "clCreateCommandQueueWithProperties";
        var properties = arena.allocateFrom(JAVA_LONG,
            ClRaw.CL_QUEUE_PROPERTIES, ClRaw.CL_QUEUE_PROFILING_ENABLE, 0L);
        queue = ClRaw.clCreateCommandQueueWithProperties(context.handle(), device.id(), properties, err);
      } else {
        call = "clCreateCommandQueue";
        queue = ClRaw.clCreateCommandQueue(context.handle(), device.id(), ClRaw.CL_QUEUE_PROFILING_ENABLE, err);
      }
      ClStatus.check(err.get(JAVA_INT, 0), call, () -> "creating a command queue on " + device.name());
      return new ClQueue(context, queue);
    }
  }

  public ClContext context() {
    return context;
  }

  /**
   * Enqueues a 1-D launch of {@code kernel} over {@code globalSize} work-items in work-groups of
   * {@code localSize} ({@code 0}: the driver chooses) and returns its event, for timing or waiting;
   * close the event. Before OpenCL 2.0 (and for programs not built with {@code -cl-std=CL2.0}) the
   * global size must be a multiple of the local size: round it up with {@link #roundUp} and bounds-check
   * in the kernel.
   */
  public ClEvent launch(ClKernel kernel, long globalSize, long localSize) {
    return launch(kernel, new long[] {globalSize}, localSize == 0 ? null : new long[] {localSize});
  }

  /** An N-D launch (1 to 3 dimensions); {@code localSize} null lets the driver choose. */
  public ClEvent launch(ClKernel kernel, long[] globalSize, long[] localSize) {
    try (var arena = Arena.ofConfined()) {
      var event = arena.allocate(ADDRESS);
      enqueue(arena, kernel, globalSize, localSize, event);
      return new ClEvent(this, event.get(ADDRESS, 0));
    }
  }

  /** Like {@link #launch(ClKernel, long, long)} without an event: the steady-state path of a training loop. */
  public void dispatch(ClKernel kernel, long globalSize, long localSize) {
    try (var arena = Arena.ofConfined()) {
      enqueue(arena, kernel, new long[] {globalSize}, localSize == 0 ? null : new long[] {localSize},
          MemorySegment.NULL);
    }
  }

  private void enqueue(Arena arena, ClKernel kernel, long[] global, long[] local, MemorySegment event) {
    int dims = global.length;
    if (dims < 1 || dims > 3) {
      throw new IllegalArgumentException("a launch has 1 to 3 dimensions, not " + dims);
    }
    if (local != null && local.length != dims) {
      throw new IllegalArgumentException(
          "global size " + Arrays.toString(global) + " and local size " + Arrays.toString(local) + " differ in rank");
    }
    for (int d = 0; d < dims; d++) {
      if (global[d] <= 0 || (local != null && local[d] <= 0)) {
        throw new IllegalArgumentException("launch sizes must be positive: global " + Arrays.toString(global)
            + ", local " + (local == null ? "driver's choice" : Arrays.toString(local)));
      }
    }
    var globalSeg = arena.allocateFrom(JAVA_LONG, global);
    var localSeg = local == null ? MemorySegment.NULL : arena.allocateFrom(JAVA_LONG, local);
    int rc = ClRaw.clEnqueueNDRangeKernel(handle(), kernel.handle(), dims, MemorySegment.NULL, globalSeg, localSeg,
        0, MemorySegment.NULL, event);
    ClStatus.check(rc, "clEnqueueNDRangeKernel", () -> "launching kernel '" + kernel.name() + "' over "
        + sizes(global) + " work-items in groups of " + (local == null ? "the driver's choice" : sizes(local))
        + " on " + context.device().name());
  }

  private static String sizes(long[] s) {
    return s.length == 1 ? Long.toString(s[0]) : Arrays.toString(s);
  }

  /** Blocks until every enqueued command has completed. */
  public void finish() {
    ClStatus.check(ClRaw.clFinish(handle()), "clFinish",
        () -> "waiting for the queue on " + context.device().name() + " (an earlier command failed on the device)");
  }

  /** Submits every enqueued command to the device without waiting for it. */
  public void flush() {
    ClStatus.check(ClRaw.clFlush(handle()), "clFlush", () -> "flushing the queue on " + context.device().name());
  }

  /** {@code CL_QUEUE_REFERENCE_COUNT}; the driver's own count, meant for leak tests and debugging. */
  public int referenceCount() {
    var h = handle();
    return ClInfo.uint((size, value, sizeRet) ->
            ClRaw.clGetCommandQueueInfo(h, ClRaw.CL_QUEUE_REFERENCE_COUNT, size, value, sizeRet),
        "clGetCommandQueueInfo", () -> "reading a queue's reference count");
  }

  /** The smallest multiple of {@code multiple} that is at least {@code n}: a global size for a fixed local size. */
  public static long roundUp(long n, long multiple) {
    if (n < 0 || multiple <= 0) {
      throw new IllegalArgumentException("roundUp(" + n + ", " + multiple + ")");
    }
    return Math.multiplyExact(Math.ceilDiv(n, multiple), multiple);
  }

  @Override
  int release(MemorySegment handle) {
    return ClRaw.clReleaseCommandQueue(handle);
  }

  @Override
  String releaseCall() {
    return "clReleaseCommandQueue";
  }
}
