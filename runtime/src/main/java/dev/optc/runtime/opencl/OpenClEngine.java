package dev.optc.runtime.opencl;

import dev.optc.compiler.codegen.CacheEntry;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.java.JavaSourceCompiler;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.device.BuildErrors;
import dev.optc.runtime.device.DeviceOps;
import dev.optc.runtime.device.KernelEngine;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The OpenCL engine: {@link KernelEngine} over the ICD loader. Programs are cached in memory and on disk
 * ({@code $OPTC_CACHE/opencl}, checked {@link CacheEntry}s), keyed by source, device, driver and build
 * options; kernels are built
 * without fma contraction and with correctly rounded division and square root, so that their arithmetic
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
    /** Programs by cache key, for the life of the process (the key includes the device). */
    private static final Map<String, ClProgram> PROGRAMS = new ConcurrentHashMap<>();
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
    public int chunkGroups(ClKernel kernel, int chunks) {
      return Math.min(chunks, groups);
    }

    @Override
    public ClBuffer allocate(long bytes) {
      return context.createBuffer(bytes);
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
      var key = JavaSourceCompiler.hash(source + "\n" + device.name() + "\n" + device.driverVersion() + "\n"
          + device.platform().version() + "\n" + options);
      var cached = PROGRAMS.get(key);
      if (cached != null) {
        return cached;
      }
      var file = cacheDir().resolve(key + ".bin");
      ClProgram built = null;
      // Checked before the driver sees it: a truncated binary crashes some drivers (PoCL: SIGSEGV).
      var binary = CacheEntry.read(file);
      if (binary.isPresent()) {
        try {
          built = context.loadProgram(binary.get(), options);
        } catch (RuntimeException e) {
          CacheEntry.drop(file, "the driver refused it: " + e);
        }
      }
      if (built == null) {
        built = context.buildProgram(source, options);
        try {
          Files.createDirectories(file.getParent());
          AtomicFiles.write(file, CacheEntry.encode(built.binary()));
        } catch (IOException | RuntimeException e) {
          // The disk cache is best effort.
        }
      }
      PROGRAMS.put(key, built);
      return built;
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
  }

  /** Forgets the programs built so far, so that the next engine goes to the disk cache (tests). */
  public static void forgetPrograms() {
    Ops.PROGRAMS.clear();
  }

  static Path cacheDir() {
    return JavaSourceCompiler.cacheRoot().resolve("opencl");
  }
}
