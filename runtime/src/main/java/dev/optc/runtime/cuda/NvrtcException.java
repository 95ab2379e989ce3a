package dev.optc.runtime.cuda;

import java.io.Serial;
import java.util.Optional;

/**
 * An NVRTC call failed; for {@code nvrtcCompileProgram} the message ends with the compiler's whole log,
 * e.g. {@code nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (6) while compiling adam.cu with
 * [--fmad=false]; log:\nadam.cu(12): error: identifier "x" is undefined ...}.
 */
public final class NvrtcException extends CuException {
  @Serial private static final long serialVersionUID = 1L;

  /** {@code log}: the compile log, or null where the call has none. */
  public NvrtcException(String call, int code, String during, String log) {
    super(call, code, NvrtcStatus.nameOf(code), during, log);
  }

  /** Always empty: this is no driver status. */
  @Override
  public Optional<CuStatus> status() {
    return Optional.empty();
  }

  /** The NVRTC status, empty for a code {@link NvrtcStatus} does not know. */
  public Optional<NvrtcStatus> nvrtcStatus() {
    return NvrtcStatus.of(code());
  }
}
