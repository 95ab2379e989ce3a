package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A point in a stream, for timing work on the device: record a start and an end around it, then
 * {@link #elapsedMillis(CuEvent, CuEvent)}. The driver times to about half a microsecond.
 */
public final class CuEvent extends CuResource {

  private final MemorySegment handle;

  private CuEvent(CuContext context, MemorySegment handle) {
    super(context);
    this.handle = handle;
  }

  static CuEvent create(CuContext context, int flags) {
    try (var arena = Arena.ofConfined()) {
      var out = arena.allocate(ADDRESS);
      CuStatus.check(CuRaw.cuEventCreate(out, flags), "cuEventCreate",
          () -> "creating an event on " + context.device().name());
      return new CuEvent(context, out.get(ADDRESS, 0));
    }
  }

  /** The raw {@code CUevent}; throws once closed. */
  public MemorySegment handle() {
    if (isClosed()) {
      throw new IllegalStateException("CuEvent is already closed");
    }
    return handle;
  }

  /** Enqueues this event on {@code stream} (null: the legacy default stream); returns this. */
  public CuEvent record(CuStream stream) {
    enter();
    CuStatus.check(CuRaw.cuEventRecord(handle, CuStream.handleOf(stream)), "cuEventRecord",
        () -> "recording an event on " + context().device().name());
    return this;
  }

  /** Blocks until the work before this event's last record is done. */
  public void synchronize() {
    enter();
    CuStatus.check(CuRaw.cuEventSynchronize(handle), "cuEventSynchronize",
        () -> "waiting for an event on " + context().device().name());
  }

  /** Milliseconds of device time from {@code start} to {@code end}, both recorded; waits for {@code end}. */
  public static float elapsedMillis(CuEvent start, CuEvent end) {
    end.synchronize();
    start.enter();
    try (var arena = Arena.ofConfined()) {
      var ms = arena.allocate(JAVA_FLOAT);
      CuStatus.check(CuRaw.cuEventElapsedTime(ms, start.handle(), end.handle()), "cuEventElapsedTime",
          () -> "timing between two events on " + end.context().device().name());
      return ms.get(JAVA_FLOAT, 0);
    }
  }

  @Override
  int release() {
    return CuRaw.cuEventDestroy_v2(handle);
  }

  @Override
  String releaseCall() {
    return "cuEventDestroy_v2";
  }
}
