package dev.optc.runtime.cuda;

/**
 * Something made in a {@link CuContext} that must be given back to the driver: released exactly once, by
 * {@link #close()}, after which every use fails with an {@link IllegalStateException} instead of handing
 * a dangling handle to the driver. Each one holds its context open (see {@link CuContext}).
 */
abstract sealed class CuResource implements AutoCloseable permits CuStream, CuBuffer, CuModule, CuEvent {

  private final CuContext context;
  private boolean closed;

  /** Call only once the driver object exists: from here on, close() must run to give it back. */
  CuResource(CuContext context) {
    this.context = context;
    context.retainChild();
  }

  public final CuContext context() {
    return context;
  }

  public final boolean isClosed() {
    return closed;
  }

  /** Throws once closed; then makes the context current, ready for a driver call. */
  final void enter() {
    if (closed) {
      throw new IllegalStateException(getClass().getSimpleName() + " is already closed");
    }
    context.enter();
  }

  /** Gives the driver object back; idempotent. A failing release is a driver or optc bug and throws. */
  @Override
  public final void close() {
    if (closed) {
      return;
    }
    closed = true; // first, so a failing release is never retried on a freed object
    try {
      context.enter();
      CuStatus.check(release(), releaseCall(), () -> "releasing a " + getClass().getSimpleName() + " on "
          + context.device().name());
    } finally {
      context.releaseChild();
    }
  }

  /** Frees the driver object; returns the CUresult. */
  abstract int release();

  abstract String releaseCall();
}
