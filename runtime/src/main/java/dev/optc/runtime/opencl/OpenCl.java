package dev.optc.runtime.opencl;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Whether this machine has OpenCL, asked once per JVM. {@link #platforms()} never throws: a missing
 * {@code libOpenCL.so.1}, a loader without drivers or a broken driver all read as "no platforms", and
 * {@link #unavailableReason()} says which, in one line that says what to install.
 */
public final class OpenCl {

  /** Holder idiom: the probe runs on first use, once, and a failing probe is remembered, not retried. */
  private static final class Probe {
    static final List<ClPlatform> PLATFORMS;
    static final String REASON;

    static {
      List<ClPlatform> platforms = List.of();
      String reason;
      try {
        platforms = ClPlatform.all();
        reason = platforms.isEmpty()
            ? "OpenCL is not available: " + ClRaw.LIBRARY + " reports no platform; " + ClRaw.INSTALL_HINT
            : "OpenCL is available: " + platforms.stream().map(ClPlatform::name).collect(Collectors.joining(", "));
      } catch (ClException e) {
        // The ICD loader says CL_PLATFORM_NOT_FOUND_KHR when no /etc/OpenCL/vendors/*.icd works.
        reason = "OpenCL is not available: " + ClRaw.LIBRARY + " found no driver (" + e.getMessage() + "); "
            + ClRaw.INSTALL_HINT;
      } catch (RuntimeException e) {
        // Missing library (an OptcException with the whole story) or a driver failing in a way we did
        // not foresee: either way, there is no usable OpenCL.
        reason = e.getMessage() != null && e.getMessage().startsWith("OpenCL is not available")
            ? e.getMessage()
            : "OpenCL is not available: " + e + "; " + ClRaw.INSTALL_HINT;
      }
      PLATFORMS = platforms;
      REASON = reason;
    }
  }

  /** Every OpenCL platform, or an empty list when there is no OpenCL here; never throws. */
  public static List<ClPlatform> platforms() {
    return Probe.PLATFORMS;
  }

  /** Whether {@link #platforms()} found at least one platform. */
  public static boolean isAvailable() {
    return !Probe.PLATFORMS.isEmpty();
  }

  /**
   * One line: why {@link #platforms()} is empty and what to install (e.g. {@code OpenCL is not available:
   * libOpenCL.so.1 not found; install an OpenCL driver, e.g. 'apt-get install pocl-opencl-icd
   * ocl-icd-libopencl1' for the CPU}), or, when it is not, which platforms there are.
   */
  public static String unavailableReason() {
    return Probe.REASON;
  }

  private OpenCl() {}
}
