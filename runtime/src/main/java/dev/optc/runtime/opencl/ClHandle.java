package dev.optc.runtime.opencl;

import java.lang.foreign.MemorySegment;

/**
 * One reference to an OpenCL object: released exactly once, by {@link #close()}, after which every use
 * fails with an {@link IllegalStateException} instead of handing a dangling pointer to the driver.
 * OpenCL counts references, so closing a context before the buffers made in it is safe: the driver
 * frees it when the last of them goes. Not thread-safe: close from the thread that finished using it.
 */
abstract sealed class ClHandle implements AutoCloseable
    permits ClContext, ClQueue, ClBuffer, ClProgram, ClKernel, ClEvent {

  private MemorySegment handle;

  ClHandle(MemorySegment handle) {
    if (handle.equals(MemorySegment.NULL)) {
      throw new IllegalArgumentException("a NULL OpenCL handle");
    }
    this.handle = handle;
  }

  /** The raw handle, for the raw bindings; throws once this object is closed. */
  public final MemorySegment handle() {
    var h = handle;
    if (h == null) {
      throw new IllegalStateException(getClass().getSimpleName() + " is already closed");
    }
    return h;
  }

  public final boolean isClosed() {
    return handle == null;
  }

  /** Gives up this reference; idempotent. A failing release is a driver or optc bug and throws. */
  @Override
  public final void close() {
    var h = handle;
    if (h == null) {
      return;
    }
    handle = null; // first, so a failing release is never retried on a freed object
    ClStatus.check(release(h), releaseCall(), () -> "releasing a " + getClass().getSimpleName());
  }

  abstract int release(MemorySegment handle);

  abstract String releaseCall();
}
