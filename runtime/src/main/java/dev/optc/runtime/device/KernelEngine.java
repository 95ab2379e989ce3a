package dev.optc.runtime.device;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.optc.compiler.codegen.KernelAbi;
import dev.optc.compiler.codegen.c.CEmitter;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.codegen.java.Ops;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Liveness;
import dev.optc.compiler.plan.Plan;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Backend;
import dev.optc.runtime.Engine;
import dev.optc.runtime.GramLayout;
import dev.optc.runtime.HostMemory;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A plan's generated kernels bound to the flat device buffers of one {@link Layout}, for any device API
 * behind {@link DeviceOps} (OpenCL, CUDA): one arena per buffer (w, g, each state, each temporary), the
 * chunk and segment tables, the per-tensor uniform table and the reduction results. Each phase is one
 * launch for the whole group (plus a small combine or row/column launch for reductions). Hypers and
 * {@code t} reach the kernels through the uniform table, so changing them rebuilds nothing.
 *
 * <p>A quantized state ({@code as q8}, {@code as q4}) is three arenas, as in the Java engine: its codes (bytes)
 * under its own name, its block absmax values and the float32 values of tensors below the threshold
 * ({@link JavaEmitter#absmaxName}, {@link JavaEmitter#rawName}); the kernels find each tensor's place in them
 * in a table of their own ({@link KernelAbi.Arg.QuantSegments}).
 */
public class KernelEngine<B, K> implements Engine {
  protected final DeviceOps<B, K> ops;
  protected final Plan plan;
  protected final Layout layout;
  private final CEmitter.Program source;
  private final int chunkSize;
  /** The maps of quantized states. */
  private final Quantization quant;
  private final Map<String, B> buffers = new LinkedHashMap<>();
  private final Map<String, B> nextCopies = new HashMap<>();
  private final Map<String, Kind> kinds = new LinkedHashMap<>();
  private final Map<String, Dtype> dtypes = new HashMap<>();
  private final List<B> owned = new ArrayList<>();
  /**
   * Flag states with no memory yet ({@link Guards#flagStates}): in {@link #buffers} a 4-byte placeholder of
   * their own, which the kernels are passed and never dereference (each access tests the flag first).
   */
  private final Set<String> deferred = new HashSet<>();
  /** Bytes of each arena's memory (a deferred state's placeholder counts 0). */
  private final Map<String, Long> arenaBytes = new HashMap<>();
  /** Host memory of native arenas ({@code w} and {@code g}), by buffer, in use by the device in place. */
  private final Map<String, MemorySegment> hostArenas = new HashMap<>();
  private HostMemory host;
  private final List<List<Launch<K>>> launches = new ArrayList<>();
  /** The chunk and segment tables of each domain a kernel runs over (the tensors, their Gram matrices). */
  private final Map<Plan.Domain, Tables<B>> tables = new java.util.EnumMap<>(Plan.Domain.class);
  private B groupSegments;
  private B quantSegments;
  private B uniforms;
  private List<B> reduced = List.of();
  private List<B> partials = List.of();

  private record Launch<K>(K kernel, KernelAbi.Kernel info) {}

  /** A domain's chunk table, segment table, first chunk and chunk count per segment, and its chunk count. */
  private record Tables<B>(B chunks, B segments, B segmentChunks, int chunkCount) {}

  /** Where the Gram matrices live and each product's shape per tensor. */
  private final GramLayout gram;
  /** Which phases each tensor needs at a step. */
  private final Liveness liveness;

  protected KernelEngine(DeviceOps<B, K> ops, OptProgram program, Layout layout, Plan plan) {
    this.ops = ops;
    this.plan = plan;
    this.layout = layout;
    this.gram = GramLayout.of(layout, plan);
    this.liveness = Liveness.of(plan);
    if (plan.hasProducts() && ops.blasUnavailable().isPresent()) {
      throw new OptcException(program.name() + " multiplies matrices: " + ops.blasUnavailable().get());
    }
    this.quant = Quantization.of(program.ir());
    // A store of quantized states quantizes whole blocks: every chunk must start at a block of its tensor.
    this.chunkSize = quant.any() ? roundUp(ops.chunkSize(), CEmitter.QUANT_SPAN) : ops.chunkSize();
    this.source = CEmitter.emit(plan, ops.config());
    if (quant.any() && !ops.fp64()) {
      throw new OptcException(program.name() + ": quantized states (as q8, as q4) need double precision on the "
          + "device for their exact code search, and this device has none (cl_khr_fp64); use the java backend");
    }
    try {
      checkParameterSize(program);
      ops.build(source.source());
      allocateAll(program);
      for (var phase : plan.phases()) {
        var list = new ArrayList<Launch<K>>();
        for (var k : source.kernels(phase.index())) {
          list.add(new Launch<>(ops.kernel(k.name()), k));
        }
        launches.add(list);
      }
      ops.finish();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * Refuses, before building anything, a kernel whose arguments exceed what the device takes: each
   * buffer a phase touches is one pointer argument, so a phase over thousands of states can pass CUDA's
   * 4 KiB. (PoCL on the CPU says 1,024 bytes but takes any number; it is not limited here.)
   */
  private void checkParameterSize(OptProgram program) {
    long limit = ops.maxParameterBytes();
    for (var k : source.kernels()) {
      long bytes = 0;
      int buffers = 0;
      for (var arg : k.args()) {
        bytes += switch (arg) {
          case KernelAbi.Arg.UniformCount n -> 4;
          case KernelAbi.Arg.ChunkSize n -> 4;
          case KernelAbi.Arg.ChunkCount n -> 4;
          case KernelAbi.Arg.VectorAccess v -> 4;
          case KernelAbi.Arg.SegmentCount n -> 4;
          case KernelAbi.Arg.GroupCount n -> 4;
          case KernelAbi.Arg.LineCount n -> 4;
          case KernelAbi.Arg.Chunks c -> 8;
          case KernelAbi.Arg.Segments s -> 8;
          case KernelAbi.Arg.Uniforms u -> 8;
          case KernelAbi.Arg.SegmentChunks c -> 8;
          case KernelAbi.Arg.GroupSegments g -> 8;
          case KernelAbi.Arg.QuantSegments q -> 8;
          case KernelAbi.Arg.Reduced r -> 8;
          case KernelAbi.Arg.Partials p -> 8;
          case KernelAbi.Arg.Buffer b -> {
            buffers++;
            yield 8;
          }
        };
      }
      if (bytes > limit) {
        throw new OptcException(program.name() + ": kernel " + k.name() + " takes " + bytes + " bytes of "
            + "arguments (" + buffers + " buffers), more than this device's " + limit + "; use --fusion "
            + "statement or none, or the java or opencl backend on the CPU");
      }
    }
  }

  private void allocateAll(OptProgram program) {
    var ir = program.ir();
    declare("w", Kind.ELEM, Dtype.F32);
    declare("g", Kind.ELEM, Dtype.F32);
    ir.states().forEach(s -> declare(s.name(), s.shape().kind(), s.dtype()));
    for (int i = 0; i < plan.temps().size(); i++) {
      declare(Plan.tempName(i), plan.temps().get(i), Dtype.F32);
    }
    for (var s : ir.states()) {
      if (quant.map(s.name()) != null) {
        declare(JavaEmitter.absmaxName(s.name()), Kind.ELEM, Dtype.F32);
        declare(JavaEmitter.rawName(s.name()), Kind.ELEM, Dtype.F32);
      }
    }
    Guards.flagStates(plan).forEach(f -> deferred.addAll(parts(f.state())));
    var arenas = layout.arenas();
    int position = 0;
    for (var name : kinds.keySet()) {
      long bytes = bytes(name);
      if (deferred.contains(name)) {
        if (source.doubleBuffered().contains(name)) {
          throw new IllegalStateException("flag state " + name + " is double-buffered");
        }
        position++;
        buffers.put(name, allocate(4));
        arenaBytes.put(name, 0L);
        continue;
      }
      arenaBytes.put(name, bytes);
      if (arenas.kind() == Arenas.Kind.NATIVE && (name.equals("w") || name.equals("g")) && bytes > 0) {
        // Native arenas: w and g in host memory (the caller's, or allocated staggered like the Java
        // engine's), used by the device in place; the states stay in the device's own buffers.
        var memory = arenas.adopted(name);
        if (memory == null) {
          if (host == null) {
            host = new HostMemory();
          }
          memory = host.allocate(bytes, position, ops.hostAlignment());
        } else if (memory.address() % ops.hostAlignment() != 0) {
          throw new OptcException("the segment adopted for " + name + " starts at 0x" + Long.toHexString(
              memory.address()) + "; this device uses host memory in place only at multiples of "
              + ops.hostAlignment() + " bytes");
        }
        var b = ops.useHost(memory.asSlice(0, bytes));
        owned.add(b);
        buffers.put(name, b);
        hostArenas.put(name, memory.asSlice(0, bytes));
        position++;
        continue;
      }
      position++;
      buffers.put(name, allocate(bytes));
      if (source.doubleBuffered().contains(name)) {
        // Kernels write a step's new values here and the copies swap; an entry no kernel writes (a row of
        // an empty tensor) keeps what the host wrote to both copies. Poisoned until then, like temporaries.
        nextCopies.put(name, allocate(bytes));
        if (dtypes.get(name) == Dtype.F32) {
          ops.fill(nextCopies.get(name), Float.NaN);
        }
      }
      if (Plan.isTemp(name)) {
        // Poisoned: a value read before it was written shows up as NaN.
        ops.fill(buffers.get(name), Float.NaN);
      }
    }
    int mostChunks = 0;
    for (var domain : List.of(Plan.Domain.ELEM, Plan.Domain.RR, Plan.Domain.CC)) {
      if (domain == Plan.Domain.ELEM || plan.phases().stream().anyMatch(p -> p.domain() == domain)) {
        var t = tables(gram.segments(domain));
        tables.put(domain, t);
        mostChunks = Math.max(mostChunks, t.chunkCount());
      }
    }
    var qsegs = new int[2 * layout.segments().size()];
    for (var s : layout.segments()) {
      qsegs[2 * s.index()] = s.qOffset();
      qsegs[2 * s.index() + 1] = s.rawOffset();
    }
    quantSegments = ints(qsegs);
    var groups = new int[2 * layout.groups()];
    for (int g = 0; g < layout.groups(); g++) {
      int first = -1;
      int count = 0;
      for (var t : layout.tensors()) {
        if (t.group() == g) {
          first = first < 0 ? layout.index(t.name()) : first;
          count++;
        }
      }
      groups[2 * g] = Math.max(first, 0);
      groups[2 * g + 1] = count;
    }
    groupSegments = ints(groups);
    uniforms = allocate(4L * Math.max(1, layout.segments().size() * ir.hoisted().size()));
    var red = new ArrayList<B>();
    var part = new ArrayList<B>();
    int accumulatorBytes = ops.config().accumulation().bytes();
    for (var r : plan.reductions()) {
      var b = allocate(4L * layout.arenaLength(r.kind()));
      ops.fill(b, 0f);
      red.add(b);
      part.add(allocate((long) accumulatorBytes * mostChunks));
    }
    reduced = red;
    partials = part;
  }

  /** The chunk and segment tables of a pass over {@code segs}. */
  private Tables<B> tables(List<JavaStep.Segment> segs) {
    var chunkTable = new ArrayList<Integer>();
    var segChunks = new int[2 * segs.size()];
    for (var s : segs) {
      segChunks[2 * s.index()] = chunkTable.size() / 2;
      for (int start = 0; start < s.numel(); start += chunkSize) {
        chunkTable.add(s.index());
        chunkTable.add(start);
      }
      segChunks[2 * s.index() + 1] = chunkTable.size() / 2 - segChunks[2 * s.index()];
    }
    var table = new int[KernelAbi.SegmentField.COUNT * segs.size()];
    for (var s : segs) {
      for (var f : KernelAbi.SegmentField.values()) {
        table[f.at(s.index())] = switch (f) {
          case OFFSET -> s.offset();
          case NUMEL -> s.numel();
          case ROWS -> s.rows();
          case COLS -> s.cols();
          case ROW_OFFSET -> s.rowOffset();
          case COL_OFFSET -> s.colOffset();
        };
      }
    }
    return new Tables<>(ints(chunkTable.stream().mapToInt(Integer::intValue).toArray()), ints(table), ints(segChunks),
        chunkTable.size() / 2);
  }

  private void declare(String name, Kind kind, Dtype dtype) {
    kinds.put(name, kind);
    dtypes.put(name, dtype);
  }

  /** Bytes of arena {@code name}: a quantized state's codes, absmax values or float32 values by the layout. */
  private long bytes(String name) {
    var map = quant.map(JavaEmitter.stateOf(name));
    return map != null ? layout.quantizedBytes(map, name)
        : gram.arenaLength(kinds.get(name)) * (long) dtypes.get(name).bytes();
  }

  /** The arenas that hold {@code state}: itself, and a quantized state's absmax and float32 arenas. */
  private List<String> parts(String state) {
    return quant.map(state) == null ? List.of(state) : JavaEmitter.quantizedBuffers(state);
  }

  private static int roundUp(int n, int multiple) {
    return (n + multiple - 1) / multiple * multiple;
  }

  private B allocate(long bytes) {
    // Devices have no empty buffers; an empty arena gets a few unused bytes.
    var b = ops.allocate(Math.max(bytes, 4));
    owned.add(b);
    return b;
  }

  private B ints(int[] values) {
    var b = allocate(4L * values.length);
    if (values.length > 0) {
      try (var arena = Arena.ofConfined()) {
        ops.write(b, 0, arena.allocateFrom(JAVA_INT, values));
      }
    }
    return b;
  }

  /** The generated source this engine built. */
  public String source() {
    return source.source();
  }

  /**
   * The source a kernel engine builds for {@code plan} on a device with {@code config}, named as
   * {@code optc emit -o} writes it: what {@code Backend.source} answers for OpenCL and CUDA.
   */
  public static Backend.Source source(Plan plan, KernelConfig config) {
    var name = plan.program().name().replaceAll("[^A-Za-z0-9_]", "_") + config.dialect().fileExtension();
    return new Backend.Source(name, CEmitter.emit(plan, config).source());
  }

  // ------------------------------------------------------------------ data in and out

  private B buffer(String name) {
    var b = buffers.get(name);
    if (b == null) {
      throw new OptcException("no buffer '" + name + "' in this optimizer");
    }
    return b;
  }

  /** {@link #buffer}, refusing a flag state that has no memory yet. */
  private B allocatedBuffer(String name) {
    var b = buffer(name);
    if (deferred.contains(name)) {
      throw new OptcException("state '" + name + "' has no memory yet: its flag has not been on");
    }
    return b;
  }

  @Override
  public boolean allocated(String name) {
    buffer(name);
    return !deferred.contains(name);
  }

  @Override
  public void allocate(String state) {
    buffer(state);
    if (!deferred.contains(state)) {
      return;
    }
    for (var name : parts(state)) {
      allocatePart(name);
    }
  }

  private void allocatePart(String name) {
    var placeholder = buffer(name);
    long bytes = bytes(name);
    var memory = allocate(bytes);
    // Device memory starts undefined: zeros, as the Java engine's and as a newly allocated state is defined.
    if (dtypes.get(name) == Dtype.F32) {
      ops.fill(memory, 0f);
    } else {
      zero(memory, bytes);
    }
    buffers.put(name, memory);
    deferred.remove(name);
    arenaBytes.put(name, bytes);
    ops.finish();
    owned.remove(placeholder);
    ops.release(placeholder);
  }

  private void zero(B b, long bytes) {
    if (bytes > 0) {
      try (var arena = Arena.ofConfined()) {
        ops.write(b, 0, arena.allocate(bytes));
      }
    }
  }

  @Override
  public long allocatedBytes(String name) {
    buffer(name);
    return parts(name).stream().mapToLong(arenaBytes::get).sum();
  }

  @Override
  public Optional<QuantMap> quantized(String state) {
    buffer(state);
    return Optional.ofNullable(quant.map(state));
  }

  @Override
  public Quantized readQuantized(String state, int tensor) {
    var map = quantizedState(state);
    var s = layout.segments().get(tensor);
    if (!s.quantized()) {
      return null;
    }
    try (var arena = Arena.ofConfined()) {
      var codes = arena.allocate(Math.max(1, map.codeBytes(s.numel())));
      var absmax = arena.allocate(JAVA_FLOAT, Math.max(1, map.blocks(s.numel())));
      readCodes(map, state, s, codes, absmax);
      return new Quantized(codes.asSlice(0, map.codeBytes(s.numel())).toArray(JAVA_BYTE),
          absmax.asSlice(0, Float.BYTES * map.blocks(s.numel())).toArray(JAVA_FLOAT));
    }
  }

  @Override
  public void writeQuantized(String state, int tensor, Quantized values) {
    var map = quantizedState(state);
    var s = layout.segments().get(tensor);
    values.check(map, state, layout, tensor);
    if (s.numel() == 0) {
      return;
    }
    try (var arena = Arena.ofConfined()) {
      writeCodes(map, state, s, arena.allocateFrom(JAVA_BYTE, values.codes()),
          arena.allocateFrom(JAVA_FLOAT, values.absmax()));
    }
  }

  private QuantMap quantizedState(String state) {
    allocatedBuffer(state);
    var map = quant.map(state);
    if (map == null) {
      throw new OptcException("state '" + state + "' is not quantized");
    }
    return map;
  }

  /** Tensor {@code s}'s codes and absmax values, from the device into {@code codes} and {@code absmax}. */
  private void readCodes(QuantMap map, String state, JavaStep.Segment s, MemorySegment codes, MemorySegment absmax) {
    if (s.numel() > 0) {
      ops.read(buffer(state), map.codeByte(s.qOffset()), codes.asSlice(0, map.codeBytes(s.numel())));
      ops.read(buffer(JavaEmitter.absmaxName(state)), (long) Float.BYTES * (s.qOffset() >> map.blockShift()),
          absmax.asSlice(0, Float.BYTES * map.blocks(s.numel())));
    }
  }

  private void writeCodes(QuantMap map, String state, JavaStep.Segment s, MemorySegment codes,
      MemorySegment absmax) {
    ops.write(buffer(state), map.codeByte(s.qOffset()), codes.asSlice(0, map.codeBytes(s.numel())));
    ops.write(buffer(JavaEmitter.absmaxName(state)), (long) Float.BYTES * (s.qOffset() >> map.blockShift()),
        absmax.asSlice(0, Float.BYTES * map.blocks(s.numel())));
  }

  /** Tensor {@code s} alone at the start of its quantized (or float32) memory: what host copies of it index. */
  private static JavaStep.Segment alone(JavaStep.Segment s) {
    return new JavaStep.Segment(s.index(), 0, s.numel(), s.rows(), s.cols(), 0, 0, s.quantized() ? 0 : -1, 0);
  }

  @Override
  public void write(String name, int tensor, float[] values) {
    var map = quant.map(name);
    if (map != null) {
      writeQuantizedValues(map, name, tensor, values);
      return;
    }
    write(allocatedBuffer(name), name, tensor, values);
    if (nextCopies.containsKey(name)) {
      write(nextCopies.get(name), name, tensor, values);
    }
  }

  /** Quantized on the host as a step stores it ({@link Ops#qstore}): per block, its absmax and codes. */
  private void writeQuantizedValues(QuantMap map, String name, int tensor, float[] values) {
    allocatedBuffer(name);
    var s = layout.segments().get(tensor);
    if (values.length != s.numel()) {
      throw new OptcException(name + " of tensor '" + layout.tensors().get(tensor).name() + "' has " + s.numel()
          + " values, not " + values.length);
    }
    if (s.numel() == 0) {
      return;
    }
    try (var arena = Arena.ofConfined()) {
      if (!s.quantized()) {
        ops.write(buffer(JavaEmitter.rawName(name)), (long) Float.BYTES * s.rawOffset(),
            arena.allocateFrom(JAVA_FLOAT, values));
        return;
      }
      var codes = arena.allocate(map.codeBytes(s.numel()));
      var absmax = arena.allocate(JAVA_FLOAT, map.blocks(s.numel()));
      Ops.qstore(map, codes, absmax, MemorySegment.NULL, alone(s), 0, s.numel(), values);
      writeCodes(map, name, s, codes, absmax);
    }
  }

  private void write(B b, String name, int tensor, float[] values) {
    var kind = kinds.get(name);
    int len = layout.length(kind, tensor);
    if (values.length != len) {
      throw new OptcException(name + " of tensor '" + layout.tensors().get(tensor).name() + "' has " + len
          + " values, not " + values.length);
    }
    if (len == 0) {
      return;
    }
    var dtype = dtypes.get(name);
    long offset = (long) layout.offset(kind, tensor) * dtype.bytes();
    try (var arena = Arena.ofConfined()) {
      if (dtype == Dtype.F32) {
        ops.write(b, offset, arena.allocateFrom(JAVA_FLOAT, values));
      } else {
        var seg = arena.allocate(JAVA_SHORT, len);
        for (int i = 0; i < len; i++) {
          seg.setAtIndex(JAVA_SHORT, i, dtype == Dtype.BF16 ? Dtype.floatToBf16(values[i])
              : Float.floatToFloat16(values[i]));
        }
        ops.write(b, offset, seg);
      }
    }
  }

  @Override
  public void read(String name, int tensor, float[] out) {
    var b = allocatedBuffer(name);
    var map = quant.map(name);
    if (map != null) {
      readQuantizedValues(map, name, tensor, out);
      return;
    }
    var kind = kinds.get(name);
    int len = layout.length(kind, tensor);
    if (len == 0) {
      return;
    }
    var dtype = dtypes.get(name);
    long offset = (long) layout.offset(kind, tensor) * dtype.bytes();
    try (var arena = Arena.ofConfined()) {
      if (dtype == Dtype.F32) {
        var seg = arena.allocate(JAVA_FLOAT, len);
        ops.read(b, offset, seg);
        MemorySegment.copy(seg, JAVA_FLOAT, 0, out, 0, len);
      } else {
        var seg = arena.allocate(JAVA_SHORT, len);
        ops.read(b, offset, seg);
        for (int i = 0; i < len; i++) {
          short s = seg.getAtIndex(JAVA_SHORT, i);
          out[i] = dtype == Dtype.BF16 ? Dtype.bf16ToFloat(s) : Float.float16ToFloat(s);
        }
      }
    }
  }

  /** Read back from the codes as a kernel loads them ({@link Ops#qload}), or the float32 values. */
  private void readQuantizedValues(QuantMap map, String name, int tensor, float[] out) {
    var s = layout.segments().get(tensor);
    if (s.numel() == 0) {
      return;
    }
    try (var arena = Arena.ofConfined()) {
      if (!s.quantized()) {
        var seg = arena.allocate(JAVA_FLOAT, s.numel());
        ops.read(buffer(JavaEmitter.rawName(name)), (long) Float.BYTES * s.rawOffset(), seg);
        MemorySegment.copy(seg, JAVA_FLOAT, 0, out, 0, s.numel());
        return;
      }
      var codes = arena.allocate(map.codeBytes(s.numel()));
      var absmax = arena.allocate(JAVA_FLOAT, map.blocks(s.numel()));
      readCodes(map, name, s, codes, absmax);
      var at = alone(s);
      for (int e = 0; e < s.numel(); e++) {
        out[e] = Ops.qload(map, codes, absmax, MemorySegment.NULL, at, e);
      }
    }
  }

  /** The device buffer that holds arena {@code name} now. */
  protected B deviceBuffer(String name) {
    return buffer(name);
  }

  @Override
  public Optional<MemorySegment> arena(String name) {
    allocatedBuffer(name);
    var state = JavaEmitter.stateOf(name);
    if (quant.map(state) != null) {
      throw new OptcException("state '" + state + "' is stored as " + quant.map(state) + " codes, not "
          + "float32: read it with Optimizer.state");
    }
    return Optional.ofNullable(hostArenas.get(name));
  }

  /**
   * Uses a caller's device buffer as the whole arena of {@code w} or {@code g}, without a copy. The
   * engine releases it on close like its own, so callers pass a wrapper that does not own the memory.
   */
  protected void adoptBuffer(String name, B wrapped, long bytes) {
    if (!name.equals("w") && !name.equals("g")) {
      throw new OptcException("only w and g can be adopted, not '" + name + "'");
    }
    long need = 4L * layout.arenaLength(Kind.ELEM);
    if (bytes < need) {
      ops.release(wrapped);
      throw new OptcException("the device buffer for " + name + " has " + bytes + " bytes; this group needs "
          + need);
    }
    owned.add(wrapped);
    buffers.put(name, wrapped);
    hostArenas.remove(name);
  }

  // ------------------------------------------------------------------ stepping

  @Override
  public double[][] step(double[][] perTensorUniforms, boolean wantReductions) {
    int nu = plan.program().hoisted().size();
    int segs = layout.segments().size();
    if (nu > 0 && segs > 0) {
      var table = new float[segs * nu];
      for (int s = 0; s < segs; s++) {
        for (int k = 0; k < nu; k++) {
          table[s * nu + k] = (float) perTensorUniforms[s][k];
        }
      }
      try (var arena = Arena.ofConfined()) {
        ops.write(uniforms, 0, arena.allocateFrom(JAVA_FLOAT, table));
      }
    }
    boolean[][] needs = new boolean[segs][];
    for (int s = 0; s < segs; s++) {
      needs[s] = liveness.phases(perTensorUniforms[s]);
    }
    for (var phase : plan.phases()) {
      int k = phase.index();
      if (phase.products()) {
        products(phase, needs);
        continue;
      }
      // A pass no tensor needs this step (the dropped branch of a per-tensor select) is not launched.
      boolean needed = segs == 0;
      for (int s = 0; s < segs && !needed; s++) {
        needed = needs[s][k];
      }
      if (!needed) {
        continue;
      }
      var swapped = new ArrayList<String>();
      for (var launch : launches.get(phase.index())) {
        run(launch, swapped);
      }
      for (var name : swapped) {
        var old = buffers.get(name);
        buffers.put(name, nextCopies.get(name));
        nextCopies.put(name, old);
      }
    }
    if (!wantReductions || reduced.isEmpty()) {
      ops.finish();
      return null;
    }
    var out = new double[reduced.size()][];
    for (int k = 0; k < reduced.size(); k++) {
      int n = layout.arenaLength(plan.reductions().get(k).kind());
      out[k] = new double[n];
      if (n > 0) {
        try (var arena = Arena.ofConfined()) {
          var seg = arena.allocate(JAVA_FLOAT, n);
          ops.read(reduced.get(k), 0, seg);
          for (int i = 0; i < n; i++) {
            out[k][i] = seg.getAtIndex(JAVA_FLOAT, i);
          }
        }
      }
    }
    return out;
  }

  /** A product phase: each product on each tensor that needs it, on the device's BLAS, queued with the kernels. */
  private void products(Plan.Phase phase, boolean[][] needs) {
    for (var w : phase.writes()) {
      var m = (Node.Product) w.value();
      var out = buffer(Plan.bufferOf(w.location()));
      var a = buffer(plan.operandBuffer(m.a()));
      var b = buffer(plan.operandBuffer(m.b()));
      for (var s : layout.segments()) {
        var shape = gram.gemm(m, s.index());
        if (shape.isPresent() && needs[s.index()][phase.index()]) {
          ops.sgemm(shape.get(), a, gram.offset(m.a().kind(), s.index()), b, gram.offset(m.b().kind(), s.index()),
              out, gram.offset(m.kind(), s.index()));
        }
      }
    }
  }


  private void run(Launch<K> launch, List<String> swapped) {
    var info = launch.info();
    var domain = tables.get(plan.phases().get(info.phase()).domain());
    var args = new ArrayList<Object>(info.args().size());
    boolean aligned = true;
    for (var arg : info.args()) {
      if (arg instanceof KernelAbi.Arg.Buffer b) {
        aligned &= ops.aligned16(b.next() ? nextCopies.get(b.name()) : buffer(b.name()));
      }
    }
    for (var arg : info.args()) {
      args.add(switch (arg) {
        case KernelAbi.Arg.Chunks c -> domain.chunks();
        case KernelAbi.Arg.Segments s -> domain.segments();
        case KernelAbi.Arg.Uniforms u -> uniforms;
        case KernelAbi.Arg.UniformCount n -> plan.program().hoisted().size();
        case KernelAbi.Arg.ChunkSize n -> chunkSize;
        case KernelAbi.Arg.ChunkCount n -> domain.chunkCount();
        case KernelAbi.Arg.VectorAccess v -> aligned ? 1 : 0;
        case KernelAbi.Arg.SegmentCount n -> layout.segments().size();
        case KernelAbi.Arg.GroupCount n -> layout.groups();
        case KernelAbi.Arg.SegmentChunks c -> domain.segmentChunks();
        case KernelAbi.Arg.GroupSegments g -> groupSegments;
        case KernelAbi.Arg.QuantSegments q -> quantSegments;
        case KernelAbi.Arg.LineCount n -> lines(info);
        case KernelAbi.Arg.Buffer b -> {
          if (b.next()) {
            if (!swapped.contains(b.name()) && info.launch() == KernelAbi.Launch.CHUNKS) {
              swapped.add(b.name());
            }
            yield nextCopies.get(b.name());
          }
          yield buffer(b.name());
        }
        case KernelAbi.Arg.Reduced r -> reduced.get(r.slot());
        case KernelAbi.Arg.Partials p -> partials.get(p.slot());
      });
    }
    switch (info.launch()) {
      case CHUNKS -> {
        int chunkCount = domain.chunkCount();
        if (chunkCount > 0) {
          int groups = Math.clamp(ops.chunkGroups(launch.kernel(), chunkCount), 1, chunkCount);
          int local = ops.config().localSize();
          ops.launch(launch.kernel(), (long) groups * local, local, args);
        }
      }
      case COMBINE -> {
        int n = Math.max(layout.segments().size(), layout.groups());
        if (n > 0) {
          ops.launch(launch.kernel(), n, 0, args);
        }
      }
      case ROWS, COLS -> {
        int n = lines(info);
        if (n > 0) {
          ops.launch(launch.kernel(), n, 0, args);
        }
      }
    }
  }

  private int lines(KernelAbi.Kernel k) {
    return k.launch() == KernelAbi.Launch.ROWS ? layout.arenaLength(Kind.ROW) : layout.arenaLength(Kind.COL);
  }

  @Override
  public Plan plan() {
    return plan;
  }

  @Override
  public void close() {
    for (var l : launches) {
      for (var launch : l) {
        ops.releaseKernel(launch.kernel());
      }
    }
    launches.clear();
    try {
      ops.finish();
    } catch (RuntimeException e) {
      // Closing after a device error: release what we hold anyway.
    }
    owned.forEach(ops::release);
    owned.clear();
    ops.close();
    if (host != null) {
      // After the buffers that used it.
      host.close();
    }
  }
}
