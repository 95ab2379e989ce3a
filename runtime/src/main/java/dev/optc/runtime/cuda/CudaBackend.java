package dev.optc.runtime.cuda;

import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Backend;
import dev.optc.runtime.Engine;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;

/**
 * Fused CUDA kernels on an NVIDIA GPU: the same generated code as OpenCL in the CUDA dialect, compiled
 * with NVRTC and run through the driver API. {@code cuda[:N]} picks device N ({@code $OPTC_DEVICE} may
 * say {@code cuda:N} too).
 */
public record CudaBackend(CuDevice device) implements Backend {

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
      return new CudaBackend(devices.getFirst());
    }
    try {
      int n = Integer.parseInt(spec);
      if (n < 0 || n >= devices.size()) {
        throw new OptcException("no CUDA device " + n + " (there are " + devices.size() + ")");
      }
      return new CudaBackend(devices.get(n));
    } catch (NumberFormatException e) {
      throw new OptcException("bad CUDA device '" + spec + "': expected an index such as 0");
    }
  }

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public Engine open(OptProgram program, Plan plan, Layout layout) {
    return new CudaEngine(device, program, layout, plan);
  }
}
