package dev.optc.runtime.blas;

import dev.optc.runtime.opencl.ClStatus;
import java.util.Map;

/**
 * CLBlast's status names. Codes above -1024 are OpenCL's own ({@link ClStatus} names them); below are
 * clBLAS's and CLBlast's, from {@code clblast_c.h}.
 */
final class ClBlastStatus {

  private static final Map<Integer, String> NAMES = Map.ofEntries(
      Map.entry(-1024, "CLBlastNotImplemented"),
      Map.entry(-1022, "CLBlastInvalidMatrixA"),
      Map.entry(-1021, "CLBlastInvalidMatrixB"),
      Map.entry(-1020, "CLBlastInvalidMatrixC"),
      Map.entry(-1017, "CLBlastInvalidDimension"),
      Map.entry(-1016, "CLBlastInvalidLeadDimA"),
      Map.entry(-1015, "CLBlastInvalidLeadDimB"),
      Map.entry(-1014, "CLBlastInvalidLeadDimC"),
      Map.entry(-1011, "CLBlastInsufficientMemoryA"),
      Map.entry(-1010, "CLBlastInsufficientMemoryB"),
      Map.entry(-1009, "CLBlastInsufficientMemoryC"),
      Map.entry(-2050, "CLBlastInsufficientMemoryTemp"),
      Map.entry(-2046, "CLBlastInvalidLocalMemUsage"),
      Map.entry(-2041, "CLBlastDatabaseError"),
      Map.entry(-2040, "CLBlastUnknownError"),
      Map.entry(-2039, "CLBlastUnexpectedError"));

  /** The C name of a code, e.g. {@code CLBlastInvalidLeadDimA} or {@code CL_OUT_OF_RESOURCES}. */
  static String nameOf(int code) {
    return code > -1024 ? ClStatus.nameOf(code) : NAMES.getOrDefault(code, "unknown CLBlast status");
  }

  private ClBlastStatus() {}
}
