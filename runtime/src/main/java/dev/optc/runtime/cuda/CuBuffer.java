package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Device memory: a {@code CUdeviceptr} and a size in bytes. All offsets and sizes are in bytes.
 *
 * <p>{@code write}, {@code read} and {@code copyTo} are the driver's synchronous copies, on the legacy
 * default stream: they wait for earlier work on blocking streams (so a read after a launch sees its
 * results) and the host memory may be reused once they return. {@code fill32} is enqueued on the same
 * stream and may still be running when it returns; later work on blocking streams sees its effect.
 *
 * <p>A buffer either owns its memory ({@link CuContext#allocate}) and frees it on close, or wraps a
 * pointer a caller made ({@link CuContext#wrap}) and frees nothing.
 */
public final class CuBuffer extends CuResource {

  private final long pointer;
  private final long size;
  private final boolean owned;

  private CuBuffer(CuContext context, long pointer, long size, boolean owned) {
    super(context);
    this.pointer = pointer;
    this.size = size;
    this.owned = owned;
  }

  static CuBuffer allocate(CuContext context, long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("a buffer needs at least one byte, not " + bytes);
    }
    var device = context.device();
    try (var arena = Arena.ofConfined()) {
      var out = arena.allocate(JAVA_LONG);
      CuStatus.check(CuRaw.cuMemAlloc_v2(out, bytes), "cuMemAlloc_v2", () -> "allocating " + bytes + " bytes on "
          + device.name() + " (" + device.totalMemory() + " bytes in all)");
      return new CuBuffer(context, out.get(JAVA_LONG, 0), bytes, true);
    }
  }

  static CuBuffer wrap(CuContext context, long pointer, long bytes) {
    if (pointer == 0) {
      throw new IllegalArgumentException("cannot wrap a NULL CUdeviceptr");
    }
    if (bytes <= 0) {
      throw new IllegalArgumentException("a wrapped buffer needs at least one byte, not " + bytes);
    }
    return new CuBuffer(context, pointer, bytes, false);
  }

  /** The {@code CUdeviceptr}, for kernel arguments and the raw bindings; throws once closed. */
  public long pointer() {
    if (isClosed()) {
      throw new IllegalStateException("CuBuffer is already closed");
    }
    return pointer;
  }

  /** The {@code CUdeviceptr} {@code byteOffset} bytes in (an argument for a kernel on a sub-range). */
  public long pointer(long byteOffset) {
    Objects.checkIndex(byteOffset, size);
    return pointer() + byteOffset;
  }

  /** The size in bytes. */
  public long size() {
    return size;
  }

  /** Whether this buffer frees its memory on close (false for {@link CuContext#wrap}). */
  public boolean isOwned() {
    return owned;
  }

  /** Copies all of {@code src} into this buffer at {@code byteOffset}. */
  public void write(long byteOffset, MemorySegment src) {
    long n = src.byteSize();
    Objects.checkFromIndexSize(byteOffset, n, size);
    if (n == 0) {
      return;
    }
    enter();
    if (src.isNative()) {
      copyIn(byteOffset, src);
    } else {
      // A heap segment cannot be handed to a downcall; stage it off-heap.
      try (var arena = Arena.ofConfined()) {
        copyIn(byteOffset, arena.allocate(n, 64).copyFrom(src));
      }
    }
  }

  /** Copies {@code src} into this buffer at {@code byteOffset}. */
  public void write(long byteOffset, float[] src) {
    write(byteOffset, MemorySegment.ofArray(src));
  }

  /** Copies {@code src} into this buffer at {@code byteOffset}. */
  public void write(long byteOffset, int[] src) {
    write(byteOffset, MemorySegment.ofArray(src));
  }

  private void copyIn(long byteOffset, MemorySegment src) {
    CuStatus.check(CuRaw.cuMemcpyHtoD_v2(pointer + byteOffset, src, src.byteSize()), "cuMemcpyHtoD_v2",
        () -> "writing " + src.byteSize() + " bytes at offset " + byteOffset + " of a " + size + "-byte buffer on "
            + context().device().name());
  }

  /** Fills all of {@code dst} from this buffer at {@code byteOffset}. */
  public void read(long byteOffset, MemorySegment dst) {
    long n = dst.byteSize();
    Objects.checkFromIndexSize(byteOffset, n, size);
    if (n == 0) {
      return;
    }
    enter();
    if (dst.isNative()) {
      copyOut(byteOffset, dst);
    } else {
      try (var arena = Arena.ofConfined()) {
        var staged = arena.allocate(n, 64);
        copyOut(byteOffset, staged);
        dst.copyFrom(staged);
      }
    }
  }

  /** Fills {@code dst} from this buffer at {@code byteOffset}. */
  public void read(long byteOffset, float[] dst) {
    read(byteOffset, MemorySegment.ofArray(dst));
  }

  /** Fills {@code dst} from this buffer at {@code byteOffset}. */
  public void read(long byteOffset, int[] dst) {
    read(byteOffset, MemorySegment.ofArray(dst));
  }

  /** The whole buffer as floats; its size must be a multiple of 4. */
  public float[] readFloats() {
    if (size % Float.BYTES != 0 || size / Float.BYTES > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("a " + size + "-byte buffer does not fit one float[]");
    }
    var out = new float[(int) (size / Float.BYTES)];
    read(0, out);
    return out;
  }

  private void copyOut(long byteOffset, MemorySegment dst) {
    CuStatus.check(CuRaw.cuMemcpyDtoH_v2(dst, pointer + byteOffset, dst.byteSize()), "cuMemcpyDtoH_v2",
        () -> "reading " + dst.byteSize() + " bytes at offset " + byteOffset + " of a " + size + "-byte buffer on "
            + context().device().name());
  }

  /** Sets every 32-bit word of the buffer to {@code value}; the size must be a multiple of 4. */
  public void fill32(int value) {
    if (size % 4 != 0) {
      throw new IllegalStateException("a " + size + "-byte buffer is not a whole number of 32-bit words");
    }
    fill32(0, size / 4, value);
  }

  /** Sets {@code words} 32-bit words from {@code byteOffset} (a multiple of 4) to {@code value}. */
  public void fill32(long byteOffset, long words, int value) {
    if (byteOffset % 4 != 0 || words < 0) {
      throw new IllegalArgumentException("fill32 needs a 4-byte aligned offset and a word count >= 0, not offset "
          + byteOffset + " and " + words + " words");
    }
    Objects.checkFromIndexSize(byteOffset, Math.multiplyExact(words, 4L), size);
    if (words == 0) {
      return;
    }
    enter();
    CuStatus.check(CuRaw.cuMemsetD32_v2(pointer + byteOffset, value, words), "cuMemsetD32_v2",
        () -> "filling " + words + " words at offset " + byteOffset + " of a " + size + "-byte buffer on "
            + context().device().name());
  }

  /** Sets every float of the buffer to {@code value}, bit for bit (a NaN to poison an output, say). */
  public void fill(float value) {
    fill32(Float.floatToRawIntBits(value));
  }

  /** Copies this whole buffer to the start of {@code dst}, which must be at least as large. */
  public void copyTo(CuBuffer dst) {
    copyTo(0, dst, 0, size);
  }

  /** Copies {@code bytes} bytes from {@code srcOffset} here to {@code dstOffset} in {@code dst}. */
  public void copyTo(long srcOffset, CuBuffer dst, long dstOffset, long bytes) {
    Objects.checkFromIndexSize(srcOffset, bytes, size);
    Objects.checkFromIndexSize(dstOffset, bytes, dst.size);
    if (bytes == 0) {
      return;
    }
    long to = dst.pointer();
    enter();
    CuStatus.check(CuRaw.cuMemcpyDtoD_v2(to + dstOffset, pointer + srcOffset, bytes), "cuMemcpyDtoD_v2",
        () -> "copying " + bytes + " bytes between buffers on " + context().device().name());
  }

  @Override
  int release() {
    return owned ? CuRaw.cuMemFree_v2(pointer) : CuRaw.CUDA_SUCCESS;
  }

  @Override
  String releaseCall() {
    return "cuMemFree_v2";
  }

  @Override
  public String toString() {
    return "CuBuffer[" + size + " bytes at 0x" + Long.toHexString(pointer) + (owned ? "" : ", wrapped")
        + (isClosed() ? ", closed]" : "]");
  }
}
