package dev.optc.compiler.codegen.c;

import dev.optc.compiler.codegen.KernelAbi.Arg;
import dev.optc.compiler.codegen.KernelAbi.Kernel;
import dev.optc.compiler.codegen.KernelAbi.Launch;
import dev.optc.compiler.codegen.KernelAbi.SegmentField;
import dev.optc.compiler.codegen.Literals;
import dev.optc.compiler.codegen.ValueNames;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.Infix;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Generates fused device kernels for a plan in a C-family language; a {@link Dialect} supplies what
 * differs between OpenCL C and CUDA C.
 *
 * <p>Work is split into chunks: the host lists {@code (tensor, first element)} pairs, one per
 * {@code optc_chunk} elements, and each work-group processes chunks of one tensor at a time, striding
 * over the chunk list by the number of groups launched (the host sizes the grid to the device: the
 * SM count on CUDA), so one launch covers a whole parameter group whatever its number of tensors, and a
 * work-item finds its tensor's offsets, sizes and uniforms through the segment table in O(1). Every
 * value is computed per element; a row, column or per-tensor value is computed from its own inputs where it
 * is needed (cheap next to memory traffic). Row, column and scalar results are written by the work-item of
 * the row's first column, the column's first row, or the tensor's first element.
 *
 * <p>With vector access on (CUDA's default), a purely elementwise phase on float32 buffers works in
 * quads: each work-item takes four consecutive elements at a multiple of four, reads each buffer with one
 * 16-byte load and writes with one 16-byte store where the quad lies inside its chunk and the host says the
 * buffers are 16-byte aligned ({@code optc_vec}), element by element otherwise (a tensor's ends), and
 * computes the four lanes with the same scalar code; a sum over elements adds the lanes inside the chunk.
 *
 * <p>Reductions: per-tensor and group sums accumulate per work-item, then per work-group in local
 * memory (a fixed tree), each group writing one partial per chunk; a combine kernel adds a tensor's (or a
 * group's) partials in chunk order with compensated summation. Row and column sums run in kernels of
 * their own, one work-item per row or column, compensated. The order of every addition depends only on
 * the sizes and the work-group size, so results are bit-identical run to run on one device.
 */
public final class CEmitter {
  /** Generated source and what the host needs to run it. */
  public record Program(String source, List<Kernel> kernels, Set<String> doubleBuffered) {
    public List<Kernel> kernels(int phase) {
      return kernels.stream().filter(k -> k.phase() == phase).toList();
    }
  }

  private final Plan plan;
  private final IrProgram program;
  private final Dialect d;
  private final Map<Node, Integer> statementOf = new HashMap<>();
  private final String prefix;
  /** The type reductions accumulate in: double where the device has it, else float (compensated). */
  private final String acc;
  private final boolean vectorize;
  /** w, g, the states, then the plan's temporaries: the order of buffer parameters. */
  private final List<String> bufferOrder = new ArrayList<>();
  private final Map<String, IrProgram.StateInfo> states = new HashMap<>();

  /** Kernels with more buffer parameters than this declare them without restrict. */
  static final int RESTRICT_MAX = 64;

  private CEmitter(Plan plan, Dialect dialect, boolean doubleAccumulation, boolean vectorize) {
    this.acc = doubleAccumulation ? "double" : "float";
    this.vectorize = vectorize;
    this.plan = plan;
    this.program = plan.program();
    this.d = dialect;
    statementOf.putAll(ValueNames.statements(program));
    program.states().forEach(s -> states.put(s.name(), s));
    bufferOrder.addAll(List.of("w", "g"));
    program.states().forEach(s -> bufferOrder.add(s.name()));
    for (int i = 0; i < plan.temps().size(); i++) {
      bufferOrder.add(Plan.tempName(i));
    }
    var clean = program.name().replaceAll("[^A-Za-z0-9_]", "_");
    this.prefix = clean.isEmpty() || Character.isDigit(clean.charAt(0)) ? "opt_" + clean : clean;
  }

  /**
   * @param localSize the work-group size of chunk kernels, a power of two; reductions use it as the
   *     size of their tree
   */
  public static Program emit(Plan plan, Dialect dialect, int localSize) {
    return emit(plan, dialect, localSize, false);
  }

  /**
   * @param doubleAccumulation accumulate reductions in double (the device must support it), as the
   *     Java reference does: sums then match it to float32 rounding even where terms cancel
   */
  public static Program emit(Plan plan, Dialect dialect, int localSize, boolean doubleAccumulation) {
    return emit(plan, dialect, localSize, doubleAccumulation, dialect.quadsByDefault());
  }

  /**
   * @param vectorize work in quads with 16-byte accesses in elementwise float32 phases (the dialect's
   *     {@link Dialect#quadsByDefault} unless given)
   */
  public static Program emit(Plan plan, Dialect dialect, int localSize, boolean doubleAccumulation,
      boolean vectorize) {
    if (Integer.bitCount(localSize) != 1) {
      throw new IllegalArgumentException("local size must be a power of two, not " + localSize);
    }
    return new CEmitter(plan, dialect, doubleAccumulation, vectorize).program(localSize);
  }

  private Program program(int localSize) {
    var src = new StringBuilder();
    src.append("// Generated by optc from ").append(program.source().name()).append(" (fusion ")
        .append(plan.fusion().label()).append(", ").append(d.name()).append("). Do not edit: change the ")
        .append(".opt file instead.\n");
    src.append(d.prelude());
    if (acc.equals("double")) {
      src.append(d.fp64Enable());
    }
    src.append("#define OPTC_LOCAL ").append(localSize).append('\n');
    src.append("// Reductions accumulate in ").append(acc).append(".\n");
    src.append("typedef ").append(acc).append(" optc_acc_t;\n");
    src.append(prelude());
    for (int i = 0; i < program.hoisted().size(); i++) {
      src.append("// u").append(i).append(" = ").append(Infix.print(program.hoisted().get(i))).append('\n');
    }
    var kernels = new ArrayList<Kernel>();
    var doubled = new LinkedHashSet<String>();
    for (var phase : plan.phases()) {
      var pe = new PhaseEmitter(phase);
      pe.emit(src, kernels);
      doubled.addAll(pe.doubled);
    }
    return new Program(src.toString(), kernels, doubled);
  }

  private String prelude() {
    var bits = String.format(d.floatBits(), "f");
    var floatOf = String.format(d.bitsFloat(), "((unsigned int) b) << 16");
    return """
        #define OPTC_SEG %d
        // sign(±0) = +0 and sign(NaN) = 0, as torch.sign and the Java reference define it; no branches.
        %8$s float optc_sign(float x) { return (float) ((x > 0.0f) - (x < 0.0f)); }
        // min and max propagate NaN, like torch.minimum/maximum and Java's Math.min/max.
        %8$s float optc_min(float a, float b) { return (a != a || b != b) ? a + b : (a < b ? a : b); }
        %8$s float optc_max(float a, float b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
        %8$s optc_acc_t optc_max_acc(optc_acc_t a, optc_acc_t b) { return (a != a || b != b) ? a + b : (a > b ? a : b); }
        // Compensated (Kahan) summation: adds x to the sum *s, carrying in *c what the rounding of *s lost.
        %8$s void optc_kahan_add(optc_acc_t* s, optc_acc_t* c, const optc_acc_t x) {
          const optc_acc_t y = x - *c;
          const optc_acc_t t = *s + y;
          *c = (t - *s) - y;
          *s = t;
        }
        %8$s float optc_bool(int c) { return c ? 1.0f : 0.0f; }
        // bf16 storage: the top 16 bits of a float, rounded to nearest even.
        %8$s float optc_from_bf16(%s b) { return %s; }
        %8$s %s optc_to_bf16(float f) {
          unsigned int u = %s;
          if (f != f) return (%s) ((u >> 16) | 0x40u);
          return (%s) ((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
        }
        """.formatted(SegmentField.COUNT, d.ushort(), floatOf, d.ushort(), bits, d.ushort(), d.ushort(), d.helper())
        + (vectorize ? quadHelpers() : "");
  }

  /** Loads and stores of the four elements from {@code i0} (a multiple of 4) for quad kernels. */
  private String quadHelpers() {
    return """
        // Quads: the four elements from i0, a multiple of 4. One 16-byte access when the quad lies within
        // [lo, hi) and the buffers allow it (whole), else element by element, 0 outside [lo, hi).
        %1$s void optc_ld4(float* v, %2$s, const int i0, const int lo, const int hi, const int whole) {
          if (whole) {
            const float4 t = %3$s;
            v[0] = t.x; v[1] = t.y; v[2] = t.z; v[3] = t.w;
          } else {
            for (int j = 0; j < 4; j++) v[j] = (i0 + j >= lo && i0 + j < hi) ? p[i0 + j] : 0.0f;
          }
        }
        %1$s void optc_st4(%4$s, const float* v, const int i0, const int lo, const int hi, const int whole) {
          if (whole) {
            %5$s;
          } else {
            for (int j = 0; j < 4; j++) if (i0 + j >= lo && i0 + j < hi) p[i0 + j] = v[j];
          }
        }
        """.formatted(d.helper(), d.pointer("float", true, "p"), String.format(d.load4(), "p + i0"),
        d.pointer("float", false, "p"),
        String.format(d.store4(), "p + i0", String.format(d.float4(), "v[0], v[1], v[2], v[3]")));
  }

  private String literal(double v) {
    return Literals.C_FLOAT.f32(v);
  }

  private static String bufferOf(Plan.Location at) {
    return Plan.bufferOf(at);
  }

  private Kind kindOf(Plan.Location at) {
    return switch (at) {
      case Plan.Location.Buffer b -> b.name().equals("w") ? Kind.ELEM : states.get(b.name()).shape().kind();
      case Plan.Location.Temp t -> t.kind();
    };
  }

  private Dtype dtypeOf(String buffer) {
    return buffer.equals("w") || buffer.equals("g") || Plan.isTemp(buffer) ? Dtype.F32
        : states.get(buffer).dtype();
  }

  private Kind bufferKind(String buffer) {
    return buffer.equals("w") || buffer.equals("g") ? Kind.ELEM
        : Plan.isTemp(buffer) ? plan.temps().get(Integer.parseInt(buffer.substring(4)))
        : states.get(buffer).shape().kind();
  }

  /** Emits the kernels of one phase. */
  private final class PhaseEmitter {
    private final Plan.Phase phase;
    private final Map<Node, String> local = new HashMap<>();
    private final Set<String> used = new HashSet<>();
    private final Map<String, String> bufferParam = new LinkedHashMap<>();
    private final Set<String> written = new LinkedHashSet<>();
    private final Set<String> doubled = new LinkedHashSet<>();
    private final ValueNames names = new ValueNames(program);
    private final Guards.PhaseGuards guards;
    private boolean needsRow;
    private boolean needsCol;
    /** Whether the element code being generated is the lane loop of a quad kernel. */
    private boolean lanes;
    /** Per-element buffers the lane loop reads: their lane array's name, then their load guard ("" none). */
    private final Map<String, String> laneArrays = new LinkedHashMap<>();
    private final Map<String, String> laneGuards = new HashMap<>();
    /** Store targets of the lane loop: the parameter and its lane array's name. */
    private final Map<String, String> laneStores = new LinkedHashMap<>();

    PhaseEmitter(Plan.Phase phase) {
      this.phase = phase;
      this.guards = Guards.of(plan, phase);
      for (var w : phase.writes()) {
        written.add(bufferOf(w.location()));
      }
      var roots = new ArrayList<Node>();
      phase.writes().forEach(w -> roots.add(w.value()));
      phase.reductions().forEach(r -> roots.add(r.x()));
      for (var b : written) {
        if (!Plan.isTemp(b) && Planner.racesWithLoad(program, b, roots)) {
          doubled.add(b);
        }
      }
    }

    private String identifier(String base) {
      var clean = base.replaceAll("[^A-Za-z0-9_]", "_");
      var name = clean;
      for (int n = 2; used.contains(name) || name.startsWith("optc_") || RESERVED.contains(name); n++) {
        name = clean + "_" + n;
      }
      used.add(name);
      return name;
    }

    private String param(String buffer) {
      return bufferParam.computeIfAbsent(buffer, b -> identifier(Plan.isTemp(b) ? b.substring(1) : b));
    }

    /** The parameter of the second copy of a double-buffered buffer. */
    private String nextParam(String buffer) {
      var base = param(buffer);
      return bufferParam.computeIfAbsent(buffer + "@next", b -> identifier(base + "_next"));
    }

    private String nameFor(Node n) {
      return identifier(names.suggest(n, n instanceof Node.Reduce r ? r.op().symbol() + plan.reductionSlot(r) : null));
    }

    /** Lane {@code j} of buffer {@code b}'s quad, loaded before the lane loop under {@code guard}. */
    private String laneRead(String b, String guard) {
      var g = guard == null ? "" : guard;
      var prev = laneGuards.putIfAbsent(b, g);
      if (prev != null && !prev.equals(g)) {
        laneGuards.put(b, "");
      }
      return laneArrays.computeIfAbsent(b, x -> identifier(param(x) + "_l")) + "[j]";
    }

    /** Reads element/row/column/tensor value of a buffer at the current position. */
    private String element(String buffer, Kind kind) {
      if (lanes && kind == Kind.ELEM) {
        return laneRead(buffer, null);
      }
      var p = param(buffer);
      String index = switch (kind) {
        case ELEM -> "i";
        case ROW -> {
          needsRow = true;
          yield "optc_row_off + r";
        }
        case COL -> {
          needsCol = true;
          yield "optc_col_off + c";
        }
        case UNIFORM, CONST -> "optc_seg";
      };
      return switch (dtypeOf(buffer)) {
        case F32 -> p + "[" + index + "]";
        case BF16 -> "optc_from_bf16(" + p + "[" + index + "])";
        case F16 -> String.format(d.loadHalf(), p, index);
      };
    }

    private String store(String buffer, String target, Kind kind, String value) {
      String index = switch (kind) {
        case ELEM -> "i";
        case ROW -> "optc_row_off + r";
        case COL -> "optc_col_off + c";
        case UNIFORM, CONST -> "optc_seg";
      };
      return switch (dtypeOf(buffer)) {
        case F32 -> target + "[" + index + "] = " + value + ";";
        case BF16 -> target + "[" + index + "] = optc_to_bf16(" + value + ");";
        case F16 -> String.format(d.storeHalf(), target, index, value) + ";";
      };
    }

    private String ref(Node n) {
      if (n instanceof Node.Const c) {
        return literal(c.value());
      }
      return local.get(n);
    }

    private String compute(Node n) {
      var at = plan.locations().get(n);
      if (at != null && plan.available(phase, n)) {
        return element(bufferOf(at), kindOf(at));
      }
      return switch (n) {
        case Node.Const c -> literal(c.value());
        case Node.Uniform u -> "optc_u[" + u.slot() + "]";
        case Node.Reduce r -> {
          var slot = plan.reductionSlot(r);
          yield switch (r.op()) {
            case SUM, MAXABS, GLOBAL_SUM -> "optc_red" + slot + "[optc_seg]";
            case ROWSUM -> {
              needsRow = true;
              yield "optc_red" + slot + "[optc_row_off + r]";
            }
            case COLSUM -> {
              needsCol = true;
              yield "optc_red" + slot + "[optc_col_off + c]";
            }
          };
        }
        case Node.Load l -> {
          var guard = guards.loads().get(l);
          var cond = guard == null ? null : condition(guard);
          // A quad's lanes are loaded before the lane loop, under the same guard.
          var read = lanes && l.kind() == Kind.ELEM ? laneRead(l.buffer(), cond) : element(l.buffer(), l.kind());
          // Not needed while its flag is off: then the memory is not touched at all.
          yield cond == null ? read : "(" + cond + " ? " + read + " : 0.0f)";
        }
        case Node.Hyper h -> throw new IllegalStateException("hyper " + h.name() + " was not hoisted");
        case Node.Step s -> throw new IllegalStateException("t was not hoisted");
        case Node.Size s -> throw new IllegalStateException("size was not hoisted");
        case Node.Unary u -> {
          var x = ref(u.x());
          yield switch (u.op()) {
            case NEG -> "-(" + x + ")";
            case NOT -> "optc_bool(" + x + " == 0.0f)";
            case ABS -> d.math("fabs") + "(" + x + ")";
            case SIGN -> "optc_sign(" + x + ")";
            case SQRT -> d.math("sqrt") + "(" + x + ")";
            case RSQRT -> "1.0f / " + d.math("sqrt") + "(" + x + ")";
            case EXP -> d.math("exp") + "(" + x + ")";
            case LOG -> d.math("log") + "(" + x + ")";
            case TANH -> d.math("tanh") + "(" + x + ")";
            case SIN -> d.math("sin") + "(" + x + ")";
            case COS -> d.math("cos") + "(" + x + ")";
            case FLOOR -> d.math("floor") + "(" + x + ")";
          };
        }
        case Node.Binary b -> {
          var x = ref(b.a());
          var y = ref(b.b());
          yield switch (b.op()) {
            case ADD, SUB, MUL, DIV -> x + " " + b.op().symbol() + " " + y;
            case POW -> d.math("pow") + "(" + x + ", " + y + ")";
            case MIN -> "optc_min(" + x + ", " + y + ")";
            case MAX -> "optc_max(" + x + ", " + y + ")";
            case LT, LE, GT, GE, EQ, NE -> "optc_bool(" + x + " " + b.op().symbol() + " " + y + ")";
            case AND -> "optc_bool(" + x + " != 0.0f && " + y + " != 0.0f)";
            case OR -> "optc_bool(" + x + " != 0.0f || " + y + " != 0.0f)";
          };
        }
        case Node.Select s -> "(" + ref(s.cond()) + " != 0.0f ? " + ref(s.a()) + " : " + ref(s.b()) + ")";
      };
    }

    private String condition(Guards.Guard g) {
      return local.get(g.cond()) + (g.whenNonZero() ? " != 0.0f" : " == 0.0f");
    }

    /** Nodes to compute for {@code roots}, in statement order (a valid topological order). */
    private List<Node> nodesFor(List<Node> roots) {
      var needed = new LinkedHashSet<Node>();
      var stack = new ArrayList<>(roots);
      while (!stack.isEmpty()) {
        var n = stack.removeLast();
        if (needed.add(n) && !plan.available(phase, n)) {
          stack.addAll(n.inputs());
        }
      }
      var list = new ArrayList<>(needed);
      list.removeIf(n -> n instanceof Node.Const);
      list.sort(Comparator.<Node>comparingInt(n -> statementOf.getOrDefault(n, Integer.MAX_VALUE))
          .thenComparingInt(Node::id));
      return list;
    }

    /** Straight-line code computing {@code nodes} into locals, a comment before each statement. */
    private String body(List<Node> nodes, String indent) {
      var sb = new StringBuilder();
      int last = -1;
      for (var n : nodes) {
        var s = statementOf.get(n);
        if (s != null && s != last && !(n instanceof Node.Uniform)) {
          var text = program.bindings().get(s).span().text().replaceAll("\\s+", " ").strip();
          sb.append(indent).append("// ").append(text).append('\n');
          last = s;
        }
        local.put(n, nameFor(n));
        sb.append(indent).append("const float ").append(local.get(n)).append(" = ").append(compute(n)).append(';');
        if (n instanceof Node.Uniform u) {
          sb.append(" // ").append(Infix.print(program.hoisted().get(u.slot())));
        }
        sb.append('\n');
      }
      return sb.toString();
    }

    private List<Node.Reduce> chunkReductions() {
      return phase.reductions().stream()
          .filter(r -> r.op() == ReduceOp.SUM || r.op() == ReduceOp.MAXABS || r.op() == ReduceOp.GLOBAL_SUM)
          .toList();
    }

    private List<Node.Reduce> lineReductions(ReduceOp op) {
      return phase.reductions().stream().filter(r -> r.op() == op).toList();
    }

    void emit(StringBuilder src, List<Kernel> kernels) {
      var chunked = chunkReductions();
      if (!phase.writes().isEmpty() || !chunked.isEmpty()) {
        emitChunkKernel(src, kernels, chunked);
      }
      if (!chunked.isEmpty()) {
        emitCombine(src, kernels, chunked);
      }
      for (var op : List.of(ReduceOp.ROWSUM, ReduceOp.COLSUM)) {
        if (!lineReductions(op).isEmpty()) {
          emitLineKernel(src, kernels, op);
        }
      }
    }

    private String header(Plan.Phase p) {
      var sb = new StringBuilder("// Phase ").append(p.index()).append(" of ").append(plan.phases().size());
      if (p.label() != null) {
        sb.append(" (").append(p.label()).append(")");
      }
      if (!p.writes().isEmpty()) {
        sb.append(": writes ").append(String.join(", ", p.writes().stream()
            .map(w -> bufferOf(w.location()).replace("%", "")).toList()));
      }
      if (!p.reductions().isEmpty()) {
        sb.append(p.writes().isEmpty() ? ": " : "; ").append("reduces ").append(String.join(", ",
            p.reductions().stream().map(r -> Infix.print(r, 4)).toList()));
      }
      return sb.append('\n').toString();
    }

    /** Parameter list text and argument descriptions for the buffers and reductions a body uses. */
    private void bufferParams(Signature sig, Set<String> readBuffers, Set<Integer> readReductions) {
      var touched = new ArrayList<String>();
      for (var b : bufferOrder) {
        if (readBuffers.contains(b) || written.contains(b)) {
          touched.add(b);
        }
      }
      // restrict on every pointer costs the device compiler time quadratic in their number (LLVM's
      // noalias scopes: a 400-state kernel took PoCL 7.0 s with it, 2.0 s without); a kernel this wide
      // is bound by memory, not by what aliasing information buys.
      boolean restricted = touched.size() <= RESTRICT_MAX;
      for (var b : touched) {
        boolean writes = written.contains(b);
        var type = switch (dtypeOf(b)) {
          case F32 -> "float";
          case BF16 -> d.ushort();
          case F16 -> d.halfType();
        };
        if (doubled.contains(b)) {
          sig.add(d.pointer(type, true, param(b), restricted), new Arg.Buffer(b, true, false));
          sig.add(d.pointer(type, false, nextParam(b), restricted), new Arg.Buffer(b, false, true));
        } else {
          sig.add(d.pointer(type, !writes, param(b), restricted), new Arg.Buffer(b, !writes, false));
        }
      }
      for (int slot : readReductions.stream().sorted().toList()) {
        sig.add(d.pointer("float", true, "optc_red" + slot), new Arg.Reduced(slot, true));
      }
    }

    /** Buffers and reductions the computation of {@code nodes} reads. */
    private void reads(List<Node> nodes, Set<String> buffers, Set<Integer> reductions) {
      for (var n : nodes) {
        var at = plan.locations().get(n);
        if (at != null && plan.available(phase, n)) {
          buffers.add(bufferOf(at));
        } else if (n instanceof Node.Load l) {
          buffers.add(l.buffer());
        } else if (n instanceof Node.Reduce r && plan.available(phase, r)) {
          reductions.add(plan.reductionSlot(r));
        }
      }
    }

    private void emitChunkKernel(StringBuilder src, List<Kernel> kernels, List<Node.Reduce> chunked) {
      var roots = new ArrayList<Node>();
      phase.writes().forEach(w -> roots.add(w.value()));
      chunked.forEach(r -> roots.add(r.x()));
      var nodes = nodesFor(roots);
      var perTensor = nodes.stream().filter(n -> n.kind().isUniform()).toList();
      var perElement = nodes.stream().filter(n -> !n.kind().isUniform()).toList();
      var readBuffers = new LinkedHashSet<String>();
      var readReductions = new LinkedHashSet<Integer>();
      reads(nodes, readBuffers, readReductions);
      var touched = new LinkedHashSet<>(readBuffers);
      touched.addAll(written);
      // Quads: only a purely elementwise phase over float32 buffers (no row, column or scalar values; sums
      // and max-abs over elements are fine), so every lane is independent and the quad's tails can be masked.
      boolean quads = vectorize && doubled.isEmpty()
          && phase.writes().stream().allMatch(w -> kindOf(w.location()) == Kind.ELEM)
          && nodes.stream().allMatch(n -> n.kind() == Kind.ELEM || n.kind().isUniform())
          && touched.stream().allMatch(b -> bufferKind(b) != Kind.ELEM || dtypeOf(b) == Dtype.F32);
      var head = body(perTensor, "    ");
      lanes = quads;
      var in = quads ? "        " : "      ";
      var loop = new StringBuilder(body(perElement, in));
      for (var w : phase.writes()) {
        var b = bufferOf(w.location());
        var kind = kindOf(w.location());
        var target = doubled.contains(b) ? nextParam(b) : param(b);
        var value = ref(w.value());
        if (quads) {
          // Into the quad's lanes; the store after the lane loop carries the guard.
          var lane = laneStores.computeIfAbsent(target, t -> identifier(t + "_s"));
          loop.append(in).append(lane).append("[j] = ").append(value).append(";\n");
          continue;
        }
        switch (kind) {
          case ELEM -> {
            var storeGuard = guards.stores().get(b);
            loop.append(in).append(storeGuard == null ? "" : "if (" + condition(storeGuard) + ") ")
                .append(store(b, target, kind, value)).append('\n');
          }
          case ROW -> {
            needsRow = true;
            loop.append(in).append("if (c == 0) ").append(store(b, target, kind, value)).append('\n');
          }
          case COL -> {
            needsCol = true;
            loop.append(in).append("if (r == 0) ").append(store(b, target, kind, value)).append('\n');
          }
          case UNIFORM, CONST -> loop.append(in).append("if (k == 0) ").append(store(b, target, kind, value))
              .append('\n');
        }
      }
      lanes = false;
      for (var r : chunked) {
        int slot = plan.reductionSlot(r);
        var x = ref(r.x());
        // A row (column) value has one entry per row (column): count it once, at the first column (row).
        var guard = quads ? "if (optc_i0 + j >= optc_lo && optc_i0 + j < optc_hi) " : switch (r.x().kind()) {
          case ROW -> {
            needsCol = true;
            yield "if (c == 0) ";
          }
          case COL -> {
            needsRow = true;
            yield "if (r == 0) ";
          }
          default -> "";
        };
        var update = r.op() == ReduceOp.MAXABS
            ? "optc_acc" + slot + " = optc_max_acc(optc_acc" + slot + ", " + d.math("fabs") + "(" + x + "));"
            : acc.equals("double") ? "optc_acc" + slot + " += " + x + ";"
            // In float a long run of additions loses the small terms: compensate (Kahan).
            : "optc_kahan_add(&optc_acc" + slot + ", &optc_comp" + slot + ", " + x + ");";
        loop.append(in).append(guard).append(update).append('\n');
      }
      var sig = new Signature();
      sig.add(d.pointer("int", true, "optc_chunks"), new Arg.Chunks());
      sig.add(d.pointer("int", true, "optc_segs"), new Arg.Segments());
      sig.add(d.pointer("float", true, "optc_uniforms"), new Arg.Uniforms());
      sig.add("const int optc_nu", new Arg.UniformCount());
      sig.add("const int optc_chunk", new Arg.ChunkSize());
      sig.add("const int optc_nchunks", new Arg.ChunkCount());
      if (quads) {
        sig.add("const int optc_vec", new Arg.VectorAccess());
      }
      bufferParams(sig, readBuffers, readReductions);
      for (var r : chunked) {
        sig.add(d.pointer("optc_acc_t", false, "optc_part" + plan.reductionSlot(r)), new Arg.Partials(plan.reductionSlot(r), false));
      }
      var name = prefix + "_phase" + phase.index();
      src.append('\n').append(header(phase));
      src.append(d.kernel()).append(' ').append(name).append("(\n    ")
          .append(String.join(",\n    ", sig.params)).append(") {\n");
      if (!chunked.isEmpty()) {
        src.append("  ").append(d.local()).append(" optc_acc_t optc_tree[OPTC_LOCAL];\n");
        src.append("  const int optc_lid = ").append(d.localId()).append(";\n");
      }
      src.append("  for (int optc_c = ").append(d.groupId()).append("; optc_c < optc_nchunks; optc_c += ")
          .append(d.numGroups()).append(") {\n");
      src.append("    const int optc_seg = optc_chunks[2 * optc_c];\n");
      src.append("    const int optc_start = optc_chunks[2 * optc_c + 1];\n");
      src.append("    const int optc_off = ").append(SegmentField.OFFSET.read("optc_segs", "optc_seg")).append(";\n");
      src.append("    const int optc_numel = ").append(SegmentField.NUMEL.read("optc_segs", "optc_seg")).append(";\n");
      if (needsRow || needsCol) {
        src.append("    const int optc_cols = ").append(SegmentField.COLS.read("optc_segs", "optc_seg")).append(";\n");
        src.append("    const int optc_row_off = ").append(SegmentField.ROW_OFFSET.read("optc_segs", "optc_seg")).append(";\n");
        src.append("    const int optc_col_off = ").append(SegmentField.COL_OFFSET.read("optc_segs", "optc_seg")).append(";\n");
      }
      src.append("    const int optc_end = min(optc_start + optc_chunk, optc_numel);\n");
      src.append("    ").append(d.global().isEmpty() ? "" : d.global() + " ")
          .append("const float* optc_u = optc_uniforms + optc_seg * optc_nu;\n");
      src.append(head);
      for (var r : chunked) {
        src.append("    optc_acc_t optc_acc").append(plan.reductionSlot(r)).append(" = 0, optc_comp")
            .append(plan.reductionSlot(r)).append(" = 0;\n");
      }
      if (quads) {
        src.append("    const int optc_lo = optc_off + optc_start, optc_hi = optc_off + optc_end;\n");
        src.append("    for (int optc_q = (optc_lo >> 2) + ").append(d.localId())
            .append("; optc_q <= ((optc_hi - 1) >> 2); optc_q += ").append(d.localSize()).append(") {\n");
        src.append("      const int optc_i0 = optc_q << 2;\n");
        src.append("      const int optc_whole = optc_vec && optc_i0 >= optc_lo && optc_i0 + 4 <= optc_hi;\n");
        var quad = ", optc_i0, optc_lo, optc_hi, optc_whole);\n";
        for (var e : laneArrays.entrySet()) {
          var guard = laneGuards.get(e.getKey());
          src.append("      float ").append(e.getValue()).append("[4];\n");
          src.append("      ").append(guard.isEmpty() ? "" : "if (" + guard + ") ").append("optc_ld4(")
              .append(e.getValue()).append(", ").append(param(e.getKey())).append(quad);
        }
        for (var lane : laneStores.values()) {
          src.append("      float ").append(lane).append("[4];\n");
        }
        src.append("      #pragma unroll\n");
        src.append("      for (int j = 0; j < 4; j++) {\n");
        src.append(loop);
        src.append("      }\n");
        for (var w : phase.writes()) {
          var b = bufferOf(w.location());
          var target = param(b);
          var storeGuard = guards.stores().get(b);
          src.append("      ").append(storeGuard == null ? "" : "if (" + condition(storeGuard) + ") ")
              .append("optc_st4(").append(target).append(", ").append(laneStores.get(target)).append(quad);
        }
        src.append("    }\n");
      } else {
        src.append("    for (int k = optc_start + ").append(d.localId()).append("; k < optc_end; k += ")
            .append(d.localSize()).append(") {\n");
        src.append("      const int i = optc_off + k;\n");
        if (needsRow || needsCol) {
          src.append("      const int r = k / optc_cols;\n");
          src.append("      const int c = k - r * optc_cols;\n");
        }
        src.append(loop);
        src.append("    }\n");
      }
      for (var r : chunked) {
        int slot = plan.reductionSlot(r);
        var combine = r.op() == ReduceOp.MAXABS
            ? "optc_max_acc(optc_tree[optc_lid], optc_tree[optc_lid + h])"
            : "optc_tree[optc_lid] + optc_tree[optc_lid + h]";
        src.append("    optc_tree[optc_lid] = optc_acc").append(slot).append(";\n");
        src.append("    ").append(d.barrier()).append(";\n");
        src.append("    for (int h = OPTC_LOCAL / 2; h > 0; h >>= 1) {\n");
        src.append("      if (optc_lid < h) optc_tree[optc_lid] = ").append(combine).append(";\n");
        src.append("      ").append(d.barrier()).append(";\n");
        src.append("    }\n");
        src.append("    if (optc_lid == 0) optc_part").append(slot).append("[optc_c] = optc_tree[0];\n");
        src.append("    ").append(d.barrier()).append(";\n");
      }
      src.append("  }\n");
      src.append("}\n");
      kernels.add(new Kernel(name, phase.index(), Launch.CHUNKS, List.copyOf(sig.args)));
    }

    private void emitCombine(StringBuilder src, List<Kernel> kernels, List<Node.Reduce> chunked) {
      var sig = new Signature();
      sig.add(d.pointer("int", true, "optc_seg_chunks"), new Arg.SegmentChunks());
      sig.add(d.pointer("int", true, "optc_group_segs"), new Arg.GroupSegments());
      sig.add("const int optc_nsegs", new Arg.SegmentCount());
      sig.add("const int optc_ngroups", new Arg.GroupCount());
      for (var r : chunked) {
        int slot = plan.reductionSlot(r);
        sig.add(d.pointer("optc_acc_t", true, "optc_part" + slot), new Arg.Partials(slot, true));
        sig.add(d.pointer("float", false, "optc_red" + slot), new Arg.Reduced(slot, false));
      }
      var name = prefix + "_phase" + phase.index() + "_combine";
      src.append('\n').append("// Phase ").append(phase.index())
          .append(": adds each tensor's (or group's) per-chunk partials in chunk order, compensated.\n");
      src.append(d.kernel()).append(' ').append(name).append("(\n    ")
          .append(String.join(",\n    ", sig.params)).append(") {\n");
      src.append("  const int id = ").append(d.globalId()).append(";\n");
      for (var r : chunked) {
        int slot = plan.reductionSlot(r);
        var part = "optc_part" + slot;
        var red = "optc_red" + slot;
        switch (r.op()) {
          case SUM -> src.append("""
                if (id < optc_nsegs) {
                  const int first = optc_seg_chunks[2 * id], n = optc_seg_chunks[2 * id + 1];
                  optc_acc_t s = 0, comp = 0;
                  for (int j = first; j < first + n; j++) optc_kahan_add(&s, &comp, %1$s[j]);
                  %2$s[id] = (float) s;
                }
              """.formatted(part, red));
          case MAXABS -> src.append("""
                if (id < optc_nsegs) {
                  const int first = optc_seg_chunks[2 * id], n = optc_seg_chunks[2 * id + 1];
                  optc_acc_t m = 0;
                  for (int j = first; j < first + n; j++) m = optc_max_acc(m, %1$s[j]);
                  %2$s[id] = (float) m;
                }
              """.formatted(part, red));
          case GLOBAL_SUM -> src.append("""
                if (id < optc_ngroups) {
                  const int s0 = optc_group_segs[2 * id], ns = optc_group_segs[2 * id + 1];
                  optc_acc_t s = 0, comp = 0;
                  for (int q = s0; q < s0 + ns; q++) {
                    const int first = optc_seg_chunks[2 * q], n = optc_seg_chunks[2 * q + 1];
                    for (int j = first; j < first + n; j++) optc_kahan_add(&s, &comp, %1$s[j]);
                  }
                  for (int q = s0; q < s0 + ns; q++) %2$s[q] = (float) s;
                }
              """.formatted(part, red));
          case ROWSUM, COLSUM -> throw new IllegalStateException("line reductions are not combined");
        }
      }
      src.append("}\n");
      kernels.add(new Kernel(name, phase.index(), Launch.COMBINE, List.copyOf(sig.args)));
    }

    /** Row sums (one work-item per row) or column sums (one per column), compensated, in order. */
    private void emitLineKernel(StringBuilder src, List<Kernel> kernels, ReduceOp op) {
      boolean rows = op == ReduceOp.ROWSUM;
      var reductions = lineReductions(op);
      local.clear();
      var nodes = nodesFor(reductions.stream().map(r -> (Node) r.x()).toList());
      needsRow = true;
      needsCol = true;
      var loop = new StringBuilder(body(nodes, "    "));
      for (var r : reductions) {
        int slot = plan.reductionSlot(r);
        loop.append("    optc_kahan_add(&optc_acc").append(slot).append(", &optc_comp").append(slot).append(", ")
            .append(ref(r.x())).append(");\n");
      }
      var readBuffers = new LinkedHashSet<String>();
      var readReductions = new LinkedHashSet<Integer>();
      reads(nodes, readBuffers, readReductions);
      var sig = new Signature();
      sig.add(d.pointer("int", true, "optc_segs"), new Arg.Segments());
      sig.add(d.pointer("float", true, "optc_uniforms"), new Arg.Uniforms());
      sig.add("const int optc_nu", new Arg.UniformCount());
      sig.add("const int optc_nsegs", new Arg.SegmentCount());
      sig.add("const int optc_lines", new Arg.LineCount());
      var saved = new HashSet<>(written);
      written.clear();
      bufferParams(sig, readBuffers, readReductions);
      written.addAll(saved);
      for (var r : reductions) {
        int slot = plan.reductionSlot(r);
        sig.add(d.pointer("float", false, "optc_red" + slot), new Arg.Reduced(slot, false));
      }
      var name = prefix + "_phase" + phase.index() + (rows ? "_rows" : "_cols");
      var offsetField = rows ? SegmentField.ROW_OFFSET : SegmentField.COL_OFFSET;
      src.append('\n').append("// Phase ").append(phase.index()).append(": ")
          .append(rows ? "row sums, one work-item per row" : "column sums, one work-item per column")
          .append(".\n");
      src.append(d.kernel()).append(' ').append(name).append("(\n    ")
          .append(String.join(",\n    ", sig.params)).append(") {\n");
      src.append("  const int line = ").append(d.globalId()).append(";\n");
      src.append("  if (line >= optc_lines) return;\n");
      src.append("  // The tensor this line belongs to: the last segment whose offset is <= line.\n");
      src.append("  int lo = 0, hi = optc_nsegs - 1;\n");
      src.append("  while (lo < hi) {\n");
      src.append("    const int mid = (lo + hi + 1) / 2;\n");
      src.append("    if (").append(offsetField.read("optc_segs", "mid")).append(" <= line) lo = mid; else hi = mid - 1;\n");
      src.append("  }\n");
      src.append("  const int optc_seg = lo;\n");
      src.append("  const int optc_off = ").append(SegmentField.OFFSET.read("optc_segs", "optc_seg")).append(";\n");
      src.append("  const int optc_rows = ").append(SegmentField.ROWS.read("optc_segs", "optc_seg")).append(";\n");
      src.append("  const int optc_cols = ").append(SegmentField.COLS.read("optc_segs", "optc_seg")).append(";\n");
      src.append("  const int optc_row_off = ").append(SegmentField.ROW_OFFSET.read("optc_segs", "optc_seg")).append(";\n");
      src.append("  const int optc_col_off = ").append(SegmentField.COL_OFFSET.read("optc_segs", "optc_seg")).append(";\n");
      src.append("  ").append(d.global().isEmpty() ? "" : d.global() + " ")
          .append("const float* optc_u = optc_uniforms + optc_seg * optc_nu;\n");
      for (var r : reductions) {
        int slot = plan.reductionSlot(r);
        src.append("  optc_acc_t optc_acc").append(slot).append(" = 0, optc_comp").append(slot).append(" = 0;\n");
      }
      if (rows) {
        src.append("  const int r = line - optc_row_off;\n");
        src.append("  for (int c = 0; c < optc_cols; c++) {\n");
      } else {
        src.append("  const int c = line - optc_col_off;\n");
        src.append("  for (int r = 0; r < optc_rows; r++) {\n");
      }
      src.append("    const int i = optc_off + r * optc_cols + c;\n");
      src.append(loop);
      src.append("  }\n");
      for (var r : reductions) {
        int slot = plan.reductionSlot(r);
        src.append("  optc_red").append(slot).append(rows ? "[optc_row_off + r]" : "[optc_col_off + c]")
            .append(" = (float) optc_acc").append(slot).append(";\n");
      }
      src.append("}\n");
      kernels.add(new Kernel(name, phase.index(), rows ? Launch.ROWS : Launch.COLS, List.copyOf(sig.args)));
    }
  }

  /** A kernel's parameter declarations and, in step, what the host binds to each. */
  private static final class Signature {
    final List<String> params = new ArrayList<>();
    final List<Arg> args = new ArrayList<>();

    void add(String declaration, Arg arg) {
      params.add(declaration);
      args.add(arg);
    }
  }

  /** Names a generated identifier may not take: C and OpenCL/CUDA keywords and our loop variables. */
  static final Set<String> RESERVED = Set.of("i", "j", "k", "r", "c", "line", "lo", "hi", "mid", "h", "float", "int", "double", "half", "const",
      "static", "inline", "return", "if", "else", "for", "while", "do", "break", "continue", "switch",
      "case", "default", "char", "short", "long", "unsigned", "signed", "void", "struct", "union", "enum",
      "sizeof", "typedef", "volatile", "restrict", "register", "auto", "extern", "goto", "kernel",
      "global", "local", "constant", "private", "uint", "ushort", "uchar", "ulong", "bool", "true",
      "false", "min", "max", "floor", "sqrt", "exp", "log", "sign", "pow", "fabs", "tanh", "sin", "cos", "rsqrt",
      "__global", "__local", "__kernel", "new", "delete", "class", "this", "template", "namespace",
      "operator", "public", "protected", "virtual", "friend", "using", "asm", "signbit");
}
