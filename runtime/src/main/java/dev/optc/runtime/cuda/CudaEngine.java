package dev.optc.runtime.cuda;

import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.cache.ProgramCache;
import dev.optc.runtime.device.BuildErrors;
import dev.optc.runtime.device.DeviceOps;
import dev.optc.runtime.device.KernelEngine;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The CUDA engine: {@link KernelEngine} over the driver API, kernels compiled by NVRTC with
 * {@code --fmad=false} (the Java reference's exact float32 arithmetic) for the device's architecture.
 * PTX is cached in memory and on disk (the {@link ProgramCache} under {@code cuda/}), keyed by
 * source, device, driver and options.
 */
public final class CudaEngine extends KernelEngine<CuBuffer, CuFunction> {

  CudaEngine(CuDevice device, KernelConfig config, OptProgram program, Layout layout, Plan plan) {
    super(new Ops(device, config, program.name()), program, layout, plan);
  }

  /**
   * Uses a caller's device pointer (a training framework's gradients, say) as the whole arena of
   * {@code w} or {@code g}, without a copy; the caller keeps ownership.
   */
  public void adopt(String name, long devicePointer, long bytes) {
    var ops = (Ops) this.ops;
    adoptBuffer(name, ops.context.wrap(devicePointer, bytes), bytes);
  }

  private static final class Ops implements DeviceOps<CuBuffer, CuFunction> {
    private static final ProgramCache<String> PTX = new ProgramCache<>("cuda", ".ptx");
    private static final Pattern LOCATION = Pattern.compile("\\((\\d+)\\): (?:catastrophic )?error");

    private final CuDevice device;
    private final CuContext context;
    private final CuStream stream;
    private final String programName;
    private final KernelConfig config;
    private final Map<String, Integer> occupancy = new ConcurrentHashMap<>();
    private CuModule module;

    Ops(CuDevice device, KernelConfig config, String programName) {
      this.device = device;
      this.config = config;
      this.context = device.primaryContext();
      this.stream = context.createStream();
      this.programName = programName;
    }

    @Override
    public KernelConfig config() {
      return config;
    }

    @Override
    public int chunkSize() {
      return config.localSize() * 16;
    }

    /**
     * As many blocks as the device holds at once (SMs × resident blocks per SM for this kernel), each
     * striding over the chunks: the grid fills the GPU whatever the group's size, and no block waits
     * for a second wave.
     */
    @Override
    public int chunkGroups(CuFunction kernel, int chunks) {
      var perSm = occupancy.computeIfAbsent(kernel.name(),
          n -> Math.max(1, kernel.maxActiveBlocksPerMultiprocessor(config.localSize())));
      return (int) Math.min(chunks, (long) perSm * device.multiprocessorCount());
    }

    /** CUDA's kernel parameter limit (drivers from 12.1 allow 32 KiB on Volta and later; 4 KiB is safe). */
    @Override
    public long maxParameterBytes() {
      return 4096;
    }

    @Override
    public boolean aligned16(CuBuffer buffer) {
      return buffer.pointer() % 16 == 0;
    }

    @Override
    public CuBuffer allocate(long bytes) {
      return context.allocate(bytes);
    }

    @Override
    public void release(CuBuffer buffer) {
      buffer.close();
    }

    @Override
    public void write(CuBuffer buffer, long byteOffset, MemorySegment src) {
      buffer.write(byteOffset, src);
    }

    @Override
    public void read(CuBuffer buffer, long byteOffset, MemorySegment dst) {
      stream.synchronize();
      buffer.read(byteOffset, dst);
    }

    @Override
    public void fill(CuBuffer buffer, float value) {
      buffer.fill(value);
    }

    @Override
    public void build(String source) {
      var options = List.of("--fmad=false", "-std=c++17", Nvrtc.architectureOption(device));
      var key = ProgramCache.key(source, device.name(), device.computeCapability(), Cuda.driverVersion(),
          Nvrtc.version(), options);
      var ptx = PTX.get(key, bytes -> new String(bytes, StandardCharsets.UTF_8), () -> {
        try {
          var text = Nvrtc.compile(source, programName + ".cu", options);
          return new ProgramCache.Built<>(text, text.getBytes(StandardCharsets.UTF_8));
        } catch (NvrtcException e) {
          throw BuildErrors.explain("CUDA build of " + programName + " failed (NVRTC): " + e.codeName(), source,
              e.log() == null ? e.getMessage() : e.log(), LOCATION, e);
        }
      });
      module = context.loadModule(ptx);
    }

    @Override
    public CuFunction kernel(String name) {
      return module.function(name);
    }

    @Override
    public void releaseKernel(CuFunction kernel) {
      // Functions belong to their module, released with it.
    }

    @Override
    public void launch(CuFunction kernel, long workItems, int local, List<Object> args) {
      int block = local > 0 ? local : 256;
      long blocks = (workItems + block - 1) / block;
      if (blocks > Integer.MAX_VALUE) {
        throw new OptcException("a launch of " + workItems + " work-items is too large for one grid");
      }
      kernel.launch(stream, Dim3.of((int) blocks), Dim3.of(block), 0, args);
    }

    @Override
    public void finish() {
      stream.synchronize();
    }

    /** cuBLAS on this engine's stream, made on the first product. */
    private dev.optc.runtime.blas.CuBlas blas;

    @Override
    public void sgemm(dev.optc.runtime.blas.Gemm gemm, CuBuffer a, long aOffset, CuBuffer b, long bOffset, CuBuffer c,
        long cOffset) {
      if (blas == null) {
        blas = dev.optc.runtime.blas.CuBlas.create(context, stream);
      }
      // Views of the arenas at the tensor's offsets (not owned: closing one frees nothing, and lets the context go).
      try (var va = view(a, aOffset, gemm.aElements()); var vb = view(b, bOffset, gemm.bElements());
          var vc = view(c, cOffset, gemm.cElements())) {
        blas.sgemm(gemm, 1f, va, vb, 0f, vc);
      }
    }

    private CuBuffer view(CuBuffer arena, long offset, long floats) {
      return CuBuffer.wrap(context, arena.pointer((long) Float.BYTES * offset), (long) Float.BYTES * floats);
    }

    @Override
    public java.util.Optional<String> blasUnavailable() {
      return dev.optc.runtime.blas.CuBlas.isAvailable() ? java.util.Optional.empty()
          : java.util.Optional.of("CUDA runs products on cuBLAS: " + dev.optc.runtime.blas.CuBlas.unavailableReason());
    }

    @Override
    public void close() {
      if (blas != null) {
        blas.close();
      }
      if (module != null) {
        module.close();
      }
      stream.close();
      context.close();
    }
  }
}
