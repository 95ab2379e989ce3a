package dev.optc.runtime.opencl;

import java.io.Serial;

/**
 * {@code clBuildProgram} failed (a compile error, bad options, an unusable binary). The message is the
 * usual {@link ClException} line followed by the driver's whole build log, because the log is the only
 * place the compiler's error (file, line, caret) can be found.
 */
public final class ClBuildException extends ClException {
  @Serial private static final long serialVersionUID = 1L;

  private final String buildLog;

  public ClBuildException(String call, int code, String during, String buildLog) {
    super(call, code, during, buildLog.isBlank() ? "; the build log is empty" : "; build log:\n" + buildLog.strip());
    this.buildLog = buildLog;
  }

  /** The driver's build log as it gave it, possibly empty. */
  public String buildLog() {
    return buildLog;
  }
}
