package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A stream: work on it runs in order. Streams from {@link CuContext#createStream()} are blocking
 * ({@code CU_STREAM_DEFAULT}), i.e. ordered with the legacy default stream, on which
 * {@link CuBuffer}'s blocking copies and fills run: a read after a launch sees the launch's results
 * without an explicit synchronize.
 */
public final class CuStream extends CuResource {

  private final MemorySegment handle;

  private CuStream(CuContext context, MemorySegment handle) {
    super(context);
    this.handle = handle;
  }

  static CuStream create(CuContext context, int flags) {
    try (var arena = Arena.ofConfined()) {
      var out = arena.allocate(ADDRESS);
      CuStatus.check(CuRaw.cuStreamCreate(out, flags), "cuStreamCreate",
          () -> "creating a stream on " + context.device().name());
      return new CuStream(context, out.get(ADDRESS, 0));
    }
  }

  /** The raw {@code CUstream}; throws once closed. */
  public MemorySegment handle() {
    if (isClosed()) {
      throw new IllegalStateException("CuStream is already closed");
    }
    return handle;
  }

  /** Blocks until everything enqueued so far is done; a kernel's fault shows here. */
  public void synchronize() {
    enter();
    CuStatus.check(CuRaw.cuStreamSynchronize(handle), "cuStreamSynchronize",
        () -> "waiting for a stream on " + context().device().name());
  }

  /** The raw handle of {@code stream}, or NULL (the legacy default stream) for null. */
  static MemorySegment handleOf(CuStream stream) {
    return stream == null ? MemorySegment.NULL : stream.handle();
  }

  @Override
  int release() {
    return CuRaw.cuStreamDestroy_v2(handle);
  }

  @Override
  String releaseCall() {
    return "cuStreamDestroy_v2";
  }

  @Override
  public String toString() {
    return "CuStream[" + context().device().name() + (isClosed() ? ", closed]" : "]");
  }
}
