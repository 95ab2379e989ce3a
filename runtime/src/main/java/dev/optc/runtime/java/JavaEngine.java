package dev.optc.runtime.java;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Engine;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Reductions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/** Runs a generated {@link JavaStep} over host arrays. */
final class JavaEngine implements Engine {
  /** Elements per parallel task of a chunkable phase: large enough to amortize scheduling. */
  static final int CHUNK = 1 << 16;

  private final Plan plan;
  private final Layout layout;
  private final JavaEmitter.Precision precision;
  @SuppressWarnings("rawtypes")
  private final JavaStep step;
  private final Object[] buffers;
  private final Map<String, Integer> bufferIndex = new HashMap<>();
  private final Map<String, Kind> bufferKind = new HashMap<>();
  private final ForkJoinPool pool;

  JavaEngine(OptProgram program, Layout layout, Plan plan, JavaEmitter.Precision precision, int threads) {
    this.plan = plan;
    this.layout = layout;
    this.precision = precision;
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
    this.buffers = precision == JavaEmitter.Precision.F32 ? new float[names.size()][]
        : new double[names.size()][];
    for (int i = 0; i < names.size(); i++) {
      bufferIndex.put(names.get(i), i);
      bufferKind.put(names.get(i), kinds.get(i));
      int n = layout.arenaLength(kinds.get(i)) + start(kinds.get(i), i);
      if (n < 0) {
        throw new OptcException("a parameter group of " + layout.arenaLength(Kind.ELEM)
            + " elements is too large for the java backend's arrays; split it into several groups");
      }
      buffers[i] = precision == JavaEmitter.Precision.F32 ? new float[n] : new double[n];
    }
    this.pool = threads == 1 ? null : new ForkJoinPool(threads);
  }

  /** Where buffer {@code position}'s data starts in its array: staggered for per-element buffers. */
  private static int start(Kind kind, int position) {
    return kind == Kind.ELEM ? JavaStep.stagger(position) : 0;
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
    int off = layout.offset(kind, tensor) + start(kind, b);
    int len = layout.length(kind, tensor);
    if (values.length != len) {
      throw new OptcException(buffer + " of tensor '" + layout.tensors().get(tensor).name() + "' has "
          + len + " values, not " + values.length);
    }
    if (buffers[b] instanceof float[] f) {
      System.arraycopy(values, 0, f, off, len);
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
    int off = layout.offset(kind, tensor) + start(kind, b);
    int len = layout.length(kind, tensor);
    if (buffers[b] instanceof float[] f) {
      System.arraycopy(f, off, out, 0, len);
    } else {
      var d = (double[]) buffers[b];
      for (int i = 0; i < len; i++) {
        out[i] = (float) d[off + i];
      }
    }
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
  }
}
