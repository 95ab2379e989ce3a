package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A device buffer ({@code cl_mem}) of a fixed number of bytes. All offsets and sizes are in bytes.
 * Transfers go through a {@link ClQueue} of the same context: {@code write} and {@code read} block until
 * done (so the host memory may be reused at once); {@code fill} and {@code copyTo} are only enqueued,
 * which is enough on an in-order queue: later commands see their effect.
 *
 * <p>A buffer either owns its {@code cl_mem} ({@link ClContext#createBuffer}) or wraps one a caller made
 * ({@link ClContext#wrapBuffer}); a wrapper retains the handle when made and releases only that
 * reference on close, never the caller's.
 */
public final class ClBuffer extends ClHandle {

  private final ClContext context;
  private final long size;
  private final boolean wrapped;

  private ClBuffer(ClContext context, MemorySegment handle, long size, boolean wrapped) {
    super(handle);
    this.context = context;
    this.size = size;
    this.wrapped = wrapped;
  }

  static ClBuffer allocate(ClContext context, long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("a buffer needs at least one byte, not " + bytes);
    }
    var device = context.device();
    try (var arena = Arena.ofConfined()) {
      var err = arena.allocate(JAVA_INT);
      var mem = ClRaw.clCreateBuffer(context.handle(), ClRaw.CL_MEM_READ_WRITE, bytes, MemorySegment.NULL, err);
      ClStatus.check(err.get(JAVA_INT, 0), "clCreateBuffer", () -> "allocating " + bytes + " bytes on "
          + device.name() + " (at most " + device.maxMemAllocSize() + " bytes in one buffer, "
          + device.globalMemSize() + " in all)");
      return new ClBuffer(context, mem, bytes, false);
    }
  }

  /**
   * A buffer that uses {@code host} in place ({@code CL_MEM_USE_HOST_PTR}): on a CPU device kernels read and
   * write that memory itself, so it is shared with the host without copies. The caller keeps {@code host}
   * alive (and unmoved: it must be native) until the buffer is closed.
   */
  static ClBuffer useHost(ClContext context, MemorySegment host) {
    if (!host.isNative() || host.byteSize() <= 0) {
      throw new IllegalArgumentException("a buffer over host memory needs a non-empty native segment, not " + host);
    }
    var device = context.device();
    try (var arena = Arena.ofConfined()) {
      var err = arena.allocate(JAVA_INT);
      var mem = ClRaw.clCreateBuffer(context.handle(), ClRaw.CL_MEM_READ_WRITE | ClRaw.CL_MEM_USE_HOST_PTR,
          host.byteSize(), host, err);
      ClStatus.check(err.get(JAVA_INT, 0), "clCreateBuffer", () -> "using " + host.byteSize()
          + " bytes of host memory at 0x" + Long.toHexString(host.address()) + " on " + device.name());
      return new ClBuffer(context, mem, host.byteSize(), false);
    }
  }

  static ClBuffer wrap(ClContext context, MemorySegment clMem) {
    Objects.requireNonNull(clMem, "clMem");
    if (clMem.equals(MemorySegment.NULL)) {
      throw new IllegalArgumentException("cannot wrap a NULL cl_mem");
    }
    ClStatus.check(ClRaw.clRetainMemObject(clMem), "clRetainMemObject", () -> "wrapping a caller's cl_mem");
    try {
      int type = ClInfo.uint(memQuery(clMem, ClRaw.CL_MEM_TYPE), "clGetMemObjectInfo", () -> "reading a cl_mem's type");
      if (type != ClRaw.CL_MEM_OBJECT_BUFFER) {
        throw new IllegalArgumentException(
            "the cl_mem to wrap is not a buffer (CL_MEM_TYPE 0x" + Integer.toHexString(type) + ")");
      }
      var owner = ClInfo.address(memQuery(clMem, ClRaw.CL_MEM_CONTEXT), "clGetMemObjectInfo",
          () -> "reading a cl_mem's context");
      if (owner.address() != context.handle().address()) {
        throw new IllegalArgumentException("the cl_mem to wrap belongs to another OpenCL context");
      }
      long bytes = ClInfo.ulong(memQuery(clMem, ClRaw.CL_MEM_SIZE), "clGetMemObjectInfo", () -> "reading a cl_mem's size");
      return new ClBuffer(context, clMem, bytes, true);
    } catch (RuntimeException e) {
      ClRaw.clReleaseMemObject(clMem); // give back the reference taken above; the original error matters more
      throw e;
    }
  }

  private static ClInfo.Query memQuery(MemorySegment mem, int param) {
    return (size, value, sizeRet) -> ClRaw.clGetMemObjectInfo(mem, param, size, value, sizeRet);
  }

  public ClContext context() {
    return context;
  }

  /** The size in bytes. */
  public long size() {
    return size;
  }

  /** Whether this wraps a caller's {@code cl_mem} (and so releases only its own extra reference). */
  public boolean isWrapped() {
    return wrapped;
  }

  /**
   * {@code CL_MEM_HOST_PTR}: the host memory a {@code CL_MEM_USE_HOST_PTR} buffer uses, or 0 for a buffer
   * in the device's own memory.
   */
  public long hostPointer() {
    return ClInfo.address(memQuery(handle(), ClRaw.CL_MEM_HOST_PTR), "clGetMemObjectInfo",
        () -> "reading a buffer's host pointer").address();
  }

  /** {@code CL_MEM_REFERENCE_COUNT}; the driver's own count, meant for leak tests and debugging. */
  public int referenceCount() {
    return ClInfo.uint(memQuery(handle(), ClRaw.CL_MEM_REFERENCE_COUNT), "clGetMemObjectInfo",
        () -> "reading a buffer's reference count");
  }

  /** Copies all of {@code src} into this buffer at {@code byteOffset}, blocking until done. */
  public void write(ClQueue queue, long byteOffset, MemorySegment src) {
    long n = src.byteSize();
    checkRange(queue, byteOffset, n);
    if (n == 0) {
      return;
    }
    if (src.isNative()) {
      blockingWrite(queue, byteOffset, src);
    } else {
      // A heap segment cannot be handed to a downcall that may block for long; stage it off-heap.
      try (var arena = Arena.ofConfined()) {
        var staged = arena.allocate(n, 64);
        staged.copyFrom(src);
        blockingWrite(queue, byteOffset, staged);
      }
    }
  }

  /** Copies {@code src} into this buffer at {@code byteOffset}, blocking until done. */
  public void write(ClQueue queue, long byteOffset, float[] src) {
    write(queue, byteOffset, MemorySegment.ofArray(src));
  }

  private void blockingWrite(ClQueue queue, long byteOffset, MemorySegment src) {
    int rc = ClRaw.clEnqueueWriteBuffer(queue.handle(), handle(), ClRaw.CL_TRUE, byteOffset, src.byteSize(), src,
        0, MemorySegment.NULL, MemorySegment.NULL);
    ClStatus.check(rc, "clEnqueueWriteBuffer", () -> "writing " + src.byteSize() + " bytes at offset " + byteOffset
        + " of a " + size + "-byte buffer on " + context.device().name());
  }

  /** Fills all of {@code dst} from this buffer at {@code byteOffset}, blocking until done. */
  public void read(ClQueue queue, long byteOffset, MemorySegment dst) {
    long n = dst.byteSize();
    checkRange(queue, byteOffset, n);
    if (n == 0) {
      return;
    }
    if (dst.isNative()) {
      blockingRead(queue, byteOffset, dst);
    } else {
      try (var arena = Arena.ofConfined()) {
        var staged = arena.allocate(n, 64);
        blockingRead(queue, byteOffset, staged);
        dst.copyFrom(staged);
      }
    }
  }

  /** Fills {@code dst} from this buffer at {@code byteOffset}, blocking until done. */
  public void read(ClQueue queue, long byteOffset, float[] dst) {
    read(queue, byteOffset, MemorySegment.ofArray(dst));
  }

  /** The whole buffer as floats; its size must be a multiple of 4. */
  public float[] readFloats(ClQueue queue) {
    if (size % Float.BYTES != 0 || size / Float.BYTES > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("a " + size + "-byte buffer does not fit one float[]");
    }
    var out = new float[(int) (size / Float.BYTES)];
    read(queue, 0, out);
    return out;
  }

  private void blockingRead(ClQueue queue, long byteOffset, MemorySegment dst) {
    int rc = ClRaw.clEnqueueReadBuffer(queue.handle(), handle(), ClRaw.CL_TRUE, byteOffset, dst.byteSize(), dst,
        0, MemorySegment.NULL, MemorySegment.NULL);
    ClStatus.check(rc, "clEnqueueReadBuffer", () -> "reading " + dst.byteSize() + " bytes at offset " + byteOffset
        + " of a " + size + "-byte buffer on " + context.device().name());
  }

  /** Enqueues setting every float of the buffer to {@code value} (NaN to poison an output, say). */
  public void fill(ClQueue queue, float value) {
    if (size % Float.BYTES != 0) {
      throw new IllegalStateException("a " + size + "-byte buffer is not a whole number of floats");
    }
    try (var arena = Arena.ofConfined()) {
      fill(queue, 0, size, arena.allocateFrom(JAVA_FLOAT, value));
    }
  }

  /**
   * Enqueues repeating {@code pattern} (1, 2, 4, …, 128 bytes) over {@code bytes} bytes from
   * {@code byteOffset}; both must be multiples of the pattern's size. The pattern is copied at once.
   */
  public void fill(ClQueue queue, long byteOffset, long bytes, MemorySegment pattern) {
    long p = pattern.byteSize();
    if (p == 0 || p > 128 || Long.bitCount(p) != 1 || byteOffset % p != 0 || bytes % p != 0) {
      throw new IllegalArgumentException("fill pattern of " + p + " bytes (a power of two up to 128) does not tile "
          + bytes + " bytes at offset " + byteOffset);
    }
    checkRange(queue, byteOffset, bytes);
    if (bytes == 0) {
      return;
    }
    try (var arena = Arena.ofConfined()) {
      var nativePattern = pattern.isNative() ? pattern : arena.allocate(p, p).copyFrom(pattern);
      int rc = ClRaw.clEnqueueFillBuffer(queue.handle(), handle(), nativePattern, p, byteOffset, bytes,
          0, MemorySegment.NULL, MemorySegment.NULL);
      ClStatus.check(rc, "clEnqueueFillBuffer", () -> "filling " + bytes + " bytes at offset " + byteOffset
          + " of a " + size + "-byte buffer on " + context.device().name());
    }
  }

  /** Enqueues copying this whole buffer to the start of {@code dst}, which must be at least as large. */
  public void copyTo(ClQueue queue, ClBuffer dst) {
    copyTo(queue, 0, dst, 0, size);
  }

  /** Enqueues copying {@code bytes} bytes from {@code srcOffset} here to {@code dstOffset} in {@code dst}. */
  public void copyTo(ClQueue queue, long srcOffset, ClBuffer dst, long dstOffset, long bytes) {
    checkRange(queue, srcOffset, bytes);
    dst.checkRange(queue, dstOffset, bytes);
    if (bytes == 0) {
      return;
    }
    int rc = ClRaw.clEnqueueCopyBuffer(queue.handle(), handle(), dst.handle(), srcOffset, dstOffset, bytes,
        0, MemorySegment.NULL, MemorySegment.NULL);
    ClStatus.check(rc, "clEnqueueCopyBuffer", () -> "copying " + bytes + " bytes between buffers on "
        + context.device().name());
  }

  private void checkRange(ClQueue queue, long byteOffset, long bytes) {
    if (queue.context() != context) {
      throw new IllegalArgumentException("the queue belongs to another context than the buffer");
    }
    Objects.checkFromIndexSize(byteOffset, bytes, size);
  }

  @Override
  int release(MemorySegment handle) {
    return ClRaw.clReleaseMemObject(handle);
  }

  @Override
  String releaseCall() {
    return "clReleaseMemObject";
  }

  @Override
  public String toString() {
    return "ClBuffer[" + size + " bytes" + (wrapped ? ", wrapped" : "") + (isClosed() ? ", closed]" : "]");
  }
}
