package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * An OpenCL device of a {@link ClPlatform}. Root devices are owned by the driver and need no release, so
 * this class holds no resource; everything a backend needs to plan launches is read once, when the
 * device is listed.
 */
public final class ClDevice {

  /** {@code CL_DEVICE_TYPE}, reduced to its main kind (the {@code DEFAULT} bit is ignored). */
  public enum Type {
    CPU(ClRaw.CL_DEVICE_TYPE_CPU),
    GPU(ClRaw.CL_DEVICE_TYPE_GPU),
    ACCELERATOR(ClRaw.CL_DEVICE_TYPE_ACCELERATOR),
    CUSTOM(ClRaw.CL_DEVICE_TYPE_CUSTOM);

    private final long bit;

    Type(long bit) {
      this.bit = bit;
    }

    long bit() {
      return bit;
    }

    static Type of(long bits) {
      for (var t : values()) {
        if ((bits & t.bit) != 0) {
          return t;
        }
      }
      // A device must have one of the four kinds; a driver that reports none is treated as the most
      // generic.
      return CUSTOM;
    }
  }

  private final ClPlatform platform;
  private final MemorySegment id;
  private final String name;
  private final String vendor;
  private final String version;
  private final String driverVersion;
  private final String openClCVersion;
  private final Type type;
  private final int computeUnits;
  private final long maxWorkGroupSize;
  private final long globalMemSize;
  private final long maxMemAllocSize;
  private final long maxParameterSize;
  private final int memBaseAddrAlign;
  private final long localMemSize;
  private final int preferredVectorWidthFloat;
  private final Set<String> extensions;

  private ClDevice(ClPlatform platform, MemorySegment id) {
    this.platform = platform;
    this.id = id;
    this.name = string(ClRaw.CL_DEVICE_NAME, "name");
    this.vendor = string(ClRaw.CL_DEVICE_VENDOR, "vendor");
    this.version = string(ClRaw.CL_DEVICE_VERSION, "version");
    this.driverVersion = string(ClRaw.CL_DRIVER_VERSION, "driver version");
    this.openClCVersion = string(ClRaw.CL_DEVICE_OPENCL_C_VERSION, "OpenCL C version");
    this.type = Type.of(ulong(ClRaw.CL_DEVICE_TYPE, "type"));
    this.computeUnits = uint(ClRaw.CL_DEVICE_MAX_COMPUTE_UNITS, "compute units");
    this.maxWorkGroupSize = ulong(ClRaw.CL_DEVICE_MAX_WORK_GROUP_SIZE, "max work-group size");
    this.globalMemSize = ulong(ClRaw.CL_DEVICE_GLOBAL_MEM_SIZE, "global memory size");
    this.maxMemAllocSize = ulong(ClRaw.CL_DEVICE_MAX_MEM_ALLOC_SIZE, "max allocation size");
    this.maxParameterSize = ulong(ClRaw.CL_DEVICE_MAX_PARAMETER_SIZE, "max parameter size");
    this.memBaseAddrAlign = uint(ClRaw.CL_DEVICE_MEM_BASE_ADDR_ALIGN, "base address alignment");
    this.localMemSize = ulong(ClRaw.CL_DEVICE_LOCAL_MEM_SIZE, "local memory size");
    this.preferredVectorWidthFloat = uint(ClRaw.CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, "float vector width");
    this.extensions = Arrays.stream(string(ClRaw.CL_DEVICE_EXTENSIONS, "extensions").split("\\s+"))
        .filter(s -> !s.isEmpty())
        .collect(Collectors.toUnmodifiableSet());
  }

  static List<ClDevice> list(ClPlatform platform, long typeBits) {
    try (var arena = Arena.ofConfined()) {
      var count = arena.allocate(JAVA_INT);
      int rc = ClRaw.clGetDeviceIDs(platform.id(), typeBits, 0, MemorySegment.NULL, count);
      if (rc == ClStatus.CL_DEVICE_NOT_FOUND.code()) {
        return List.of(); // "no device of that type" is an answer, not an error
      }
      ClStatus.check(rc, "clGetDeviceIDs", () -> "counting the devices of " + platform.name());
      int n = count.get(JAVA_INT, 0);
      if (n == 0) {
        return List.of();
      }
      var ids = arena.allocate(ADDRESS, n);
      ClStatus.check(ClRaw.clGetDeviceIDs(platform.id(), typeBits, n, ids, count), "clGetDeviceIDs",
          () -> "listing the devices of " + platform.name());
      int got = Math.min(n, count.get(JAVA_INT, 0));
      var devices = new ArrayList<ClDevice>(got);
      for (int i = 0; i < got; i++) {
        devices.add(new ClDevice(platform, ids.getAtIndex(ADDRESS, i)));
      }
      return List.copyOf(devices);
    }
  }

  private ClInfo.Query query(int param) {
    return (size, value, sizeRet) -> ClRaw.clGetDeviceInfo(id, param, size, value, sizeRet);
  }

  private String string(int param, String what) {
    return ClInfo.string(query(param), "clGetDeviceInfo", () -> "reading a device's " + what);
  }

  private int uint(int param, String what) {
    return ClInfo.uint(query(param), "clGetDeviceInfo", () -> "reading a device's " + what);
  }

  private long ulong(int param, String what) {
    return ClInfo.ulong(query(param), "clGetDeviceInfo", () -> "reading a device's " + what);
  }

  public ClPlatform platform() {
    return platform;
  }

  /** The raw {@code cl_device_id}, for interop and the raw bindings. */
  public MemorySegment id() {
    return id;
  }

  public String name() {
    return name;
  }

  public String vendor() {
    return vendor;
  }

  /** {@code CL_DEVICE_VERSION}, e.g. {@code "OpenCL 3.0 PoCL HSTR: ..."}. */
  public String version() {
    return version;
  }

  public String driverVersion() {
    return driverVersion;
  }

  /** {@code CL_DEVICE_OPENCL_C_VERSION}: the kernel language the compiler accepts, e.g. {@code "OpenCL C 1.2 PoCL"}. */
  public String openClCVersion() {
    return openClCVersion;
  }

  public Type type() {
    return type;
  }

  public int computeUnits() {
    return computeUnits;
  }

  /** The largest work-group any kernel may use here; a given kernel may allow fewer ({@link ClKernel#maxWorkGroupSize}). */
  public long maxWorkGroupSize() {
    return maxWorkGroupSize;
  }

  public long globalMemSize() {
    return globalMemSize;
  }

  /** The largest single buffer the device accepts ({@code CL_DEVICE_MAX_MEM_ALLOC_SIZE}). */
  public long maxMemAllocSize() {
    return maxMemAllocSize;
  }

  /** The most bytes of arguments a kernel may take ({@code CL_DEVICE_MAX_PARAMETER_SIZE}, 1,024 at least). */
  public long maxParameterSize() {
    return maxParameterSize;
  }

  /**
   * {@code CL_DEVICE_MEM_BASE_ADDR_ALIGN} in bytes (the driver says bits): how host memory a buffer uses in
   * place ({@code CL_MEM_USE_HOST_PTR}) should be aligned.
   */
  public int memBaseAddrAlignBytes() {
    return Math.max(1, memBaseAddrAlign / 8);
  }

  public long localMemSize() {
    return localMemSize;
  }

  /** {@code CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT}: how many floats a kernel should handle per vector op. */
  public int preferredVectorWidthFloat() {
    return preferredVectorWidthFloat;
  }

  /** The {@code CL_DEVICE_EXTENSIONS} names. */
  public Set<String> extensions() {
    return extensions;
  }

  /** Whether kernels may use {@code double} ({@code cl_khr_fp64}). */
  public boolean supportsFp64() {
    return extensions.contains("cl_khr_fp64");
  }

  /** Whether kernels may do arithmetic in {@code half} ({@code cl_khr_fp16}); loads/stores of half always work. */
  public boolean supportsFp16() {
    return extensions.contains("cl_khr_fp16");
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ClDevice d && d.id.address() == id.address();
  }

  @Override
  public int hashCode() {
    return Long.hashCode(id.address());
  }

  /** The name only: it is what error messages want ("... on pthread-skylake-avx512"). */
  @Override
  public String toString() {
    return name;
  }
}
