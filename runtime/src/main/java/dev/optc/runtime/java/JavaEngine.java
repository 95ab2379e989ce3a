package dev.optc.runtime.java;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.InterpretedStep;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.codegen.java.Ops;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.Symmetry;
import dev.optc.compiler.plan.Liveness;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Engine;
import dev.optc.runtime.GramLayout;
import dev.optc.runtime.blas.Gemm;
import dev.optc.runtime.blas.OpenBlas;
import dev.optc.runtime.HostMemory;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Reductions;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * Runs a generated {@link JavaStep} over host memory. The float32 arenas are native memory: allocated here
 * (freed on {@link #close}) or adopted from a caller ({@link Arenas}), and a training framework may view
 * them in place. The float64 reference keeps double arrays.
 *
 * <p>The engine, not the generated code, decides where each arena starts: per-element arenas start
 * {@link HostMemory#stagger staggered} modulo 4 KiB, because at equal offsets {@code w[i]}, {@code g[i]}
 * and the states' {@code [i]} trip the core's store-to-load alias check (AdamW at 64M parameters: 68 ms
 * unstaggered, 36-44 ms staggered, 2-core EPYC; see {@link HostMemory}). Java arrays cannot be placed so:
 * under G1 a large array starts at a region boundary, whatever else was allocated. Nor are heap segments
 * offered beside native ones: once one JVM has run the vector loops over both kinds, the Vector API's
 * loads and stores no longer compile to vector instructions for either (measured at 16M parameters in one
 * JVM: AdamW 12-15 ms per step on native arenas alone, 23 ms once heap ones had run too; NAdam 17 ms and
 * 49-52 ms). The float64 arrays are not staggered: that reference measures
 * float32's error on small tensors and is never timed against anything.
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
  /** Flag states with no memory yet ({@link Guards#flagStates}): a placeholder in {@link #buffers}. */
  private final Set<String> deferred = new HashSet<>();
  /** The maps of quantized states (float32 only: java64 keeps them unquantized, in float64). */
  private final Quantization quant;
  /** The native arenas this engine allocated, or null. */
  private final HostMemory host;
  private final ForkJoinPool pool;
  /** Where Gram matrices live, and the products' shapes. */
  private final GramLayout gram;
  /** Which phases each tensor needs at a step (selects on per-tensor uniforms). */
  private final Liveness liveness;
  /** Which products multiply a matrix by its own transpose (run as syrk). */
  private final Symmetry symmetry = new Symmetry();
  /** Nanoseconds per phase while timing is on ({@link #timePhases}), else null. */
  private long[] phaseNanos;

  JavaEngine(OptProgram program, Layout layout, Plan plan, JavaEmitter.Precision precision, int threads,
      boolean interpreted) {
    this.plan = plan;
    this.layout = layout;
    this.precision = precision;
    this.gram = GramLayout.of(layout, plan);
    this.liveness = Liveness.of(plan);
    if (plan.hasProducts() && precision == JavaEmitter.Precision.F32 && !OpenBlas.isAvailable()) {
      throw new OptcException(program.name() + " multiplies matrices, and the java backend runs products on "
          + "OpenBLAS, which is not here: " + OpenBlas.unavailableReason());
    }
    var arenas = layout.arenas();
    boolean f32 = precision == JavaEmitter.Precision.F32;
    if (!f32 && arenas.kind() == Arenas.Kind.NATIVE) {
      throw new OptcException("java64 keeps its float64 arenas in Java arrays; native arenas need the float32 "
          + "java backend");
    }
    // InterpretedStep has the generated class's bits; where it cannot run the plan, the class is generated.
    this.step = f32 && interpreted ? InterpretedStep.of(plan).orElseGet(() -> JavaSourceCompiler.instantiate(
        JavaEmitter.emit(plan, precision))) : JavaSourceCompiler.instantiate(JavaEmitter.emit(plan, precision));
    var names = JavaEmitter.bufferNames(plan);
    var kinds = new ArrayList<Kind>(List.of(Kind.ELEM, Kind.ELEM));
    program.ir().states().forEach(s -> kinds.add(s.shape().kind()));
    plan.temps().forEach(kinds::add);
    while (kinds.size() < names.size()) {
      kinds.add(Kind.ELEM); // a quantized state's absmax and float32 arenas
    }
    this.quant = f32 ? Quantization.of(program.ir()) : new Quantization(Map.of(), List.of());
    this.host = f32 ? new HostMemory() : null;
    this.buffers = f32 ? new MemorySegment[names.size()] : new double[names.size()][];
    Guards.flagStates(plan).forEach(f -> deferred.add(f.state()));
    try {
      for (int i = 0; i < names.size(); i++) {
        var name = names.get(i);
        bufferIndex.put(name, i);
        bufferKind.put(name, kinds.get(i));
      }
      for (int i = 0; i < names.size(); i++) {
        var name = names.get(i);
        if (deferred.contains(JavaEmitter.stateOf(name))) {
          // No memory until its flag is first on: the kernels test the flag before every access, and an access
          // that slipped through would fail on the empty placeholder instead of reading stray memory.
          buffers[i] = f32 ? MemorySegment.NULL : new double[0];
        } else {
          buffers[i] = arena(i, name, kinds.get(i));
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

  /** The memory of buffer {@code name} at {@code position}: adopted, or allocated (zeros) here. */
  private Object arena(int position, String name, Kind kind) {
    int n = gram.arenaLength(kind);
    if (host == null) {
      return new double[name.indexOf('#') < 0 ? n : 0];
    }
    var map = quant.map(JavaEmitter.stateOf(name));
    if (map != null) {
      return host.allocate(layout.quantizedBytes(map, name), position, Float.BYTES);
    }
    var adopted = layout.arenas().adopted(name);
    if (adopted != null) {
      return adopted.asSlice(0, (long) Float.BYTES * n);
    }
    var memory = kind == Kind.ELEM ? host.allocate((long) Float.BYTES * n, position, Float.BYTES)
        : host.allocate((long) Float.BYTES * n);
    if (Plan.isTemp(name)) {
      // Poisoned: a value read before it was written shows up as NaN (as in the device engines).
      memory.fill((byte) 0xff);
    }
    return memory;
  }

  @Override
  public boolean allocated(String buffer) {
    index(buffer);
    return !deferred.contains(buffer);
  }

  @Override
  public void allocate(String state) {
    index(state);
    if (deferred.remove(state)) {
      // At its own position, so it is staggered as if it had been allocated with the others.
      for (var name : parts(state)) {
        int i = index(name);
        buffers[i] = arena(i, name, bufferKind.get(name));
      }
    }
  }

  /** The buffers that hold {@code state}: itself, and a quantized state's absmax and float32 arenas. */
  private List<String> parts(String state) {
    return quant.map(state) == null ? List.of(state) : JavaEmitter.quantizedBuffers(state);
  }

  @Override
  public long allocatedBytes(String buffer) {
    index(buffer);
    if (deferred.contains(buffer)) {
      return 0;
    }
    long bytes = 0;
    for (var name : parts(buffer)) {
      int i = index(name);
      bytes += buffers[i] instanceof MemorySegment m ? m.byteSize()
          : (long) Double.BYTES * ((double[]) buffers[i]).length;
    }
    return bytes;
  }

  @Override
  public Optional<QuantMap> quantized(String state) {
    index(state);
    return Optional.ofNullable(quant.map(state));
  }

  @Override
  public Quantized readQuantized(String state, int tensor) {
    var map = quantizedState(state);
    var s = layout.segments().get(tensor);
    if (!s.quantized()) {
      return null;
    }
    var codes = new byte[(int) map.codeBytes(s.numel())];
    var absmax = new float[(int) map.blocks(s.numel())];
    long q = s.qOffset();
    MemorySegment.copy((MemorySegment) buffers[index(state)], JAVA_BYTE, map.codeByte(q), codes, 0, codes.length);
    MemorySegment.copy((MemorySegment) buffers[index(JavaEmitter.absmaxName(state))], JAVA_FLOAT,
        (long) Float.BYTES * (q >> map.blockShift()), absmax, 0, absmax.length);
    return new Quantized(codes, absmax);
  }

  @Override
  public void writeQuantized(String state, int tensor, Quantized values) {
    var map = quantizedState(state);
    var s = layout.segments().get(tensor);
    values.check(map, state, layout, tensor);
    long q = s.qOffset();
    MemorySegment.copy(values.codes(), 0, (MemorySegment) buffers[index(state)], JAVA_BYTE, map.codeByte(q),
        values.codes().length);
    MemorySegment.copy(values.absmax(), 0, (MemorySegment) buffers[index(JavaEmitter.absmaxName(state))],
        JAVA_FLOAT, (long) Float.BYTES * (q >> map.blockShift()), values.absmax().length);
  }

  private QuantMap quantizedState(String state) {
    checkedIndex(state);
    var map = quant.map(state);
    if (map == null) {
      throw new OptcException("state '" + state + "' is not quantized");
    }
    return map;
  }

  private int checkedIndex(String buffer) {
    int i = index(buffer);
    if (deferred.contains(buffer)) {
      throw new OptcException("state '" + buffer + "' has no memory yet: its flag has not been on");
    }
    return i;
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
    int b = checkedIndex(buffer);
    var kind = bufferKind.get(buffer);
    int off = layout.offset(kind, tensor);
    int len = layout.length(kind, tensor);
    if (values.length != len) {
      throw new OptcException(buffer + " of tensor '" + layout.tensors().get(tensor).name() + "' has "
          + len + " values, not " + values.length);
    }
    var map = quant.map(buffer);
    if (map != null) {
      // Quantized as a step stores it: per block, its absmax and codes (float32 below the threshold).
      var s = layout.segments().get(tensor);
      Ops.qstore(map, (MemorySegment) buffers[b], (MemorySegment) buffers[index(JavaEmitter.absmaxName(buffer))],
          (MemorySegment) buffers[index(JavaEmitter.rawName(buffer))], s, 0, len, values);
      return;
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
    int b = checkedIndex(buffer);
    var kind = bufferKind.get(buffer);
    int off = layout.offset(kind, tensor);
    int len = layout.length(kind, tensor);
    var map = quant.map(buffer);
    if (map != null) {
      var s = layout.segments().get(tensor);
      var codes = (MemorySegment) buffers[b];
      var absmax = (MemorySegment) buffers[index(JavaEmitter.absmaxName(buffer))];
      var raw = (MemorySegment) buffers[index(JavaEmitter.rawName(buffer))];
      for (int e = 0; e < len; e++) {
        out[e] = Ops.qload(map, codes, absmax, raw, s, s.offset() + e);
      }
      return;
    }
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
    int i = checkedIndex(buffer);
    if (quant.map(buffer) != null) {
      throw new OptcException("state '" + buffer + "' is stored as " + quant.map(buffer) + " codes, not float32: "
          + "read it with Optimizer.state");
    }
    return buffers[i] instanceof MemorySegment m ? Optional.of(m) : Optional.empty();
  }

  private record Task(JavaStep.Segment segment, int lo, int hi) {}

  @Override
  public double[][] step(double[][] uniforms, boolean wantReductions) {
    var red = Reductions.allocate(plan, layout);
    var needs = new boolean[layout.segments().size()][];
    for (int i = 0; i < needs.length; i++) {
      needs[i] = liveness.phases(uniforms[i]);
    }
    for (var phase : plan.phases()) {
      int k = phase.index();
      long start = phaseNanos == null ? 0 : System.nanoTime();
      runPhase(phase, needs, uniforms, red);
      if (phaseNanos != null) {
        phaseNanos[k] += System.nanoTime() - start;
      }
    }
    return red;
  }

  @Override
  public void timePhases(boolean on) {
    phaseNanos = on ? new long[plan.phases().size()] : null;
  }

  @Override
  public Optional<long[]> phaseNanos() {
    return Optional.ofNullable(phaseNanos).map(long[]::clone);
  }

  @SuppressWarnings("unchecked")
  private void runPhase(Plan.Phase phase, boolean[][] needs, double[][] uniforms, double[][] red) {
    int k = phase.index();
    if (phase.products()) {
      products(phase, needs);
      return;
    }
    var tasks = new ArrayList<Task>();
    boolean chunkable = step.chunkable(k);
    for (var s : gram.segments(phase.domain())) {
      if (s.numel() == 0 || !needs[s.index()][k]) {
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

  /**
   * A product phase: each product on each tensor that needs it, on OpenBLAS (float32) or as a plain loop in
   * float64 (the {@code java64} reference, summing in index order).
   */
  private void products(Plan.Phase phase, boolean[][] needs) {
    for (var w : phase.writes()) {
      var m = (Node.Product) w.value();
      var out = Plan.bufferOf(w.location());
      var a = plan.operandBuffer(m.a());
      var b = plan.operandBuffer(m.b());
      for (var s : layout.segments()) {
        var shape = gram.gemm(m, s.index());
        if (shape.isEmpty() || !needs[s.index()][phase.index()]) {
          continue;
        }
        var gemm = shape.get();
        int ao = gram.offset(m.a().kind(), s.index());
        int bo = gram.offset(m.b().kind(), s.index());
        int co = gram.offset(m.kind(), s.index());
        boolean f32 = buffers[index(out)] instanceof MemorySegment;
        if (f32 && symmetry.isGram(m)) {
          // A matrix times its own transpose: half the work (syrk), the other triangle copied.
          OpenBlas.get().gram(gemm.m(), gemm.k(), m.transA(), slice(a, ao, gemm.aElements()),
              slice(out, co, gemm.cElements()));
        } else if (f32) {
          OpenBlas.get().sgemm(gemm, 1f, slice(a, ao, gemm.aElements()), slice(b, bo, gemm.bElements()), 0f,
              slice(out, co, gemm.cElements()));
        } else {
          multiply(gemm, (double[]) buffers[index(a)], ao, (double[]) buffers[index(b)], bo,
              (double[]) buffers[index(out)], co);
        }
      }
    }
  }


  private MemorySegment slice(String buffer, int offset, long floats) {
    return ((MemorySegment) buffers[index(buffer)]).asSlice((long) Float.BYTES * offset, (long) Float.BYTES * floats);
  }

  private static void multiply(Gemm g, double[] a, int ao, double[] b, int bo, double[] c, int co) {
    for (int i = 0; i < g.m(); i++) {
      for (int j = 0; j < g.n(); j++) {
        double sum = 0;
        for (int l = 0; l < g.k(); l++) {
          double x = g.transA() ? a[ao + l * g.lda() + i] : a[ao + i * g.lda() + l];
          double y = g.transB() ? b[bo + j * g.ldb() + l] : b[bo + l * g.ldb() + j];
          sum += x * y;
        }
        c[co + i * g.ldc() + j] = sum;
      }
    }
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
