package dev.optc.runtime.cuda;

import dev.optc.runtime.OptcException;
import java.io.Serial;
import java.util.Optional;

/**
 * A CUDA driver call returned an error status. The message names the call, the status and what optc was
 * doing, e.g. {@code cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2) while allocating 17179869184
 * bytes on NVIDIA H100 80GB HBM3 (85024112640 bytes in all)}. Where the driver or compiler left a log
 * (a JIT error log, an NVRTC compile log), it follows that first line whole, because the log is the
 * only place the error (file, line, caret) can be found.
 */
public class CuException extends OptcException {
  @Serial private static final long serialVersionUID = 1L;

  private final String call;
  private final int code;
  private final String codeName;
  private final String log;

  /** A failed driver call without a log. */
  public CuException(String call, int code, String during) {
    this(call, code, during, null);
  }

  /** A failed driver call with the driver's log ({@code null}: none was asked for). */
  public CuException(String call, int code, String during, String log) {
    this(call, code, CuStatus.nameOf(code), during, log);
  }

  /** For {@link NvrtcException}: a status from another table. */
  protected CuException(String call, int code, String codeName, String during, String log) {
    super(message(call, code, codeName, during, log));
    this.call = call;
    this.code = code;
    this.codeName = codeName;
    this.log = log == null ? "" : log;
  }

  private static String message(String call, int code, String codeName, String during, String log) {
    var m = new StringBuilder(call).append(" failed: ").append(codeName).append(" (").append(code).append(')');
    if (during != null && !during.isEmpty()) {
      m.append(" while ").append(during);
    }
    if (log != null) {
      m.append(log.isBlank() ? "; the log is empty" : "; log:\n" + log.strip());
    }
    return m.toString();
  }

  /** The C function that failed, e.g. {@code cuMemAlloc_v2}. */
  public String call() {
    return call;
  }

  /** The raw status. */
  public int code() {
    return code;
  }

  /** The status's C name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}. */
  public String codeName() {
    return codeName;
  }

  /** The driver status, empty for a code {@link CuStatus} does not know (or an NVRTC one). */
  public Optional<CuStatus> status() {
    return CuStatus.of(code);
  }

  /** The driver's or compiler's log as it gave it; empty when there was none. */
  public String log() {
    return log;
  }
}
