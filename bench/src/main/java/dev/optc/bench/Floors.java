package dev.optc.bench;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Cost;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.cuda.CuBuffer;
import dev.optc.runtime.cuda.CuContext;
import dev.optc.runtime.cuda.CuDevice;
import dev.optc.runtime.opencl.ClBuffer;
import dev.optc.runtime.opencl.ClContext;
import dev.optc.runtime.opencl.ClDevice;
import dev.optc.runtime.opencl.ClKernel;
import dev.optc.runtime.opencl.ClProgram;
import dev.optc.runtime.opencl.ClQueue;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;

/**
 * What a step is measured against: the fastest a machine moves the same bytes.
 *
 * <ul>
 *   <li><b>copy</b>: {@code dst[i] = src[i]} over as many bytes as the fused step must move (half read,
 *       half written), written by hand for each backend: on Java a loop over float arrays split into one
 *       contiguous range per thread, on OpenCL a one-element-per-work-item kernel. Nothing can move those
 *       bytes much faster, so time ÷ copy is how far a step is from the machine's bandwidth.
 *   <li><b>probe</b>: an optc program with the optimizer's exact per-element access pattern (it reads
 *       {@code w}, {@code g} and each state the fused step reads, and writes each buffer it writes) and an
 *       addition per buffer instead of the update rule, run by the same backend and engine as the step.
 *       Step ÷ probe is what the update's arithmetic and code shape cost over the memory traffic;
 *       probe ÷ copy what the engine and the access pattern (several streams at once) cost.
 * </ul>
 */
public final class Floors {
  private Floors() {}

  /** Something the harness times: one call is one "step" of it. */
  public interface Kernel extends AutoCloseable {
    void run();

    @Override
    void close();
  }

  /** Floats per array of the Java copy, so that any byte count fits Java arrays. */
  static final int PIECE = 1 << 29;

  /**
   * How far (in floats: 1088 bytes) the copy's destination index is shifted from its source index. Equal-sized
   * arrays allocated one after the other start at the same address modulo 4 KiB, so {@code src[i]} and
   * {@code dst[i]} would fall in the same cache set and alias in the core's store-to-load check (4K
   * aliasing): measured here, that makes a Java copy of 64M x 36 B 1.5x slower (111.6 ms against 72.7 ms).
   * The floor is the fastest copy, so it avoids that.
   */
  static final int SHIFT = 272;

  /** Floats a copy must move so that reads plus writes are {@code bytes} bytes. */
  public static long copyFloats(long bytes) {
    return Math.max(1, bytes / (2L * Float.BYTES));
  }

  /** A copy over {@code bytes} bytes (read + written) with {@code threads} threads over float arrays. */
  public static Kernel javaCopy(long bytes, int threads) {
    long floats = copyFloats(bytes);
    var src = new ArrayList<float[]>();
    var dst = new ArrayList<float[]>();
    for (long done = 0; done < floats; done += PIECE) {
      int n = (int) Math.min(PIECE, floats - done);
      var s = new float[n];
      for (int i = 0; i < n; i++) {
        s[i] = i; // touch every page, and give the copy non-zero data
      }
      src.add(s);
      dst.add(new float[n + SHIFT]);
    }
    var tasks = new ArrayList<Callable<Void>>();
    for (int p = 0; p < src.size(); p++) {
      var s = src.get(p);
      var d = dst.get(p);
      for (int t = 0; t < threads; t++) {
        int lo = (int) ((long) s.length * t / threads);
        int hi = (int) ((long) s.length * (t + 1) / threads);
        tasks.add(() -> {
          copy(s, d, lo, hi);
          return null;
        });
      }
    }
    var pool = threads > 1 ? new ForkJoinPool(threads) : null;
    return new Kernel() {
      @Override
      public void run() {
        if (pool == null) {
          for (int p = 0; p < src.size(); p++) {
            copy(src.get(p), dst.get(p), 0, src.get(p).length);
          }
          return;
        }
        try {
          for (var f : pool.invokeAll(tasks)) {
            f.get();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException(e);
        } catch (ExecutionException e) {
          throw new IllegalStateException(e.getCause());
        }
      }

      @Override
      public void close() {
        if (pool != null) {
          pool.shutdown();
        }
        src.clear();
        dst.clear();
      }
    };
  }

  /** The loop C2 vectorizes into wide loads and stores; kept in its own method so it compiles alone. */
  static void copy(float[] s, float[] d, int lo, int hi) {
    for (int i = lo; i < hi; i++) {
      d[i + SHIFT] = s[i];
    }
  }

  static final String COPY_SOURCE = """
      // optc bench's copy floor: one float per work-item; dst is shifted by `shift` floats (see Floors.SHIFT).
      __kernel void copy(__global const float* restrict src, __global float* restrict dst, const uint n,
          const uint shift) {
        const uint i = get_global_id(0);
        if (i < n) {
          dst[i + shift] = src[i];
        }
      }
      """;

  /**
   * A copy over {@code bytes} bytes (read + written) on an OpenCL device, through optc's bindings: its own
   * context and queue, buffers of at most a quarter of the device's largest allocation, one launch each.
   */
  public static Kernel openClCopy(ClDevice device, long bytes) {
    long floats = copyFloats(bytes);
    var context = ClContext.create(device);
    var owned = new ArrayList<AutoCloseable>();
    try {
      var queue = context.createQueue();
      owned.add(queue);
      var program = context.buildProgram(COPY_SOURCE, "-cl-std=CL1.2");
      owned.add(program);
      var kernel = program.createKernel("copy");
      owned.add(kernel);
      int local = 1;
      while (local * 2 <= Math.min(256, device.maxWorkGroupSize())) {
        local *= 2;
      }
      long piece = Math.min(1L << 30, device.maxMemAllocSize() / Float.BYTES - SHIFT);
      record Piece(ClBuffer src, ClBuffer dst, int n) {}
      var pieces = new ArrayList<Piece>();
      for (long done = 0; done < floats; done += piece) {
        int n = (int) Math.min(piece, floats - done);
        var s = context.createBuffer((long) n * Float.BYTES);
        owned.add(s);
        var d = context.createBuffer(((long) n + SHIFT) * Float.BYTES);
        owned.add(d);
        s.fill(queue, 1f);
        d.fill(queue, 0f);
        pieces.add(new Piece(s, d, n));
      }
      queue.finish();
      int localSize = local;
      return new Kernel() {
        @Override
        public void run() {
          for (var p : pieces) {
            launch(kernel, queue, p.src(), p.dst(), p.n(), localSize);
          }
          queue.finish();
        }

        @Override
        public void close() {
          closeAll(owned, context);
        }
      };
    } catch (RuntimeException e) {
      closeAll(owned, context);
      throw e;
    }
  }

  /**
   * The CUDA floor: a device-to-device copy ({@code cuMemcpyDtoD}) of half the bytes, so that as many are
   * read and written as the step moves, then a synchronize, as the engine's step ends with one. It is what
   * {@code torch}'s {@code dst.copy_(src)} does on the same device.
   */
  public static Kernel cudaCopy(CuDevice device, long bytes) {
    long half = Math.max(4, bytes / 2 / Float.BYTES * Float.BYTES);
    var context = device.primaryContext();
    CuBuffer src = null;
    CuBuffer dst = null;
    try {
      src = context.allocate(half);
      dst = context.allocate(half);
      src.fill(1f);
      dst.fill(0f);
      context.synchronize();
    } catch (RuntimeException e) {
      for (var b : new CuBuffer[] {src, dst}) {
        if (b != null) {
          b.close();
        }
      }
      context.close();
      throw e;
    }
    var from = src;
    var to = dst;
    return new Kernel() {
      @Override
      public void run() {
        from.copyTo(to);
        context.synchronize();
      }

      @Override
      public void close() {
        from.close();
        to.close();
        context.close();
      }
    };
  }

  private static void launch(ClKernel kernel, ClQueue queue, ClBuffer src, ClBuffer dst, int n, int local) {
    kernel.setArg(0, src).setArg(1, dst).setArg(2, n).setArg(3, SHIFT);
    queue.dispatch(kernel, ClQueue.roundUp(n, local), local);
  }

  private static void closeAll(List<AutoCloseable> owned, ClContext context) {
    for (int i = owned.size() - 1; i >= 0; i--) {
      try {
        owned.get(i).close();
      } catch (Exception e) {
        // Best effort: the first error has been reported already, or the process is ending.
      }
    }
    owned.clear();
    context.close();
  }

  /**
   * The probe of {@code program}: per-element states of the same names and dtypes, and one statement per
   * buffer the fused step writes, {@code s = s + g} (or {@code s = g} for one it writes without reading),
   * with every buffer it only reads added into the last statement, so the probe reads and writes exactly
   * what the fused step does. For a plan of several phases the probe is one pass over the same buffers
   * (the step's lower bound of traffic, not its planned traffic).
   */
  public static OptProgram probe(OptProgram program) {
    var ir = program.ir();
    var cost = Cost.of(Planner.plan(ir, Fusion.FULL));
    var reads = new LinkedHashSet<String>();
    var writes = new LinkedHashSet<String>();
    for (var phase : cost.phases()) {
      phase.reads().stream().filter(b -> !Plan.isTemp(b)).forEach(reads::add);
      phase.writes().stream().filter(b -> !Plan.isTemp(b)).forEach(writes::add);
    }
    var src = new StringBuilder("# The bandwidth probe of " + ir.name() + " (optc bench): its access pattern,"
        + " trivial arithmetic.\noptimizer probe_" + ir.name() + "\n");
    for (var s : ir.states()) {
      if (s.shape().kind() == Kind.ELEM && (reads.contains(s.name()) || writes.contains(s.name()))) {
        src.append("state ").append(s.name()).append(" as ").append(s.dtype().label()).append('\n');
      }
    }
    var readOnly = new ArrayList<String>();
    for (var b : reads) {
      if (!writes.contains(b) && !b.equals("g")) {
        readOnly.add(b);
      }
    }
    // w last, so that read-only buffers fold into the update of the parameter when it has one.
    var order = new ArrayList<>(writes.stream().filter(b -> !b.equals("w")).toList());
    if (writes.contains("w")) {
      order.add("w");
    }
    for (int i = 0; i < order.size(); i++) {
      var b = order.get(i);
      var terms = new ArrayList<String>();
      if (reads.contains(b)) {
        terms.add(b);
      }
      if (reads.contains("g")) {
        terms.add("g");
      }
      if (i == order.size() - 1) {
        terms.addAll(readOnly);
      }
      src.append(b).append(" = ").append(terms.isEmpty() ? "0" : String.join(" + ", terms)).append('\n');
    }
    try {
      return OptProgram.compile(SourceFile.of("probe_" + ir.name() + ".opt", src.toString()),
          Pipeline.Options.DEFAULT);
    } catch (CompileException e) {
      throw new IllegalStateException("the probe of " + ir.name() + " does not compile (a bug in optc bench):\n"
          + src + e.getMessage(), e);
    }
  }
}
