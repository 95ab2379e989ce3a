package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import dev.optc.compiler.codegen.c.CEmitter;
import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.java.JavaSourceCompiler;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.Engine;
import dev.optc.runtime.Layout;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * A plan's OpenCL kernels bound to the flat device buffers of one {@link Layout}: one arena per buffer
 * (w, g, each state, each temporary), the chunk and segment tables, the per-tensor uniforms and the
 * reduction results. Each phase is one launch (plus a small combine or row/column launch for reductions)
 * for the whole group. Hypers and {@code t} reach the kernels through the uniform table, so changing them
 * rebuilds nothing.
 */
public final class OpenClEngine implements Engine {
  /** Programs by cache key, for the life of the process (the key includes the device). */
  private static final Map<String, ClProgram> PROGRAMS = new ConcurrentHashMap<>();

  private final ClDevice device;
  private final ClContext context;
  private final ClQueue queue;
  private final Plan plan;
  private final Layout layout;
  private final CEmitter.Program source;
  private final int localSize;
  private final int chunkSize;
  private final int accumulatorBytes;
  private final Map<String, ClBuffer> buffers = new LinkedHashMap<>();
  private final Map<String, ClBuffer> nextCopies = new HashMap<>();
  private final Map<String, Kind> kinds = new HashMap<>();
  private final Map<String, Dtype> dtypes = new HashMap<>();
  private final List<ClBuffer> owned = new ArrayList<>();
  private final ClBuffer chunks;
  private final ClBuffer segments;
  private final ClBuffer segmentChunks;
  private final ClBuffer groupSegments;
  private final ClBuffer uniforms;
  private final ClBuffer[] reduced;
  private final ClBuffer[] partials;
  private final int chunkCount;
  private final List<List<Launch>> launches = new ArrayList<>();

  private record Launch(ClKernel kernel, CEmitter.Kernel info) {}

  OpenClEngine(OpenClBackend backend, OpenClBackend.Session session, OptProgram program, Layout layout,
      Fusion fusion) {
    this.device = backend.device();
    this.context = session.context();
    this.queue = session.queue();
    this.plan = Planner.plan(program.ir(), fusion);
    this.layout = layout;
    int local = 1;
    while (local * 2 <= Math.min(256, device.maxWorkGroupSize())) {
      local *= 2;
    }
    this.localSize = local;
    this.chunkSize = Math.max(local * 16, 4096);
    // Reductions accumulate in double where the device has it, as the Java reference does.
    this.accumulatorBytes = device.supportsFp64() ? 8 : 4;
    this.source = CEmitter.emit(plan, Dialect.OPENCL, localSize, device.supportsFp64());
    try {
      var built = build(backend.extraBuildOptions());
      // Buffers: program buffers, then temporaries; a second copy of each double-buffered one.
      var ir = program.ir();
      declare("w", Kind.ELEM, Dtype.F32);
      declare("g", Kind.ELEM, Dtype.F32);
      ir.states().forEach(s -> declare(s.name(), s.shape().kind(), s.dtype()));
      for (int i = 0; i < plan.temps().size(); i++) {
        declare(Plan.tempName(i), plan.temps().get(i), Dtype.F32);
      }
      for (var name : kinds.keySet()) {
        buffers.put(name, allocate(layout.arenaLength(kinds.get(name)) * (long) dtypes.get(name).bytes()));
        if (source.doubleBuffered().contains(name)) {
          nextCopies.put(name, allocate(layout.arenaLength(kinds.get(name)) * (long) dtypes.get(name).bytes()));
        }
        if (Plan.isTemp(name)) {
          // Poisoned: a value read before it was written shows up as NaN.
          buffers.get(name).fill(queue, Float.NaN);
        }
      }
      // Tables.
      var chunkTable = new ArrayList<Integer>();
      var segChunks = new int[2 * layout.segments().size()];
      for (var s : layout.segments()) {
        segChunks[2 * s.index()] = chunkTable.size() / 2;
        for (int start = 0; start < s.numel(); start += chunkSize) {
          chunkTable.add(s.index());
          chunkTable.add(start);
        }
        segChunks[2 * s.index() + 1] = chunkTable.size() / 2 - segChunks[2 * s.index()];
      }
      this.chunkCount = chunkTable.size() / 2;
      this.chunks = ints(chunkTable.stream().mapToInt(Integer::intValue).toArray());
      var segs = new int[CEmitter.SEGMENT_FIELDS * layout.segments().size()];
      for (var s : layout.segments()) {
        int b = CEmitter.SEGMENT_FIELDS * s.index();
        segs[b] = s.offset();
        segs[b + 1] = s.numel();
        segs[b + 2] = s.rows();
        segs[b + 3] = s.cols();
        segs[b + 4] = s.rowOffset();
        segs[b + 5] = s.colOffset();
      }
      this.segments = ints(segs);
      this.segmentChunks = ints(segChunks);
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
      this.groupSegments = ints(groups);
      this.uniforms = allocate(4L * Math.max(1, layout.segments().size() * ir.hoisted().size()));
      this.reduced = new ClBuffer[plan.reductions().size()];
      this.partials = new ClBuffer[plan.reductions().size()];
      for (int k = 0; k < reduced.length; k++) {
        reduced[k] = allocate(4L * layout.arenaLength(plan.reductions().get(k).kind()));
        reduced[k].fill(queue, 0f);
        partials[k] = allocate((long) accumulatorBytes * chunkCount);
      }
      for (var phase : plan.phases()) {
        var list = new ArrayList<Launch>();
        for (var k : source.kernels(phase.index())) {
          list.add(new Launch(built.createKernel(k.name()), k));
        }
        launches.add(list);
      }
      queue.finish();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private void declare(String name, Kind kind, Dtype dtype) {
    kinds.put(name, kind);
    dtypes.put(name, dtype);
  }

  private ClBuffer allocate(long bytes) {
    // OpenCL has no empty buffers; an empty arena gets a few unused bytes.
    var b = context.createBuffer(Math.max(bytes, 4));
    owned.add(b);
    return b;
  }

  private ClBuffer ints(int[] values) {
    var b = allocate(4L * values.length);
    if (values.length > 0) {
      try (var arena = Arena.ofConfined()) {
        b.write(queue, 0, arena.allocateFrom(JAVA_INT, values));
      }
    }
    return b;
  }

  // ------------------------------------------------------------------ building

  private static final String BASE_OPTIONS = "-cl-std=CL1.2 -cl-fp32-correctly-rounded-divide-sqrt";

  private ClProgram build(String extra) {
    var options = (BASE_OPTIONS + " " + (extra == null ? "" : extra)).strip();
    try {
      return cached(options);
    } catch (ClBuildException e) {
      if (e.code() == ClStatus.CL_INVALID_BUILD_OPTIONS.code() && (extra == null || extra.isBlank())) {
        // A device without correctly rounded division may refuse the option; build without it.
        return cached("-cl-std=CL1.2");
      }
      throw explain(e);
    }
  }

  private ClProgram cached(String options) {
    var key = JavaSourceCompiler.hash(source.source() + "\n" + device.name() + "\n" + device.driverVersion()
        + "\n" + device.platform().version() + "\n" + options);
    var program = PROGRAMS.get(key);
    if (program != null) {
      return program;
    }
    var file = cacheDir().resolve(key + ".bin");
    if (Files.isRegularFile(file)) {
      try {
        program = context.loadProgram(Files.readAllBytes(file), options);
      } catch (IOException | RuntimeException e) {
        program = null;
      }
    }
    if (program == null) {
      program = context.buildProgram(source.source(), options);
      try {
        Files.createDirectories(file.getParent());
        AtomicFiles.write(file, program.binary());
      } catch (IOException | RuntimeException e) {
        // The disk cache is best effort.
      }
    }
    PROGRAMS.put(key, program);
    return program;
  }

  static Path cacheDir() {
    var env = System.getenv("OPTC_CACHE");
    var base = env != null && !env.isBlank() ? Path.of(env)
        : Path.of(System.getProperty("user.home"), ".cache", "optc");
    return base.resolve("opencl");
  }

  private static final Pattern LOCATION = Pattern.compile("\\.cl:(\\d+):(\\d+)\\b");

  /** The build log with each error's generated line and the DSL statement it belongs to. */
  private OptcException explain(ClBuildException e) {
    var lines = source.source().split("\n", -1);
    var sb = new StringBuilder("OpenCL build of " + plan.program().name() + " failed on " + device.name()
        + ": " + ClStatus.nameOf(e.code()));
    for (var logLine : e.buildLog().split("\n")) {
      var m = LOCATION.matcher(logLine);
      if (!logLine.contains("error") || !m.find()) {
        continue;
      }
      int line = Integer.parseInt(m.group(1));
      sb.append("\n  ").append(logLine.strip());
      if (line >= 1 && line <= lines.length) {
        sb.append("\n    generated line ").append(line).append(": ").append(lines[line - 1].strip());
        for (int i = line - 1; i >= 0; i--) {
          var l = lines[i].strip();
          if (l.startsWith("// ") && !l.startsWith("// u") && !l.startsWith("// Phase")) {
            sb.append("\n    from the statement: ").append(l.substring(3));
            break;
          }
          if (l.startsWith("__kernel")) {
            break;
          }
        }
      }
    }
    sb.append("\n(full build log follows)\n").append(e.buildLog().strip());
    return new OptcException(sb.toString(), e);
  }

  /** The generated OpenCL C this engine runs. */
  public String source() {
    return source.source();
  }

  public ClDevice device() {
    return device;
  }

  // ------------------------------------------------------------------ data in and out

  private ClBuffer buffer(String name) {
    var b = buffers.get(name);
    if (b == null) {
      throw new OptcException("no buffer '" + name + "' in this optimizer");
    }
    return b;
  }

  @Override
  public void write(String name, int tensor, float[] values) {
    var b = buffer(name);
    var kind = kinds.get(name);
    int len = layout.length(kind, tensor);
    if (values.length != len) {
      throw new OptcException(name + " of tensor '" + layout.tensors().get(tensor).name() + "' has " + len
          + " values, not " + values.length);
    }
    if (len == 0) {
      return;
    }
    long offset = (long) layout.offset(kind, tensor) * dtypes.get(name).bytes();
    switch (dtypes.get(name)) {
      case F32 -> b.write(queue, offset, values);
      case BF16, F16 -> {
        try (var arena = Arena.ofConfined()) {
          var seg = arena.allocate(JAVA_SHORT, len);
          for (int i = 0; i < len; i++) {
            seg.setAtIndex(JAVA_SHORT, i, dtypes.get(name) == Dtype.BF16 ? Dtype.floatToBf16(values[i])
                : Float.floatToFloat16(values[i]));
          }
          b.write(queue, offset, seg);
        }
      }
    }
  }

  @Override
  public void read(String name, int tensor, float[] out) {
    var b = buffer(name);
    var kind = kinds.get(name);
    int len = layout.length(kind, tensor);
    if (len == 0) {
      return;
    }
    long offset = (long) layout.offset(kind, tensor) * dtypes.get(name).bytes();
    switch (dtypes.get(name)) {
      case F32 -> {
        if (out.length == len) {
          b.read(queue, offset, out);
        } else {
          var tmp = new float[len];
          b.read(queue, offset, tmp);
          System.arraycopy(tmp, 0, out, 0, len);
        }
      }
      case BF16, F16 -> {
        try (var arena = Arena.ofConfined()) {
          var seg = arena.allocate(JAVA_SHORT, len);
          b.read(queue, offset, seg);
          for (int i = 0; i < len; i++) {
            short s = seg.getAtIndex(JAVA_SHORT, i);
            out[i] = dtypes.get(name) == Dtype.BF16 ? Dtype.bf16ToFloat(s) : Float.float16ToFloat(s);
          }
        }
      }
    }
  }

  /**
   * Uses a caller's {@code cl_mem} (made in this engine's context, e.g. by a training framework that keeps
   * gradients on the device) as the whole arena of {@code w} or {@code g}, without a copy. The caller
   * keeps ownership; the engine takes a reference and gives it back on close.
   */
  public void adopt(String name, MemorySegment clMem) {
    if (!name.equals("w") && !name.equals("g")) {
      throw new OptcException("only w and g can be adopted, not '" + name + "'");
    }
    var wrapped = context.wrapBuffer(clMem);
    long need = 4L * layout.arenaLength(Kind.ELEM);
    if (wrapped.size() < need) {
      wrapped.close();
      throw new OptcException("the cl_mem for " + name + " has " + wrapped.size() + " bytes; this group needs "
          + need);
    }
    owned.add(wrapped);
    buffers.put(name, wrapped);
  }

  /** The context buffers must be made in to be {@link #adopt}ed. */
  public ClContext context() {
    return context;
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
      uniforms.write(queue, 0, table);
    }
    for (var phase : plan.phases()) {
      var swapped = new ArrayList<String>();
      for (var launch : launches.get(phase.index())) {
        bind(launch, swapped);
        run(launch);
      }
      for (var name : swapped) {
        var old = buffers.get(name);
        buffers.put(name, nextCopies.get(name));
        nextCopies.put(name, old);
      }
    }
    if (!wantReductions || reduced.length == 0) {
      queue.finish();
      return null;
    }
    var out = new double[reduced.length][];
    for (int k = 0; k < reduced.length; k++) {
      var values = new float[layout.arenaLength(plan.reductions().get(k).kind())];
      if (values.length > 0) {
        reduced[k].read(queue, 0, values);
      }
      out[k] = new double[values.length];
      for (int i = 0; i < values.length; i++) {
        out[k][i] = values[i];
      }
    }
    return out;
  }

  private void bind(Launch launch, List<String> swapped) {
    var kernel = launch.kernel();
    var args = launch.info().args();
    for (int i = 0; i < args.size(); i++) {
      switch (args.get(i)) {
        case CEmitter.Arg.Chunks c -> kernel.setArg(i, chunks);
        case CEmitter.Arg.Segments s -> kernel.setArg(i, segments);
        case CEmitter.Arg.Uniforms u -> kernel.setArg(i, uniforms);
        case CEmitter.Arg.UniformCount n -> kernel.setArg(i, plan.program().hoisted().size());
        case CEmitter.Arg.ChunkSize n -> kernel.setArg(i, chunkSize);
        case CEmitter.Arg.SegmentCount n -> kernel.setArg(i, layout.segments().size());
        case CEmitter.Arg.GroupCount n -> kernel.setArg(i, layout.groups());
        case CEmitter.Arg.SegmentChunks c -> kernel.setArg(i, segmentChunks);
        case CEmitter.Arg.GroupSegments g -> kernel.setArg(i, groupSegments);
        case CEmitter.Arg.LineCount n -> kernel.setArg(i, lines(launch.info()));
        case CEmitter.Arg.Buffer b -> {
          if (b.next()) {
            kernel.setArg(i, nextCopies.get(b.name()));
            if (!swapped.contains(b.name()) && launch.info().launch() == CEmitter.Launch.CHUNKS) {
              swapped.add(b.name());
            }
          } else {
            kernel.setArg(i, buffer(b.name()));
          }
        }
        case CEmitter.Arg.Reduced r -> kernel.setArg(i, reduced[r.slot()]);
        case CEmitter.Arg.Partials p -> kernel.setArg(i, partials[p.slot()]);
      }
    }
  }

  private int lines(CEmitter.Kernel k) {
    return k.launch() == CEmitter.Launch.ROWS ? layout.arenaLength(Kind.ROW) : layout.arenaLength(Kind.COL);
  }

  private void run(Launch launch) {
    switch (launch.info().launch()) {
      case CHUNKS -> {
        if (chunkCount > 0) {
          queue.dispatch(launch.kernel(), (long) chunkCount * localSize, localSize);
        }
      }
      case COMBINE -> {
        int n = Math.max(layout.segments().size(), layout.groups());
        if (n > 0) {
          queue.dispatch(launch.kernel(), ClQueue.roundUp(n, 64), 0);
        }
      }
      case ROWS, COLS -> {
        int n = lines(launch.info());
        if (n > 0) {
          queue.dispatch(launch.kernel(), ClQueue.roundUp(n, 64), 0);
        }
      }
    }
  }

  @Override
  public void close() {
    for (var l : launches) {
      for (var launch : l) {
        launch.kernel().close();
      }
    }
    launches.clear();
    try {
      queue.finish();
    } catch (RuntimeException e) {
      // Closing after a device error: release what we hold anyway.
    }
    owned.forEach(ClBuffer::close);
    owned.clear();
  }
}
