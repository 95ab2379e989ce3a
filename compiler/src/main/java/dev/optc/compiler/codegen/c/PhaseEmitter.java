package dev.optc.compiler.codegen.c;

import dev.optc.compiler.codegen.KernelAbi.Arg;
import dev.optc.compiler.codegen.KernelAbi.Kernel;
import dev.optc.compiler.codegen.KernelAbi.Launch;
import dev.optc.compiler.codegen.KernelAbi.SegmentField;
import dev.optc.compiler.codegen.ValueNames;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import dev.optc.compiler.ir.Infix;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.ir.UnaryOp;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes the kernels of one phase from its {@link PhaseAnalysis}: the chunk kernel (writes and sums over
 * elements), the combine kernel of those sums, and the row and column kernels, each by filling a
 * {@link Skeletons} text block. Identifiers are given on first use ({@link Names}), in the order the
 * values are computed.
 */
final class PhaseEmitter {
  /** Kernels with more buffer parameters than this declare them without restrict. */
  static final int RESTRICT_MAX = 64;

  private final Plan plan;
  private final IrProgram program;
  private final KernelConfig config;
  private final Dialect d;
  private final Expressions ops;
  private final Buffers buffers;
  private final PhaseAnalysis analysis;
  private final Plan.Phase phase;
  private final String prefix;
  private final Map<Node, Integer> statementOf;
  private final Names names = new Names();
  private final ValueNames suggestions;
  private final Map<Node, String> locals = new HashMap<>();
  /** Per quantized state this phase stores: the local of an element's new value, and the span's local array. */
  private final Map<String, QuantLocals> quantLocals = new LinkedHashMap<>();

  private record QuantLocals(String value, String span) {}

  PhaseEmitter(Plan plan, KernelConfig config, Buffers buffers, PhaseAnalysis analysis, String prefix,
      Map<Node, Integer> statementOf) {
    this.plan = plan;
    this.program = plan.program();
    this.config = config;
    this.d = config.dialect();
    this.ops = new Expressions(d);
    this.buffers = buffers;
    this.analysis = analysis;
    this.phase = analysis.phase();
    this.prefix = prefix;
    this.statementOf = statementOf;
    this.suggestions = new ValueNames(program);
  }

  /** Appends the phase's kernels to {@code src} and their descriptions to {@code kernels}. */
  void emit(StringBuilder src, List<Kernel> kernels) {
    analysis.chunk().ifPresent(k -> {
      kernels.add(chunkKernel(k, src));
      if (!k.reductions().isEmpty()) {
        kernels.add(combineKernel(k.reductions(), src));
      }
    });
    for (var line : analysis.lines()) {
      locals.clear();
      kernels.add(lineKernel(line, src));
    }
  }

  // ------------------------------------------------------------------ values

  /** C for the value of {@code n}: a read from memory, or its operation over its inputs' locals. */
  private String value(Node n, boolean lanes) {
    var read = analysis.read(n);
    if (read.isPresent()) {
      return read(read.get(), lanes);
    }
    return switch (n) {
      case Node.Const c -> Expressions.literal(c.value());
      case Node.Uniform u -> "optc_u[" + u.slot() + "]";
      case Node.Unary u -> ops.unary(u.op(), ref(u.x()));
      case Node.Binary b -> ops.binary(b.op(), ref(b.a()), ref(b.b()));
      case Node.Select s -> Expressions.select(ref(s.cond()), ref(s.a()), ref(s.b()));
      case Node.Hyper h -> throw new IllegalStateException("hyper " + h.name() + " was not hoisted");
      case Node.Step s -> throw new IllegalStateException("t was not hoisted");
      case Node.Size s -> throw new IllegalStateException("size was not hoisted");
      case Node.Load l -> throw new IllegalStateException("a load is always a read");
      case Node.Reduce r -> throw new IllegalStateException("a reduction is always a read");
      case Node.Product m -> throw new IllegalStateException("a product is always a read");
    };
  }

  private String read(PhaseAnalysis.Read read, boolean lanes) {
    return switch (read) {
      case PhaseAnalysis.Read.FromBuffer b -> {
        // A quad's lanes are loaded before the lane loop (under the same guard).
        var map = buffers.map(b.buffer());
        var text = lanes && b.kind().isEntry() ? names.lane(b.buffer()) + "[j]"
            : map != null ? "optc_qload_" + map + "(" + names.param(b.buffer()) + ", " + names.param(absmax(b.buffer()))
                + ", " + names.param(raw(b.buffer())) + ", optc_qsegs, optc_seg, i - optc_off)"
            : ops.load(buffers.dtype(b.buffer()), names.param(b.buffer()), Expressions.index(b.kind()));
        // Not needed while its flag is off: then the memory is not touched at all.
        yield b.guard().map(g -> Expressions.guarded(condition(g), text)).orElse(text);
      }
      case PhaseAnalysis.Read.FromReduction r -> "optc_red" + r.slot() + "[" + Expressions.index(r.kind()) + "]";
    };
  }

  /** The local holding {@code n}, or the literal of a constant. */
  private String ref(Node n) {
    return n instanceof Node.Const c ? Expressions.literal(c.value()) : locals.get(n);
  }

  private String condition(Guards.Guard g) {
    return Expressions.condition(locals.get(g.cond()), g.whenNonZero());
  }

  /** Straight-line code computing {@code nodes} into locals, a comment before each statement. */
  private String body(List<Node> nodes, boolean lanes) {
    var sb = new StringBuilder();
    int last = -1;
    for (var n : nodes) {
      var s = statementOf.get(n);
      if (s != null && s != last && !(n instanceof Node.Uniform)) {
        sb.append("// ").append(program.bindings().get(s).span().text().replaceAll("\\s+", " ").strip()).append('\n');
        last = s;
      }
      var name = names.fresh(suggestions.suggest(n,
          n instanceof Node.Reduce r ? r.op().symbol() + plan.reductionSlot(r) : null));
      locals.put(n, name);
      sb.append("const float ").append(name).append(" = ").append(value(n, lanes)).append(';');
      if (n instanceof Node.Uniform u) {
        sb.append(" // ").append(Infix.print(program.hoisted().get(u.slot())));
      }
      sb.append('\n');
    }
    return sb.toString();
  }

  // ------------------------------------------------------------------ the chunk kernel

  private Kernel chunkKernel(PhaseAnalysis.ChunkKernel k, StringBuilder src) {
    var uniforms = body(k.perTensor(), false);
    var loopBody = body(k.perElement(), k.quads()) + writes(k) + accumulations(k);
    var sig = chunkSignature(k);
    var name = prefix + "_phase" + phase.index();
    var accumulators = new StringBuilder();
    var trees = new StringBuilder();
    for (var r : k.reductions()) {
      int slot = plan.reductionSlot(r);
      accumulators.append("optc_acc_t optc_acc").append(slot).append(" = 0, optc_comp").append(slot).append(" = 0;\n");
      trees.append(Skeletons.fill(Skeletons.TREE, "slot", "" + slot, "barrier", d.barrier(), "combine",
          r.op() == ReduceOp.MAXABS ? "optc_max_acc(optc_tree[optc_lid], optc_tree[optc_lid + h])"
              : "optc_tree[optc_lid] + optc_tree[optc_lid + h]"));
    }
    src.append(Skeletons.fill(Skeletons.CHUNK_KERNEL,
        "header", header(),
        "kernel", d.kernel(),
        "name", name,
        "params", sig.declarations(),
        "tree", k.reductions().isEmpty() ? ""
            : Skeletons.fill(Skeletons.TREE_MEMORY, "local", d.local(), "localId", d.localId()),
        "quantMemory", quantMemory(),
        "groupId", d.groupId(),
        "numGroups", d.numGroups(),
        "offset", field(SegmentField.OFFSET),
        "numel", field(SegmentField.NUMEL),
        "position", k.position() ? Skeletons.fill(Skeletons.CHUNK_POSITION, "cols", field(SegmentField.COLS),
            "rowOffset", field(SegmentField.ROW_OFFSET), "colOffset", field(SegmentField.COL_OFFSET)) : "",
        "global", d.globalPrefix(),
        "uniforms", uniforms,
        "accumulators", accumulators.toString(),
        "loop", k.quads() ? quadLoop(k, loopBody) : quantLocals.isEmpty() ? elementLoop(k, loopBody)
            : quantLoop(k, loopBody),
        "trees", trees.toString()));
    return new Kernel(name, phase.index(), Launch.CHUNKS, sig.args());
  }

  private Signature chunkSignature(PhaseAnalysis.ChunkKernel k) {
    var sig = new Signature();
    sig.add(d.pointer("int", true, "optc_chunks"), new Arg.Chunks());
    sig.add(d.pointer("int", true, "optc_segs"), new Arg.Segments());
    sig.add(d.pointer("float", true, "optc_uniforms"), new Arg.Uniforms());
    sig.add("const int optc_nu", new Arg.UniformCount());
    sig.add("const int optc_chunk", new Arg.ChunkSize());
    sig.add("const int optc_nchunks", new Arg.ChunkCount());
    if (k.quads()) {
      sig.add("const int optc_vec", new Arg.VectorAccess());
    }
    bufferParams(sig, k.readBuffers(), k.readReductions(), analysis.written());
    for (var r : k.reductions()) {
      int slot = plan.reductionSlot(r);
      sig.add(d.pointer("optc_acc_t", false, "optc_part" + slot), new Arg.Partials(slot, false));
    }
    return sig;
  }

  private String elementLoop(PhaseAnalysis.ChunkKernel k, String loopBody) {
    return Skeletons.fill(Skeletons.ELEMENT_LOOP, "localId", d.localId(), "localSize", d.localSize(),
        "position", k.position() ? Skeletons.ELEMENT_POSITION : "", "body", loopBody);
  }

  /** The local arrays of the quantized states this phase stores ({@link Skeletons#QUANT_MEMORY}). */
  private String quantMemory() {
    if (quantLocals.isEmpty()) {
      return "";
    }
    var values = new StringBuilder();
    quantLocals.values().forEach(l -> values.append(d.local()).append(" float ").append(l.span())
        .append("[OPTC_QSPAN];\n"));
    return Skeletons.fill(Skeletons.QUANT_MEMORY, "values", values.toString(), "local", d.local());
  }

  private String quantLoop(PhaseAnalysis.ChunkKernel k, String loopBody) {
    var newValues = new StringBuilder();
    var gather = new StringBuilder();
    var quantize = new StringBuilder();
    quantLocals.forEach((b, l) -> {
      newValues.append("float ").append(l.value()).append(" = 0.0f;\n");
      gather.append(l.span()).append("[optc_e] = ").append(l.value()).append(";\n");
      var map = buffers.map(b);
      var fill = new String[] {
          "localId", d.localId(),
          "localSize", d.localSize(),
          "map", map.toString(),
          "block", "" + map.block(),
          "blockMask", "" + (map.block() - 1),
          "values", l.span(),
          "codes", names.param(b),
          "absmax", names.param(absmax(b)),
          "ubyte", d.ubyte()};
      var codes = Skeletons.fill(map.bits() == 8 ? Skeletons.CODES_8 : Skeletons.CODES_4, fill);
      var text = Skeletons.fill(Skeletons.QUANTIZE, "localId", d.localId(), "localSize", d.localSize(),
          "raw", names.param(raw(b)), "values", l.span(), "abs", ops.unary(UnaryOp.ABS, l.span() + "[optc_e]"),
          "barrier", d.barrier(), "block", "" + map.block(), "blockMask", "" + (map.block() - 1), "codes", codes);
      // A guard is a uniform flag: the whole work-group takes the same branch, barriers included.
      var guard = analysis.guards().stores().get(b);
      quantize.append(guard == null ? text
          : "if (" + condition(guard) + ") {\n" + text.indent(2) + "}\n");
    });
    return Skeletons.fill(Skeletons.QUANT_LOOP, "localId", d.localId(), "localSize", d.localSize(),
        "newValues", newValues.toString(), "position", k.position() ? Skeletons.ELEMENT_POSITION : "",
        "body", loopBody, "gather", gather.toString(), "barrier", d.barrier(), "quantize", quantize.toString());
  }

  /** The buffer of quantized state {@code state}'s block absmax values (as the engines name it). */
  private static String absmax(String state) {
    return JavaEmitter.absmaxName(state);
  }

  /** The buffer of quantized state {@code state}'s float32 values (tensors below the threshold). */
  private static String raw(String state) {
    return JavaEmitter.rawName(state);
  }

  private String quadLoop(PhaseAnalysis.ChunkKernel k, String loopBody) {
    var quad = ", optc_i0, optc_lo, optc_hi, optc_whole);\n";
    var loads = new StringBuilder();
    k.laneLoads().forEach((buffer, guard) -> {
      var lane = names.lane(buffer);
      loads.append("float ").append(lane).append("[4];\n")
          .append(guard.map(g -> "if (" + condition(g) + ") ").orElse(""))
          .append("optc_ld4(").append(lane).append(", ").append(names.param(buffer)).append(quad);
    });
    var storeLanes = new StringBuilder();
    var stores = new StringBuilder();
    var declared = new HashSet<String>();
    for (var w : phase.writes()) {
      var b = Plan.bufferOf(w.location());
      var target = names.param(b);
      if (declared.add(target)) {
        storeLanes.append("float ").append(names.storeLane(target)).append("[4];\n");
      }
      var guard = analysis.guards().stores().get(b);
      stores.append(guard == null ? "" : "if (" + condition(guard) + ") ")
          .append("optc_st4(").append(target).append(", ").append(names.storeLane(target)).append(quad);
    }
    return Skeletons.fill(Skeletons.QUAD_LOOP, "localId", d.localId(), "localSize", d.localSize(),
        "loads", loads.toString(), "storeLanes", storeLanes.toString(), "body", loopBody, "stores", stores.toString());
  }

  /** The phase's stores: into the lane arrays in a quad loop, else each at its entry, once per entry. */
  private String writes(PhaseAnalysis.ChunkKernel k) {
    var sb = new StringBuilder();
    for (var w : phase.writes()) {
      var b = Plan.bufferOf(w.location());
      var kind = buffers.kind(w.location());
      var target = analysis.doubled().contains(b) ? names.next(b) : names.param(b);
      var value = ref(w.value());
      if (k.quads()) {
        sb.append(names.storeLane(target)).append("[j] = ").append(value).append(";\n");
        continue;
      }
      if (buffers.map(b) != null) {
        // Gathered for the span's quantization, which tests the store's guard (quantLoop).
        var l = quantLocals.computeIfAbsent(b, x -> new QuantLocals(names.fresh(target + "_new"),
            names.fresh(target + "_span")));
        sb.append(l.value()).append(" = ").append(value).append(";\n");
        continue;
      }
      var once = switch (kind) {
        case ELEM, RR, CC -> {
          var guard = analysis.guards().stores().get(b);
          yield guard == null ? "" : "if (" + condition(guard) + ") ";
        }
        case ROW -> "if (c == 0) ";
        case COL -> "if (r == 0) ";
        case UNIFORM, CONST -> "if (k == 0) ";
      };
      sb.append(once).append(ops.store(buffers.dtype(b), target, Expressions.index(kind), value)).append('\n');
    }
    return sb.toString();
  }

  /** Each work-item's running reductions over its elements. */
  private String accumulations(PhaseAnalysis.ChunkKernel k) {
    var sb = new StringBuilder();
    for (var r : k.reductions()) {
      int slot = plan.reductionSlot(r);
      var x = ref(r.x());
      // A row (column) value has one entry per row (column): count it once, at the first column (row).
      var once = k.quads() ? "if (optc_i0 + j >= optc_lo && optc_i0 + j < optc_hi) " : switch (r.x().kind()) {
        case ROW -> "if (c == 0) ";
        case COL -> "if (r == 0) ";
        case ELEM, RR, CC, UNIFORM, CONST -> "";
      };
      var acc = "optc_acc" + slot;
      var update = r.op() == ReduceOp.MAXABS ? acc + " = optc_max_acc(" + acc + ", " + ops.unary(UnaryOp.ABS, x) + ");"
          : config.accumulation() == Accumulation.DOUBLE ? acc + " += " + x + ";"
          // In float a long run of additions loses the small terms: compensate.
          : "optc_kahan_add(&" + acc + ", &optc_comp" + slot + ", " + x + ");";
      sb.append(once).append(update).append('\n');
    }
    return sb.toString();
  }

  // ------------------------------------------------------------------ combine and line kernels

  private Kernel combineKernel(List<Node.Reduce> reductions, StringBuilder src) {
    var sig = new Signature();
    sig.add(d.pointer("int", true, "optc_seg_chunks"), new Arg.SegmentChunks());
    sig.add(d.pointer("int", true, "optc_group_segs"), new Arg.GroupSegments());
    sig.add("const int optc_nsegs", new Arg.SegmentCount());
    sig.add("const int optc_ngroups", new Arg.GroupCount());
    var combines = new StringBuilder();
    for (var r : reductions) {
      int slot = plan.reductionSlot(r);
      sig.add(d.pointer("optc_acc_t", true, "optc_part" + slot), new Arg.Partials(slot, true));
      sig.add(d.pointer("float", false, "optc_red" + slot), new Arg.Reduced(slot, false));
      var skeleton = switch (r.op()) {
        case SUM -> Skeletons.COMBINE_SUM;
        case MAXABS -> Skeletons.COMBINE_MAXABS;
        case GLOBAL_SUM -> Skeletons.COMBINE_GLOBAL_SUM;
        case ROWSUM, COLSUM -> throw new IllegalStateException("line reductions are not combined");
      };
      combines.append(Skeletons.fill(skeleton, "part", "optc_part" + slot, "result", "optc_red" + slot));
    }
    var name = prefix + "_phase" + phase.index() + "_combine";
    src.append(Skeletons.fill(Skeletons.COMBINE_KERNEL, "phase", "" + phase.index(), "kernel", d.kernel(),
        "name", name, "params", sig.declarations(), "globalId", d.globalId(), "combines", combines.toString()));
    return new Kernel(name, phase.index(), Launch.COMBINE, sig.args());
  }

  private Kernel lineKernel(PhaseAnalysis.LineKernel line, StringBuilder src) {
    boolean rows = line.op() == ReduceOp.ROWSUM;
    var loopBody = new StringBuilder(body(line.nodes(), false));
    var accumulators = new StringBuilder();
    var results = new StringBuilder();
    for (var r : line.reductions()) {
      int slot = plan.reductionSlot(r);
      loopBody.append("optc_kahan_add(&optc_acc").append(slot).append(", &optc_comp").append(slot).append(", ")
          .append(ref(r.x())).append(");\n");
      accumulators.append("optc_acc_t optc_acc").append(slot).append(" = 0, optc_comp").append(slot).append(" = 0;\n");
      results.append("optc_red").append(slot).append('[').append(Expressions.index(rows ? Kind.ROW : Kind.COL))
          .append("] = (float) optc_acc").append(slot).append(";\n");
    }
    var sig = lineSignature(line);
    var name = prefix + "_phase" + phase.index() + (rows ? "_rows" : "_cols");
    src.append(Skeletons.fill(Skeletons.LINE_KERNEL,
        "phase", "" + phase.index(),
        "what", rows ? "row sums, one work-item per row" : "column sums, one work-item per column",
        "kernel", d.kernel(),
        "name", name,
        "params", sig.declarations(),
        "globalId", d.globalId(),
        "lineOffset", (rows ? SegmentField.ROW_OFFSET : SegmentField.COL_OFFSET).read("optc_segs", "mid"),
        "offset", field(SegmentField.OFFSET),
        "rows", field(SegmentField.ROWS),
        "cols", field(SegmentField.COLS),
        "rowOffset", field(SegmentField.ROW_OFFSET),
        "colOffset", field(SegmentField.COL_OFFSET),
        "global", d.globalPrefix(),
        "accumulators", accumulators.toString(),
        "fixed", rows ? "r" : "c",
        "fixedOffset", rows ? "optc_row_off" : "optc_col_off",
        "moving", rows ? "c" : "r",
        "extent", rows ? "optc_cols" : "optc_rows",
        "body", loopBody.toString(),
        "results", results.toString()));
    return new Kernel(name, phase.index(), rows ? Launch.ROWS : Launch.COLS, sig.args());
  }

  // ------------------------------------------------------------------ signatures

  private Signature lineSignature(PhaseAnalysis.LineKernel line) {
    var sig = new Signature();
    sig.add(d.pointer("int", true, "optc_segs"), new Arg.Segments());
    sig.add(d.pointer("float", true, "optc_uniforms"), new Arg.Uniforms());
    sig.add("const int optc_nu", new Arg.UniformCount());
    sig.add("const int optc_nsegs", new Arg.SegmentCount());
    sig.add("const int optc_lines", new Arg.LineCount());
    // Line kernels write only their reductions' results: no buffer is passed as written.
    bufferParams(sig, line.readBuffers(), line.readReductions(), Set.of());
    for (var r : line.reductions()) {
      int slot = plan.reductionSlot(r);
      sig.add(d.pointer("float", false, "optc_red" + slot), new Arg.Reduced(slot, false));
    }
    return sig;
  }

  /** The current segment's {@code field}. */
  private static String field(SegmentField field) {
    return field.read("optc_segs", "optc_seg");
  }

  private String header() {
    var sb = new StringBuilder("// Phase ").append(phase.index()).append(" of ").append(plan.phases().size());
    if (phase.label() != null) {
      sb.append(" (").append(phase.label()).append(")");
    }
    if (!phase.writes().isEmpty()) {
      sb.append(": writes ").append(String.join(", ", phase.writes().stream()
          .map(w -> Plan.bufferOf(w.location()).replace("%", "")).toList()));
    }
    if (!phase.reductions().isEmpty()) {
      sb.append(phase.writes().isEmpty() ? ": " : "; ").append("reduces ").append(String.join(", ",
          phase.reductions().stream().map(r -> Infix.print(r, 4)).toList()));
    }
    return sb.append('\n').toString();
  }

  /** The parameters of the buffers a kernel reads or writes, in buffer order, then of the reductions it reads. */
  private void bufferParams(Signature sig, Set<String> readBuffers, Set<Integer> readReductions, Set<String> written) {
    var touched = buffers.order().stream().filter(b -> readBuffers.contains(b) || written.contains(b)).toList();
    // restrict on every pointer costs the device compiler time quadratic in their number (LLVM's
    // noalias scopes: a 400-state kernel took PoCL 7.0 s with it, 2.0 s without); a kernel this wide
    // is bound by memory, not by what aliasing information buys.
    boolean restricted = touched.size() <= RESTRICT_MAX;
    if (touched.stream().anyMatch(b -> buffers.map(b) != null)) {
      sig.add(d.pointer("int", true, "optc_qsegs"), new Arg.QuantSegments());
    }
    for (var b : touched) {
      var type = ops.storage(buffers.dtype(b));
      if (buffers.map(b) != null) {
        // Codes, block absmax values and float32 values of small tensors: written together, by whole blocks.
        boolean readOnly = !written.contains(b);
        sig.add(d.pointer(type, readOnly, names.param(b), restricted), new Arg.Buffer(b, readOnly, false));
        for (var part : List.of(absmax(b), raw(b))) {
          sig.add(d.pointer("float", readOnly, names.param(part), restricted), new Arg.Buffer(part, readOnly, false));
        }
        continue;
      }
      if (analysis.doubled().contains(b)) {
        sig.add(d.pointer(type, true, names.param(b), restricted), new Arg.Buffer(b, true, false));
        sig.add(d.pointer(type, false, names.next(b), restricted), new Arg.Buffer(b, false, true));
      } else {
        boolean readOnly = !written.contains(b);
        sig.add(d.pointer(type, readOnly, names.param(b), restricted), new Arg.Buffer(b, readOnly, false));
      }
    }
    for (int slot : readReductions) {
      sig.add(d.pointer("float", true, "optc_red" + slot), new Arg.Reduced(slot, true));
    }
  }

  /** A kernel's parameter declarations and, in step, what the host binds to each. */
  private static final class Signature {
    private final List<String> declarations = new ArrayList<>();
    private final List<Arg> args = new ArrayList<>();

    void add(String declaration, Arg arg) {
      declarations.add(declaration);
      args.add(arg);
    }

    String declarations() {
      return String.join(",\n    ", declarations);
    }

    List<Arg> args() {
      return List.copyOf(args);
    }
  }
}
