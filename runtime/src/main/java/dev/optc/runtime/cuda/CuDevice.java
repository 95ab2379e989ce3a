package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;

/**
 * A CUDA device ({@code CUdevice}, an ordinal the driver hands out). Devices are the driver's and need
 * no release, so this class holds no resource; everything a backend needs to plan launches is read
 * once, when the device is listed. Work on a device happens in its {@link #primaryContext()}.
 */
public final class CuDevice {

  private final int ordinal;
  private final int handle;
  private final String name;
  private final int multiprocessorCount;
  private final int computeCapabilityMajor;
  private final int computeCapabilityMinor;
  private final int maxThreadsPerBlock;
  private final int warpSize;
  private final int maxSharedMemoryPerBlock;
  private final long totalMemory;

  private CuDevice(int ordinal, int handle) {
    this.ordinal = ordinal;
    this.handle = handle;
    this.name = readName(handle);
    this.multiprocessorCount = attribute(CuRaw.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "multiprocessor count");
    this.computeCapabilityMajor =
        attribute(CuRaw.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "compute capability (major)");
    this.computeCapabilityMinor =
        attribute(CuRaw.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "compute capability (minor)");
    this.maxThreadsPerBlock = attribute(CuRaw.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, "max threads per block");
    this.warpSize = attribute(CuRaw.CU_DEVICE_ATTRIBUTE_WARP_SIZE, "warp size");
    this.maxSharedMemoryPerBlock =
        attribute(CuRaw.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, "shared memory per block");
    this.totalMemory = readTotalMemory(handle, name);
  }

  /** Every device the driver reports; initializes the driver first. */
  static List<CuDevice> all() {
    Cuda.init();
    try (var arena = Arena.ofConfined()) {
      var count = arena.allocate(JAVA_INT);
      CuStatus.check(CuRaw.cuDeviceGetCount(count), "cuDeviceGetCount", () -> "counting CUDA devices");
      int n = count.get(JAVA_INT, 0);
      var devices = new ArrayList<CuDevice>(n);
      var device = arena.allocate(JAVA_INT);
      for (int i = 0; i < n; i++) {
        int ordinal = i;
        CuStatus.check(CuRaw.cuDeviceGet(device, ordinal), "cuDeviceGet", () -> "getting CUDA device " + ordinal);
        devices.add(new CuDevice(ordinal, device.get(JAVA_INT, 0)));
      }
      return List.copyOf(devices);
    }
  }

  private static String readName(int handle) {
    try (var arena = Arena.ofConfined()) {
      int capacity = 256;
      var name = arena.allocate(capacity);
      CuStatus.check(CuRaw.cuDeviceGetName(name, capacity, handle), "cuDeviceGetName",
          () -> "reading the name of CUDA device " + handle);
      return name.getString(0);
    }
  }

  private static long readTotalMemory(int handle, String name) {
    try (var arena = Arena.ofConfined()) {
      var bytes = arena.allocate(JAVA_LONG);
      CuStatus.check(CuRaw.cuDeviceTotalMem_v2(bytes, handle), "cuDeviceTotalMem_v2",
          () -> "reading the memory size of " + name);
      return bytes.get(JAVA_LONG, 0);
    }
  }

  private int attribute(int attribute, String what) {
    try (var arena = Arena.ofConfined()) {
      var value = arena.allocate(JAVA_INT);
      CuStatus.check(CuRaw.cuDeviceGetAttribute(value, attribute, handle), "cuDeviceGetAttribute",
          () -> "reading the " + what + " of " + name);
      return value.get(JAVA_INT, 0);
    }
  }

  /** A new reference to this device's primary context; close it when done. */
  public CuContext primaryContext() {
    return CuContext.primary(this);
  }

  /** The position in {@link Cuda#devices()} (as {@code CUDA_VISIBLE_DEVICES} numbers them). */
  public int ordinal() {
    return ordinal;
  }

  /** The raw {@code CUdevice}, for the raw bindings. */
  public int handle() {
    return handle;
  }

  public String name() {
    return name;
  }

  /** The number of streaming multiprocessors (SMs). */
  public int multiprocessorCount() {
    return multiprocessorCount;
  }

  public int computeCapabilityMajor() {
    return computeCapabilityMajor;
  }

  public int computeCapabilityMinor() {
    return computeCapabilityMinor;
  }

  /** {@code "9.0"} for an H100. */
  public String computeCapability() {
    return computeCapabilityMajor + "." + computeCapabilityMinor;
  }

  /** The real architecture, {@code "sm_90"} for an H100. */
  public String arch() {
    return "sm_" + computeCapabilityMajor + computeCapabilityMinor;
  }

  /** The most threads any block may have here; a given kernel may allow fewer (registers). */
  public int maxThreadsPerBlock() {
    return maxThreadsPerBlock;
  }

  public int warpSize() {
    return warpSize;
  }

  /** Static shared memory a block may use without opting in, in bytes. */
  public int maxSharedMemoryPerBlock() {
    return maxSharedMemoryPerBlock;
  }

  /** Device memory in bytes ({@code cuDeviceTotalMem}). */
  public long totalMemory() {
    return totalMemory;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CuDevice d && d.handle == handle;
  }

  @Override
  public int hashCode() {
    return Integer.hashCode(handle);
  }

  /** The name only: it is what error messages want ("... on NVIDIA H100 80GB HBM3"). */
  @Override
  public String toString() {
    return name;
  }
}
