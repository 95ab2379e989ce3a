package dev.optc.runtime.opencl;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Backend;
import dev.optc.runtime.Engine;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.device.KernelEngine;
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
 * @param config the text of the kernels: the device's {@link #defaultConfig} unless a caller chose another
 * @param grid how chunk kernels are launched (arguments and launch sizes, not text)
 */
public record OpenClBackend(ClDevice device, String extraBuildOptions, KernelConfig config, Grid grid)
    implements Backend {

  public OpenClBackend {
    if (config.localSize() > device.maxWorkGroupSize()) {
      throw new OptcException("work-groups of " + config.localSize() + " exceed the maximum of " + device.name()
          + ", " + device.maxWorkGroupSize() + "; use a local size of at most that");
    }
    if (config.accumulation() == Accumulation.DOUBLE && !device.supportsFp64()) {
      throw new OptcException(device.name() + " has no double (cl_khr_fp64); accumulate reductions in float");
    }
    if (grid.chunkSize() % config.localSize() != 0) {
      throw new IllegalArgumentException("chunks of " + grid.chunkSize() + " elements are not a multiple of the "
          + "local size " + config.localSize());
    }
  }

  /** The device with its default kernels and launches. */
  public static OpenClBackend of(ClDevice device) {
    var config = defaultConfig(device);
    return new OpenClBackend(device, "", config, defaultGrid(device, config));
  }

  /**
   * How chunk kernels are launched.
   *
   * @param chunkSize elements per chunk, a multiple of the local size
   * @param groups work-groups per launch at most (each strides over the chunks)
   */
  public record Grid(int chunkSize, int groups) {
    public Grid {
      if (chunkSize <= 0 || groups < 1) {
        throw new IllegalArgumentException("bad grid: chunks of " + chunkSize + ", " + groups + " groups");
      }
    }
  }

  /**
   * The kernels a device gets unless a caller says otherwise. On a CPU device (PoCL) a work-group is a
   * thread's loop: one work-item per group walking a long contiguous chunk lets the compiler vectorize it
   * and keeps per-group overhead small (measured on PoCL 3.1, 16M-element SGD step: 8.9 ms this way, 78 ms
   * with 256-wide groups of 4096 elements), so groups are 1 wide and scalar. On a GPU, 256-wide groups
   * and quads. Reductions accumulate in double where the device has it.
   */
  public static KernelConfig defaultConfig(ClDevice device) {
    boolean cpu = device.type() == ClDevice.Type.CPU;
    int local = 1;
    while (local * 2 <= Math.min(cpu ? 1 : 256, device.maxWorkGroupSize())) {
      local *= 2;
    }
    var config = KernelConfig.of(Dialect.OPENCL, local).withVectorWidth(cpu ? Dialect.OPENCL.vectorWidth() : 4);
    return device.supportsFp64() ? config.withAccumulation(Accumulation.DOUBLE) : config;
  }

  /** CPU: one group per chunk of 16,384 elements; GPU: 4,096-element chunks, 8 groups per compute unit. */
  static Grid defaultGrid(ClDevice device, KernelConfig config) {
    return device.type() == ClDevice.Type.CPU ? new Grid(16384, Integer.MAX_VALUE)
        : new Grid(Math.max(config.localSize() * 16, 4096), 8 * device.computeUnits());
  }

  /**
   * The same device with other kernels and launches (a test runs the GPU's 256-wide groups, quads and few
   * groups on PoCL, so the structure the CUDA kernels share is checked where no GPU is).
   */
  public OpenClBackend with(KernelConfig kernels, Grid launches) {
    return new OpenClBackend(device, extraBuildOptions, kernels, launches);
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
      return of(gpu.orElse(all.getFirst()).deviceInfo());
    }
    var parts = spec.split(":");
    try {
      if (parts.length != 2) {
        throw new NumberFormatException();
      }
      int p = Integer.parseInt(parts[0]);
      int d = Integer.parseInt(parts[1]);
      return all.stream().filter(l -> l.platform() == p && l.device() == d).findFirst()
          .map(l -> of(l.deviceInfo()))
          .orElseThrow(() -> new OptcException("no OpenCL device " + p + ":" + d + "; 'optc devices' lists "
              + "them"));
    } catch (NumberFormatException e) {
      throw new OptcException("bad OpenCL device '" + spec + "': expected PLATFORM:DEVICE indices such as "
          + "0:0 ('optc devices' lists them)");
    }
  }

  public OpenClBackend withBuildOptions(String options) {
    return new OpenClBackend(device, options, config, grid);
  }

  /** Reductions in float (a tree and compensated sums), as devices without fp64 run them: testable anywhere. */
  public OpenClBackend withFloatAccumulation() {
    return with(config.withAccumulation(Accumulation.FLOAT), grid);
  }

  @Override
  public String name() {
    return "opencl";
  }

  @Override
  public Source source(Plan plan) {
    return KernelEngine.source(plan, config);
  }

  @Override
  public Engine open(OptProgram program, Plan plan, Layout layout) {
    return new OpenClEngine(this, session(device), program, layout, plan);
  }
}
