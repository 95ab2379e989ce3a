package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import dev.optc.runtime.OptcException;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Whether this machine has a usable CUDA driver and GPU, asked once per JVM. {@link #devices()} never
 * throws: a missing {@code libcuda.so.1}, a driver that fails {@code cuInit} (no GPU, a driver/kernel
 * module mismatch) or a GPU that cannot be queried all read as "no devices", and
 * {@link #unavailableReason()} says which, in one line.
 */
public final class Cuda {

  /** {@code cuInit(0)}, once per process, as the driver requires before anything else. */
  private static final class Init {
    /** Why there is no driver to initialize; null when there is one. */
    static final String LOAD_FAILURE;
    /** cuInit's status; CUDA_SUCCESS when it was not called. */
    static final int STATUS;

    static {
      String failure = CuRaw.loadFailure().orElse(null);
      int status = CuRaw.CUDA_SUCCESS;
      if (failure == null) {
        try {
          status = CuRaw.cuInit(0);
        } catch (RuntimeException e) {
          failure = "CUDA is not available: cuInit could not be called: " + e.getMessage();
        }
      }
      LOAD_FAILURE = failure;
      STATUS = status;
    }
  }

  /** Holder idiom: the probe runs on first use, once, and a failing probe is remembered, not retried. */
  private static final class Probe {
    static final List<CuDevice> DEVICES;
    static final String REASON;

    static {
      List<CuDevice> devices = List.of();
      String reason;
      try {
        devices = CuDevice.all();
        reason = devices.isEmpty()
            ? "CUDA is not available: the driver (" + versionString(driverVersion()) + ") reports no device"
            : "CUDA is available: driver " + versionString(driverVersion()) + ", "
                + devices.stream().map(d -> d.name() + " (" + d.arch() + ")").collect(Collectors.joining(", "));
      } catch (CuException e) {
        // cuInit says CUDA_ERROR_NO_DEVICE without a GPU, CUDA_ERROR_SYSTEM_DRIVER_MISMATCH when the
        // library and the kernel module differ, CUDA_ERROR_STUB_LIBRARY for the toolkit's link stub.
        reason = "CUDA is not available: " + e.getMessage();
      } catch (RuntimeException e) {
        // A missing library (an OptcException with the whole story) or a driver failing in a way we did
        // not foresee: either way, there is no usable CUDA.
        var message = e.getMessage();
        reason = message != null && message.startsWith("CUDA is not available")
            ? message
            : "CUDA is not available: " + e;
      }
      DEVICES = devices;
      REASON = reason;
    }
  }

  /**
   * Runs {@code cuInit(0)} once; every later call rethrows its failure afresh. The idiomatic layer calls
   * this before any other driver function.
   *
   * @throws OptcException when there is no driver library, a {@link CuException} when cuInit failed
   */
  static void init() {
    if (Init.LOAD_FAILURE != null) {
      throw new OptcException(Init.LOAD_FAILURE);
    }
    CuStatus.check(Init.STATUS, "cuInit", () -> "initializing the CUDA driver");
  }

  /** Every CUDA device, in the driver's order, or an empty list where there is none; never throws. */
  public static List<CuDevice> devices() {
    return Probe.DEVICES;
  }

  /** Whether {@link #devices()} found at least one device. */
  public static boolean isAvailable() {
    return !Probe.DEVICES.isEmpty();
  }

  /**
   * One line: why {@link #devices()} is empty (e.g. {@code CUDA is not available: libcuda.so.1 not found
   * (no NVIDIA driver)}), or, when it is not, the driver version and the devices.
   */
  public static String unavailableReason() {
    return Probe.REASON;
  }

  /**
   * The driver's CUDA version as {@code cuDriverGetVersion} gives it, {@code 1000 * major + 10 * minor}
   * (13000 for 13.0): the newest CUDA (and PTX ISA) this driver runs.
   */
  public static int driverVersion() {
    init();
    try (var arena = Arena.ofConfined()) {
      var version = arena.allocate(JAVA_INT);
      CuStatus.check(CuRaw.cuDriverGetVersion(version), "cuDriverGetVersion", () -> "asking the driver's version");
      return version.get(JAVA_INT, 0);
    }
  }

  /** 13000 → {@code "13.0"}, 12040 → {@code "12.4"}. */
  public static String versionString(int version) {
    return version / 1000 + "." + version % 1000 / 10;
  }

  private Cuda() {}
}
