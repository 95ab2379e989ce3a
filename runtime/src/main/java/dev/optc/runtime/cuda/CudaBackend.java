package dev.optc.runtime.cuda;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Backend;
import dev.optc.runtime.Engine;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.device.KernelEngine;

/**
 * Fused CUDA kernels on an NVIDIA GPU: the same generated code as OpenCL in the CUDA dialect, compiled
 * with NVRTC and run through the driver API. {@code cuda[:N]} picks device N ({@code $OPTC_DEVICE} may
 * say {@code cuda:N} too).
 *
 * @param config the text of the kernels: the device's {@link #defaultConfig} unless a caller chose another
 */
public record CudaBackend(CuDevice device, KernelConfig config) implements Backend {

  /** The device with its default kernels. */
  public static CudaBackend of(CuDevice device) {
    return new CudaBackend(device, defaultConfig(device.maxThreadsPerBlock()));
  }

  /**
   * The kernels a CUDA device gets: 256-wide blocks (or the largest power of two the device allows, if
   * fewer) and the dialect's policy, double accumulation and quads. A function of the device's facts only,
   * so the text a GPU would build is known (and tested) without one.
   */
  public static KernelConfig defaultConfig(int maxThreadsPerBlock) {
    int local = 1;
    while (local * 2 <= Math.min(256, maxThreadsPerBlock)) {
      local *= 2;
    }
    return KernelConfig.of(Dialect.CUDA, local);
  }

  public static CudaBackend select(String selector) {
    var spec = selector;
    if ((spec == null || spec.isBlank()) && System.getenv("OPTC_DEVICE") != null
        && System.getenv("OPTC_DEVICE").startsWith("cuda")) {
      spec = System.getenv("OPTC_DEVICE").substring("cuda".length()).replaceFirst("^:", "");
    }
    var devices = Cuda.devices();
    if (devices.isEmpty()) {
      throw new OptcException(Cuda.unavailableReason());
    }
    if (!Nvrtc.isAvailable()) {
      throw new OptcException(Nvrtc.unavailableReason());
    }
    if (spec == null || spec.isBlank()) {
      return of(devices.getFirst());
    }
    try {
      int n = Integer.parseInt(spec);
      if (n < 0 || n >= devices.size()) {
        throw new OptcException("no CUDA device " + n + " (there are " + devices.size() + ")");
      }
      return of(devices.get(n));
    } catch (NumberFormatException e) {
      throw new OptcException("bad CUDA device '" + spec + "': expected an index such as 0");
    }
  }

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public Source source(Plan plan) {
    return KernelEngine.source(plan, config);
  }

  @Override
  public Engine open(OptProgram program, Plan plan, Layout layout) {
    return new CudaEngine(device, config, program, layout, plan);
  }
}
