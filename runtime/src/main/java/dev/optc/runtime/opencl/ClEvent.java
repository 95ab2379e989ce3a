package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The event of one enqueued command, owned by the caller (close it). Its profiling times are device
 * timestamps in nanoseconds; reading one waits for the command to complete first, since the driver
 * reports them only then.
 */
public final class ClEvent extends ClHandle {

  private final ClQueue queue;

  ClEvent(ClQueue queue, MemorySegment handle) {
    super(handle);
    this.queue = queue;
  }

  /** Blocks until the command completes; a command that failed on the device throws here. */
  public void waitFor() {
    try (var arena = Arena.ofConfined()) {
      var list = arena.allocateFrom(ADDRESS, handle());
      ClStatus.check(ClRaw.clWaitForEvents(1, list), "clWaitForEvents",
          () -> "waiting for a command on " + queue.context().device().name());
    }
  }

  /** When the command started executing on the device ({@code CL_PROFILING_COMMAND_START}), in ns. */
  public long startNanos() {
    return profile(ClRaw.CL_PROFILING_COMMAND_START, "start");
  }

  /** When the command finished ({@code CL_PROFILING_COMMAND_END}), in ns. */
  public long endNanos() {
    return profile(ClRaw.CL_PROFILING_COMMAND_END, "end");
  }

  /** {@code end - start}: the command's execution time on the device, queueing excluded. */
  public long elapsedNanos() {
    return endNanos() - startNanos();
  }

  private long profile(int param, String what) {
    waitFor();
    var h = handle();
    return ClInfo.ulong((size, value, sizeRet) -> ClRaw.clGetEventProfilingInfo(h, param, size, value, sizeRet),
        "clGetEventProfilingInfo", () -> "reading a command's " + what + " time");
  }

  @Override
  int release(MemorySegment handle) {
    return ClRaw.clReleaseEvent(handle);
  }

  @Override
  String releaseCall() {
    return "clReleaseEvent";
  }
}
