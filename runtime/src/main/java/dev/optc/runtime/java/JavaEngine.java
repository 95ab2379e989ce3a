package dev.optc.runtime.java;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.JavaSourceCompiler;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Engine;
import dev.optc.runtime.HostMemory;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Reductions;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * Runs a generated {@link JavaStep} over host memory: float32 arenas are memory segments, on the Java heap
 * (float arrays) or in native memory ({@link Arenas}); the float64 reference keeps double arrays.
 *
 * <p>The engine, not the generated code, decides where each arena starts: per-element arenas start
 * {@link HostMemory#stagger staggered} modulo 4 KiB (native ones by address, heap ones by slicing their
 * array), because at equal offsets {@code w[i]}, {@code g[i]} and the states' {@code [i]} trip the core's
 * store-to-load alias check (AdamW at 64M parameters: 68 ms unstaggered, 36-44 ms staggered, 2-core EPYC;
 * see {@link HostMemory}). The float64 arrays are not staggered: that reference measures float32's error
 * on small tensors and is never timed against anything.
 */
final class JavaEngine implements Engine {
  /** Elements per parallel task of a chunkable phase: large enough to amortize scheduling. */
  static final int CHUNK = 1 << 16;

  private final Plan plan;
  private final Layout layout;
  private final JavaEmitter.Precision precision;
  @SuppressWarnings("rawtypes")
  private final JavaStep step;
  /** In {@link JavaStep} order: a {@code MemorySegment[]} (float32) or a {@code double[][]} (float64). */
  private final Object[] buffers;
  private final Map<String, Integer> bufferIndex = new HashMap<>();
  private final Map<String, Kind> bufferKind = new HashMap<>();
  /** The native arenas this engine allocated, or null. */
  private final HostMemory host;
  private final ForkJoinPool pool;

  JavaEngine(OptProgram program, Layout layout, Plan plan, JavaEmitter.Precision precision, int threads) {
    this.plan = plan;
    this.layout = layout;
    this.precision = precision;
    var arenas = layout.arenas();
    boolean f32 = precision == JavaEmitter.Precision.F32;
    if (!f32 && arenas.kind() == Arenas.Kind.NATIVE) {
      throw new OptcException("java64 keeps its float64 arenas in Java arrays; native arenas need the float32 "
          + "java backend");
    }
    this.step = JavaSourceCompiler.instantiate(JavaEmitter.emit(plan, precision));
    var names = new ArrayList<String>(List.of("w", "g"));
    var kinds = new ArrayList<Kind>(List.of(Kind.ELEM, Kind.ELEM));
    program.ir().states().forEach(s -> {
      names.add(s.name());
      kinds.add(s.shape().kind());
    });
    for (int i = 0; i < plan.temps().size(); i++) {
      names.add(Plan.tempName(i));
      kinds.add(plan.temps().get(i));
    }
    this.host = arenas.kind() == Arenas.Kind.NATIVE ? new HostMemory() : null;
    this.buffers = f32 ? new MemorySegment[names.size()] : new double[names.size()][];
    try {
      for (int i = 0; i < names.size(); i++) {
        var name = names.get(i);
        var kind = kinds.get(i);
        bufferIndex.put(name, i);
        bufferKind.put(name, kind);
        int n = layout.arenaLength(kind);
        var adopted = arenas.adopted(name);
        if (!f32) {
          buffers[i] = new double[n];
        } else if (adopted != null) {
          buffers[i] = adopted.asSlice(0, (long) Float.BYTES * n);
        } else if (host != null) {
          buffers[i] = kind == Kind.ELEM ? host.allocate((long) Float.BYTES * n, i, Float.BYTES)
              : host.allocate((long) Float.BYTES * n);
        } else {
          buffers[i] = heap(n, kind == Kind.ELEM ? i : 0);
        }
      }
    } catch (RuntimeException e) {
      if (host != null) {
        host.close();
      }
      throw e;
    }
    this.pool = threads == 1 ? null : new ForkJoinPool(threads);
  }

  /** A heap arena of {@code n} floats: an array seen from {@link HostMemory#stagger} bytes on. */
  private static MemorySegment heap(int n, int position) {
    int start = (int) (HostMemory.stagger(position, Float.BYTES) / Float.BYTES);
    if ((long) n + start > Integer.MAX_VALUE - 8) {
      throw new OptcException("a parameter group of " + n + " elements is too large for the java backend's heap "
          + "arrays; split it into several groups, or use native arenas");
    }
    return MemorySegment.ofArray(new float[n + start]).asSlice((long) Float.BYTES * start, (long) Float.BYTES * n);
  }

  private int index(String buffer) {
    var i = bufferIndex.get(buffer);
    if (i == null) {
      throw new OptcException("no buffer '" + buffer + "' in this optimizer");
    }
    return i;
  }

  @Override
  public void write(String buffer, int tensor, float[] values) {
    int b = index(buffer);
    var kind = bufferKind.get(buffer);
    int off = layout.offset(kind, tensor);
    int len = layout.length(kind, tensor);
    if (values.length != len) {
      throw new OptcException(buffer + " of tensor '" + layout.tensors().get(tensor).name() + "' has "
          + len + " values, not " + values.length);
    }
    if (buffers[b] instanceof MemorySegment m) {
      MemorySegment.copy(values, 0, m, JAVA_FLOAT, (long) Float.BYTES * off, len);
    } else {
      var d = (double[]) buffers[b];
      for (int i = 0; i < len; i++) {
        d[off + i] = values[i];
      }
    }
  }

  @Override
  public void read(String buffer, int tensor, float[] out) {
    int b = index(buffer);
    var kind = bufferKind.get(buffer);
    int off = layout.offset(kind, tensor);
    int len = layout.length(kind, tensor);
    if (buffers[b] instanceof MemorySegment m) {
      MemorySegment.copy(m, JAVA_FLOAT, (long) Float.BYTES * off, out, 0, len);
    } else {
      var d = (double[]) buffers[b];
      for (int i = 0; i < len; i++) {
        out[i] = (float) d[off + i];
      }
    }
  }

  @Override
  public Optional<MemorySegment> arena(String buffer) {
    return buffers[index(buffer)] instanceof MemorySegment m ? Optional.of(m) : Optional.empty();
  }

  private record Task(JavaStep.Segment segment, int lo, int hi) {}

  @Override
  @SuppressWarnings("unchecked")
  public double[][] step(double[][] uniforms, boolean wantReductions) {
    var red = Reductions.allocate(plan, layout);
    for (var phase : plan.phases()) {
      int k = phase.index();
      var tasks = new ArrayList<Task>();
      boolean chunkable = step.chunkable(k);
      for (var s : layout.segments()) {
        if (s.numel() == 0) {
          // An empty tensor has nothing to update: every backend leaves its states as they are.
          continue;
        }
        if (chunkable && s.numel() > CHUNK) {
          for (int lo = 0; lo < s.numel(); lo += CHUNK) {
            tasks.add(new Task(s, lo, Math.min(s.numel(), lo + CHUNK)));
          }
        } else {
          tasks.add(new Task(s, 0, s.numel()));
        }
      }
      if (pool == null || tasks.size() <= 1) {
        for (var t : tasks) {
          step.run(k, t.segment(), buffers, uniforms[t.segment().index()], red, t.lo(), t.hi());
        }
      } else {
        pool.submit(() -> IntStream.range(0, tasks.size()).parallel().forEach(i -> {
          var t = tasks.get(i);
          step.run(k, t.segment(), buffers, uniforms[t.segment().index()], red, t.lo(), t.hi());
        })).join();
      }
      Reductions.combineGroups(plan, phase, layout, red);
    }
    return red;
  }

  JavaEmitter.Precision precision() {
    return precision;
  }

  @Override
  public Plan plan() {
    return plan;
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdown();
    }
    if (host != null) {
      host.close();
    }
  }
}
