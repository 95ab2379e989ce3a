package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * An OpenCL platform (one installed driver, e.g. PoCL or a GPU vendor's). Platforms are owned by the
 * driver and live as long as the process, so this class holds no resource and needs no closing; its
 * strings are read once, when it is listed.
 */
public final class ClPlatform {

  private final MemorySegment id;
  private final String name;
  private final String vendor;
  private final String version;

  private ClPlatform(MemorySegment id) {
    this.id = id;
    this.name = info(id, ClRaw.CL_PLATFORM_NAME, "name");
    this.vendor = info(id, ClRaw.CL_PLATFORM_VENDOR, "vendor");
    this.version = info(id, ClRaw.CL_PLATFORM_VERSION, "version");
  }

  private static String info(MemorySegment id, int param, String what) {
    return ClInfo.string((size, value, sizeRet) -> ClRaw.clGetPlatformInfo(id, param, size, value, sizeRet),
        "clGetPlatformInfo", () -> "reading a platform's " + what);
  }

  /**
   * Every platform the ICD loader knows, in its order. Throws an {@link dev.optc.runtime.OptcException}
   * when there is no library and a {@link ClException} ({@code CL_PLATFORM_NOT_FOUND_KHR} from the
   * loader) when there is no driver; {@link OpenCl#platforms()} is the variant that never throws.
   */
  public static List<ClPlatform> all() {
    try (var arena = Arena.ofConfined()) {
      var count = arena.allocate(JAVA_INT);
      ClStatus.check(ClRaw.clGetPlatformIDs(0, MemorySegment.NULL, count), "clGetPlatformIDs",
          () -> "counting OpenCL platforms");
      int n = count.get(JAVA_INT, 0);
      if (n == 0) {
        return List.of();
      }
      var ids = arena.allocate(ADDRESS, n);
      ClStatus.check(ClRaw.clGetPlatformIDs(n, ids, count), "clGetPlatformIDs", () -> "listing OpenCL platforms");
      int got = Math.min(n, count.get(JAVA_INT, 0));
      var platforms = new ArrayList<ClPlatform>(got);
      for (int i = 0; i < got; i++) {
        platforms.add(new ClPlatform(ids.getAtIndex(ADDRESS, i)));
      }
      return List.copyOf(platforms);
    }
  }

  /** Every device of this platform, of any type; empty when it has none. */
  public List<ClDevice> devices() {
    return ClDevice.list(this, ClRaw.CL_DEVICE_TYPE_ALL);
  }

  /** The devices of one type (GPUs only, say); empty when it has none. */
  public List<ClDevice> devices(ClDevice.Type type) {
    return ClDevice.list(this, type.bit());
  }

  /** The raw {@code cl_platform_id}, for interop and the raw bindings. */
  public MemorySegment id() {
    return id;
  }

  public String name() {
    return name;
  }

  public String vendor() {
    return vendor;
  }

  /** {@code CL_PLATFORM_VERSION} as the driver spells it, e.g. {@code "OpenCL 3.0 PoCL 3.1+debian ..."}. */
  public String version() {
    return version;
  }

  /** The API version in {@link #version()}: which entry points the driver behind this platform has. */
  public ClVersion apiVersion() {
    return ClVersion.parse(version);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ClPlatform p && p.id.address() == id.address();
  }

  @Override
  public int hashCode() {
    return Long.hashCode(id.address());
  }

  @Override
  public String toString() {
    return name + " (" + version + ")";
  }
}
