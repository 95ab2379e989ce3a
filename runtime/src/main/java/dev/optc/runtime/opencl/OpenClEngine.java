package dev.optc.runtime.opencl;

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
import java.util.List;
import java.util.regex.Pattern;

/**
 * The OpenCL engine: {@link KernelEngine} over the ICD loader. Programs are cached in memory and on disk
 * (the {@link ProgramCache} under {@code opencl/}), keyed by source, device, driver and build
 * options; kernels are built without fma contraction and with correctly rounded division and square root, so that their arithmetic
 * is the Java reference's.
 */
public final class OpenClEngine extends KernelEngine<ClBuffer, ClKernel> {

  OpenClEngine(OpenClBackend backend, OpenClBackend.Session session, OptProgram program, Layout layout,
      Plan plan) {
    super(new Ops(backend, session, program.name()), program, layout, plan);
  }

  private Ops clOps() {
    return (Ops) ops;
  }

  public ClDevice device() {
    return clOps().device;
  }

  /** The context a caller's buffers must be made in to be {@link #adopt}ed. */
  public ClContext context() {
    return clOps().context;
  }

  /** The buffer that holds arena {@code name} ({@code w}, {@code g}, a state): for tests and debugging. */
  public ClBuffer buffer(String name) {
    return deviceBuffer(name);
  }

  /**
   * Uses a caller's {@code cl_mem} (made in this engine's context, e.g. by a framework that keeps
   * gradients on the device) as the whole arena of {@code w} or {@code g}, without a copy. The caller
   * keeps ownership; the engine takes a reference and gives it back on close.
   */
  public void adopt(String name, MemorySegment clMem) {
    var wrapped = context().wrapBuffer(clMem);
    adoptBuffer(name, wrapped, wrapped.size());
  }

  /** OpenCL through the binding classes. */
  private static final class Ops implements DeviceOps<ClBuffer, ClKernel> {
    /** Programs by a key that includes the device and driver; binaries on disk under {@code opencl/}. */
    private static final ProgramCache<ClProgram> PROGRAMS = new ProgramCache<>("opencl", ".bin");
    private static final String BASE_OPTIONS = "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt";
    private static final Pattern LOCATION = Pattern.compile("\\.cl:(\\d+):(\\d+)\\b");

    private final ClDevice device;
    private final ClContext context;
    private final ClQueue queue;
    private final String extraOptions;
    private final String programName;
    private final KernelConfig config;
    private final int chunkSize;
    private final int groups;
    private ClProgram program;

    Ops(OpenClBackend backend, OpenClBackend.Session session, String programName) {
      this.device = backend.device();
      this.context = session.context();
      this.queue = session.queue();
      this.extraOptions = backend.extraBuildOptions();
      this.programName = programName;
      this.config = backend.config();
      this.chunkSize = backend.grid().chunkSize();
      this.groups = backend.grid().groups();
    }

    @Override
    public KernelConfig config() {
      return config;
    }

    @Override
    public int chunkSize() {
      return chunkSize;
    }

    @Override
    public long maxParameterBytes() {
      // PoCL's CPU devices report 1,024 bytes but pass arguments in memory and take any number
      // (2,002 buffers tested); a GPU driver's limit is real.
      return device.type() == ClDevice.Type.CPU ? Long.MAX_VALUE : device.maxParameterSize();
    }

    @Override
    public boolean fp64() {
      return device.supportsFp64();
    }

    @Override
    public int chunkGroups(ClKernel kernel, int chunks) {
      return Math.min(chunks, groups);
    }

    @Override
    public ClBuffer allocate(long bytes) {
      return context.createBuffer(bytes);
    }

    /**
     * On a CPU device a {@code CL_MEM_USE_HOST_PTR} buffer is the host memory itself (PoCL runs kernels on
     * it in place); a GPU would copy it to and from its own memory behind the API's back.
     */
    @Override
    public ClBuffer useHost(MemorySegment host) {
      if (device.type() != ClDevice.Type.CPU) {
        throw new OptcException("native arenas need an OpenCL CPU device, which works in host memory; " + device.name()
            + " is a " + device.type() + ": adopt a framework's cl_mem instead (OpenClEngine.adopt)");
      }
      return context.createBuffer(host);
    }

    @Override
    public long hostAlignment() {
      return Math.max(64, Long.highestOneBit(device.memBaseAddrAlignBytes()));
    }

    @Override
    public void release(ClBuffer buffer) {
      buffer.close();
    }

    @Override
    public void write(ClBuffer buffer, long byteOffset, MemorySegment src) {
      buffer.write(queue, byteOffset, src);
    }

    @Override
    public void read(ClBuffer buffer, long byteOffset, MemorySegment dst) {
      buffer.read(queue, byteOffset, dst);
    }

    @Override
    public void fill(ClBuffer buffer, float value) {
      buffer.fill(queue, value);
    }

    @Override
    public void build(String source) {
      var options = (BASE_OPTIONS + " " + (extraOptions == null ? "" : extraOptions)).strip();
      try {
        program = cached(source, options);
      } catch (ClBuildException e) {
        if (e.code() == ClStatus.CL_INVALID_BUILD_OPTIONS.code() && (extraOptions == null || extraOptions.isBlank())) {
          // A device without correctly rounded division may refuse the option; build without it.
          program = cached(source, "-cl-std=CL1.2");
          return;
        }
        throw BuildErrors.explain("OpenCL build of " + programName + " failed on " + device.name() + ": "
            + ClStatus.nameOf(e.code()), source, e.buildLog(), LOCATION, e);
      }
    }

    private ClProgram cached(String source, String options) {
      var key = ProgramCache.key(source, device.name(), device.driverVersion(), device.platform().version(), options);
      // The entry is checked before the driver sees it: a truncated binary crashes some drivers (PoCL: SIGSEGV).
      return PROGRAMS.get(key, binary -> context.loadProgram(binary, options), () -> {
        var built = context.buildProgram(source, options);
        return new ProgramCache.Built<>(built, built.binary());
      });
    }

    @Override
    public ClKernel kernel(String name) {
      return program.createKernel(name);
    }

    @Override
    public void releaseKernel(ClKernel kernel) {
      kernel.close();
    }

    @Override
    public void launch(ClKernel kernel, long workItems, int local, List<Object> args) {
      for (int i = 0; i < args.size(); i++) {
        switch (args.get(i)) {
          case ClBuffer b -> kernel.setArg(i, b);
          case Integer v -> kernel.setArg(i, v.intValue());
          default -> throw new OptcException("kernel argument " + i + " of type " + args.get(i).getClass());
        }
      }
      if (local > 0) {
        queue.dispatch(kernel, workItems, local);
      } else {
        queue.dispatch(kernel, ClQueue.roundUp(workItems, 64), 0);
      }
    }

    @Override
    public void finish() {
      queue.finish();
    }

    /** CLBlast on this engine's queue, made on the first product. */
    private dev.optc.runtime.blas.ClBlast blas;

    @Override
    public void sgemm(dev.optc.runtime.blas.Gemm gemm, ClBuffer a, long aOffset, ClBuffer b, long bOffset, ClBuffer c,
        long cOffset) {
      if (blas == null) {
        blas = dev.optc.runtime.blas.ClBlast.on(queue);
      }
      blas.sgemm(gemm, 1f, new dev.optc.runtime.blas.ClMatrix(a, aOffset), new dev.optc.runtime.blas.ClMatrix(b, bOffset),
          0f, new dev.optc.runtime.blas.ClMatrix(c, cOffset));
    }

    @Override
    public java.util.Optional<String> blasUnavailable() {
      return dev.optc.runtime.blas.ClBlast.isAvailable() ? java.util.Optional.empty()
          : java.util.Optional.of("OpenCL runs products on CLBlast: " + dev.optc.runtime.blas.ClBlast.unavailableReason());
    }
  }

  /** Forgets the programs built so far, so that the next engine goes to the disk cache (tests). */
  public static void forgetPrograms() {
    Ops.PROGRAMS.forget();
  }
}
