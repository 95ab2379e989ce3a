package dev.optc.runtime.opencl;

import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Backend;
import dev.optc.runtime.Engine;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Fused OpenCL kernels on any OpenCL device: PoCL on the CPU in tests and CI, GPU drivers elsewhere.
 * A device is chosen as {@code opencl[:PLATFORM:DEVICE]} (indices as {@code optc devices} lists them),
 * else by {@code $OPTC_DEVICE} in the same form, else the first GPU, else the first device.
 *
 * @param extraBuildOptions appended to the compiler options (for experiments and for testing how build
 *     failures are reported)
 * @param floatAccumulation accumulate reductions in float (a tree and compensated sums) even where the
 *     device has double: what devices without fp64 get, so that path can be tested anywhere
 * @param shape how kernels are laid out, or null for the device's default
 */
public record OpenClBackend(ClDevice device, String extraBuildOptions, boolean floatAccumulation, Shape shape)
    implements Backend {

  public OpenClBackend(ClDevice device, String extraBuildOptions) {
    this(device, extraBuildOptions, false, null);
  }

  /**
   * How the kernels are laid out. Defaults: on a CPU device 1-wide groups over 16,384-element chunks, one
   * group per chunk, scalar code (PoCL vectorizes each group's loop); on a GPU 256-wide groups over
   * 4,096-element chunks, 8 groups per compute unit, quads. A test runs the GPU shape on PoCL, so the
   * structure the CUDA kernels share is checked where no GPU is.
   *
   * @param localSize work-group size, a power of two
   * @param chunkSize elements per chunk, a multiple of the local size
   * @param vectorize quads with 16-byte accesses in elementwise phases
   * @param groups work-groups per launch at most (each strides over the chunks)
   */
  public record Shape(int localSize, int chunkSize, boolean vectorize, int groups) {
    public Shape {
      if (Integer.bitCount(localSize) != 1 || chunkSize <= 0 || chunkSize % localSize != 0 || groups < 1) {
        throw new IllegalArgumentException("bad kernel shape " + localSize + "/" + chunkSize + "/" + groups);
      }
    }
  }

  /** The same device with kernels laid out as {@code shape}. */
  public OpenClBackend withShape(Shape shape) {
    return new OpenClBackend(device, extraBuildOptions, floatAccumulation, shape);
  }

  /** One context and queue per device for the whole process: engines share them and their programs. */
  private static final Map<ClDevice, Session> SESSIONS = new ConcurrentHashMap<>();

  /** A device's context and in-order queue. */
  record Session(ClContext context, ClQueue queue) {}

  static Session session(ClDevice device) {
    return SESSIONS.computeIfAbsent(device, d -> {
      var context = ClContext.create(d);
      return new Session(context, context.createQueue());
    });
  }

  /** Every device of every platform, with its {@code PLATFORM:DEVICE} indices. */
  public record Listed(int platform, int device, ClPlatform platformInfo, ClDevice deviceInfo) {}

  public static List<Listed> devices() {
    var list = new ArrayList<Listed>();
    var platforms = OpenCl.platforms();
    for (int p = 0; p < platforms.size(); p++) {
      var devices = platforms.get(p).devices();
      for (int d = 0; d < devices.size(); d++) {
        list.add(new Listed(p, d, platforms.get(p), devices.get(d)));
      }
    }
    return list;
  }

  /**
   * The backend for a selector: {@code ""} (default choice), or {@code "P:D"}.
   *
   * @throws OptcException no OpenCL, or no such device
   */
  public static OpenClBackend select(String selector) {
    var spec = selector == null || selector.isBlank() ? System.getenv("OPTC_DEVICE") : selector;
    if (spec != null && spec.startsWith("opencl")) {
      spec = spec.substring("opencl".length());
      spec = spec.startsWith(":") ? spec.substring(1) : spec;
    }
    var all = devices();
    if (all.isEmpty()) {
      throw new OptcException(OpenCl.unavailableReason());
    }
    if (spec == null || spec.isBlank()) {
      var gpu = all.stream().filter(l -> l.deviceInfo().type() == ClDevice.Type.GPU).findFirst();
      return new OpenClBackend(gpu.orElse(all.getFirst()).deviceInfo(), "");
    }
    var parts = spec.split(":");
    try {
      if (parts.length != 2) {
        throw new NumberFormatException();
      }
      int p = Integer.parseInt(parts[0]);
      int d = Integer.parseInt(parts[1]);
      return all.stream().filter(l -> l.platform() == p && l.device() == d).findFirst()
          .map(l -> new OpenClBackend(l.deviceInfo(), ""))
          .orElseThrow(() -> new OptcException("no OpenCL device " + p + ":" + d + "; 'optc devices' lists "
              + "them"));
    } catch (NumberFormatException e) {
      throw new OptcException("bad OpenCL device '" + spec + "': expected PLATFORM:DEVICE indices such as "
          + "0:0 ('optc devices' lists them)");
    }
  }

  public OpenClBackend withBuildOptions(String options) {
    return new OpenClBackend(device, options, floatAccumulation, shape);
  }

  public OpenClBackend withFloatAccumulation() {
    return new OpenClBackend(device, extraBuildOptions, true, shape);
  }

  @Override
  public String name() {
    return "opencl";
  }

  @Override
  public Engine open(OptProgram program, Plan plan, Layout layout) {
    return new OpenClEngine(this, session(device), program, layout, plan);
  }
}
