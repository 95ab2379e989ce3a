package dev.optc.runtime.blas;

import dev.optc.runtime.OptcException;
import java.io.Serial;

/**
 * A BLAS call returned an error status. The message names the call, the status and the product, e.g.
 * {@code CLBlastSgemm failed: CLBlastInvalidLocalMemUsage (-2046) while multiplying 768x768 · 768x3072 →
 * 768x3072 on pthread-AMD EPYC}.
 */
public final class BlasException extends OptcException {
  @Serial private static final long serialVersionUID = 1L;

  private final String call;
  private final int code;

  BlasException(String call, int code, String codeName, String during) {
    super(call + " failed: " + codeName + " (" + code + ") while " + during);
    this.call = call;
    this.code = code;
  }

  /** The C function that failed, e.g. {@code cublasSgemm_v2}. */
  public String call() {
    return call;
  }

  /** The raw status. */
  public int code() {
    return code;
  }
}
