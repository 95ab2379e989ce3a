package dev.optc.runtime.cuda;

import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/** Every {@code nvrtcResult} of NVRTC 13.0 ({@code nvrtc.h}) with the name the header gives it. */
public enum NvrtcStatus {
  NVRTC_SUCCESS(0),
  NVRTC_ERROR_OUT_OF_MEMORY(1),
  NVRTC_ERROR_PROGRAM_CREATION_FAILURE(2),
  NVRTC_ERROR_INVALID_INPUT(3),
  NVRTC_ERROR_INVALID_PROGRAM(4),
  NVRTC_ERROR_INVALID_OPTION(5),
  NVRTC_ERROR_COMPILATION(6),
  NVRTC_ERROR_BUILTIN_OPERATION_FAILURE(7),
  NVRTC_ERROR_NO_NAME_EXPRESSIONS_AFTER_COMPILATION(8),
  NVRTC_ERROR_NO_LOWERED_NAMES_BEFORE_COMPILATION(9),
  NVRTC_ERROR_NAME_EXPRESSION_NOT_VALID(10),
  NVRTC_ERROR_INTERNAL_ERROR(11),
  NVRTC_ERROR_TIME_FILE_WRITE_FAILED(12),
  NVRTC_ERROR_NO_PCH_CREATE_ATTEMPTED(13),
  NVRTC_ERROR_PCH_CREATE_HEAP_EXHAUSTED(14),
  NVRTC_ERROR_PCH_CREATE(15),
  NVRTC_ERROR_CANCELLED(16),
  NVRTC_ERROR_TIME_TRACE_FILE_WRITE_FAILED(17);

  private static final Map<Integer, NvrtcStatus> BY_CODE =
      Arrays.stream(values()).collect(Collectors.toUnmodifiableMap(NvrtcStatus::code, Function.identity()));

  private final int code;

  NvrtcStatus(int code) {
    this.code = code;
  }

  /** The numeric {@code nvrtcResult} value. */
  public int code() {
    return code;
  }

  /** The status with this code; empty for a code this table does not know (a newer NVRTC's). */
  public static Optional<NvrtcStatus> of(int code) {
    return Optional.ofNullable(BY_CODE.get(code));
  }

  /** The C name of a code, e.g. {@code NVRTC_ERROR_COMPILATION}, or {@code "unknown NVRTC status"}. */
  public static String nameOf(int code) {
    var status = BY_CODE.get(code);
    return status == null ? "unknown NVRTC status" : status.name();
  }

  /** Throws an {@link NvrtcException} (with no log) unless {@code code} is {@code NVRTC_SUCCESS}. */
  static void check(int code, String call, Supplier<String> during) {
    if (code != NVRTC_SUCCESS.code) {
      throw new NvrtcException(call, code, during.get(), null);
    }
  }
}
