package dev.optc.runtime.opencl;

import java.util.regex.Pattern;

/** The OpenCL API version a platform or device reports, e.g. 3.0 from {@code "OpenCL 3.0 PoCL 3.1"}. */
public record ClVersion(int major, int minor) implements Comparable<ClVersion> {

  private static final Pattern OPENCL = Pattern.compile("^OpenCL (\\d+)\\.(\\d+)");

  /**
   * Parses the {@code "OpenCL <major>.<minor> <vendor>"} form the specification mandates for
   * {@code CL_PLATFORM_VERSION} and {@code CL_DEVICE_VERSION}; anything else is taken as 1.0, the
   * conservative choice (it only ever selects older entry points).
   */
  public static ClVersion parse(String version) {
    var m = OPENCL.matcher(version.strip());
    return m.find() ? new ClVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))) : new ClVersion(1, 0);
  }

  public boolean atLeast(int major, int minor) {
    return compareTo(new ClVersion(major, minor)) >= 0;
  }

  @Override
  public int compareTo(ClVersion o) {
    return major != o.major ? Integer.compare(major, o.major) : Integer.compare(minor, o.minor);
  }

  @Override
  public String toString() {
    return major + "." + minor;
  }
}
