package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * One reference to a device's primary context ({@code cuDevicePrimaryCtxRetain}): the context the CUDA
 * runtime and most libraries share, stable across driver versions (unlike {@code cuCtxCreate}, whose
 * signature changed in CUDA 13). Buffers, streams, modules and events are made here.
 *
 * <p>CUDA binds contexts to threads; every operation of this package makes its context current on the
 * calling thread first ({@code cuCtxSetCurrent}, a thread-local store), so objects may be used from any
 * thread, though none is safe to use from two threads at once.
 *
 * <p>The last release of a primary context destroys it with everything allocated in it. So, as with
 * OpenCL's reference counts, {@link #close()} only gives the reference back once every object made in
 * this context is closed too: closing the context first is safe, and its objects stay usable until
 * they are closed.
 */
public final class CuContext implements AutoCloseable {

  private final CuDevice device;
  private final MemorySegment handle;
  private boolean closed;
  private int children;
  private boolean released;

  private CuContext(CuDevice device, MemorySegment handle) {
    this.device = device;
    this.handle = handle;
  }

  /** A new reference to {@code device}'s primary context, made current on this thread. */
  public static CuContext primary(CuDevice device) {
    Cuda.init();
    try (var arena = Arena.ofConfined()) {
      var out = arena.allocate(ADDRESS);
      CuStatus.check(CuRaw.cuDevicePrimaryCtxRetain(out, device.handle()), "cuDevicePrimaryCtxRetain",
          () -> "retaining the primary context of " + device.name());
      var context = new CuContext(device, out.get(ADDRESS, 0));
      try {
        context.enter();
      } catch (RuntimeException e) {
        CuRaw.cuDevicePrimaryCtxRelease_v2(device.handle()); // the original error matters more
        throw e;
      }
      return context;
    }
  }

  public CuDevice device() {
    return device;
  }

  /** The raw {@code CUcontext}; throws once this object is closed. */
  public synchronized MemorySegment handle() {
    checkOpen();
    return handle;
  }

  public synchronized boolean isClosed() {
    return closed;
  }

  /**
   * Makes this context current on the calling thread ({@code cuCtxSetCurrent}); for code that calls
   * {@link CuRaw} directly. This package's own objects do it themselves.
   */
  public void makeCurrent() {
    synchronized (this) {
      checkOpen();
    }
    enter();
  }

  /** Blocks until all work in this context is done; a kernel's fault (illegal address…) shows here. */
  public void synchronize() {
    makeCurrent();
    CuStatus.check(CuRaw.cuCtxSynchronize(), "cuCtxSynchronize", () -> "waiting for all work on " + device.name());
  }

  /** A stream that is ordered with the legacy default stream (so blocking copies see its results). */
  public CuStream createStream() {
    makeCurrent();
    return CuStream.create(this, CuRaw.CU_STREAM_DEFAULT);
  }

  /** A device buffer of {@code bytes} bytes; its contents are undefined until written. */
  public CuBuffer allocate(long bytes) {
    makeCurrent();
    return CuBuffer.allocate(this, bytes);
  }

  /**
   * A {@link CuBuffer} over {@code bytes} bytes at a {@code CUdeviceptr} made elsewhere (another
   * library, the CUDA runtime) in this context. It does not own the memory: closing it frees nothing.
   */
  public CuBuffer wrap(long devicePointer, long bytes) {
    makeCurrent();
    return CuBuffer.wrap(this, devicePointer, bytes);
  }

  /** Loads (JIT-compiles) PTX text; a failure is a {@link CuException} with the JIT's error log. */
  public CuModule loadModule(String ptx) {
    makeCurrent();
    return CuModule.load(this, ptx.getBytes(StandardCharsets.UTF_8), "PTX");
  }

  /** Loads a cubin or fatbin image (or PTX as bytes). */
  public CuModule loadModule(byte[] image) {
    makeCurrent();
    return CuModule.load(this, image.clone(), "image");
  }

  /** An event that records timing. */
  public CuEvent createEvent() {
    makeCurrent();
    return CuEvent.create(this, CuRaw.CU_EVENT_DEFAULT);
  }

  /** Gives up this reference once every object made in this context is closed; idempotent. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    releaseIfUnused();
  }

  // ---- for the objects made in this context --------------------------------------------------------

  /** Makes the context current on this thread; works after close() while objects made here are open. */
  void enter() {
    MemorySegment h;
    synchronized (this) {
      if (released) {
        throw new IllegalStateException("the CUDA context of " + device.name() + " is already released");
      }
      h = handle;
    }
    CuStatus.check(CuRaw.cuCtxSetCurrent(h), "cuCtxSetCurrent", () -> "making the context of " + device.name()
        + " current");
  }

  synchronized void retainChild() {
    if (released) {
      throw new IllegalStateException("the CUDA context of " + device.name() + " is already released");
    }
    children++;
  }

  void releaseChild() {
    synchronized (this) {
      children--;
    }
    releaseIfUnused();
  }

  private void releaseIfUnused() {
    synchronized (this) {
      if (!closed || children > 0 || released) {
        return;
      }
      released = true; // first, so a failing release is never retried
    }
    CuStatus.check(CuRaw.cuDevicePrimaryCtxRelease_v2(device.handle()), "cuDevicePrimaryCtxRelease_v2",
        () -> "releasing the primary context of " + device.name());
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("CuContext of " + device.name() + " is already closed");
    }
  }

  @Override
  public synchronized String toString() {
    return "CuContext[" + device.name() + (closed ? ", closed" : "") + (children > 0 ? ", " + children + " open" : "")
        + "]";
  }
}
