package dev.optc.runtime.opencl;

import dev.optc.runtime.OptcException;
import java.io.Serial;
import java.util.Optional;

/**
 * An OpenCL call returned an error status. The message names the call, the status and what optc was
 * doing, e.g. {@code clCreateBuffer failed: CL_INVALID_BUFFER_SIZE (-61) while allocating 17179869184
 * bytes on pthread-skylake-avx512 (at most 2238240768 bytes in one buffer)}.
 */
public class ClException extends OptcException {
  @Serial private static final long serialVersionUID = 1L;

  private final String call;
  private final int code;

  public ClException(String call, int code, String during) {
    this(call, code, during, "");
  }

  /** For subclasses that append details (a build log) after the standard first line. */
  protected ClException(String call, int code, String during, String details) {
    super(message(call, code, during) + details);
    this.call = call;
    this.code = code;
  }

  private static String message(String call, int code, String during) {
    var m = call + " failed: " + ClStatus.nameOf(code) + " (" + code + ")";
    return during == null || during.isEmpty() ? m : m + " while " + during;
  }

  /** The C function that failed, e.g. {@code clCreateBuffer}. */
  public String call() {
    return call;
  }

  /** The raw {@code cl_int} status. */
  public int code() {
    return code;
  }

  /** The status's C name, e.g. {@code CL_INVALID_BUFFER_SIZE}. */
  public String codeName() {
    return ClStatus.nameOf(code);
  }

  /** The status, empty for a code no OpenCL header defines (a vendor's own). */
  public Optional<ClStatus> status() {
    return ClStatus.of(code);
  }
}
