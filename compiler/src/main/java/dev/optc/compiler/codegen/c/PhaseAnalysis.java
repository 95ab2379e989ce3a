package dev.optc.compiler.codegen.c;

import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the kernels of one phase compute and read, found from the plan before any text is written: which
 * kernels the phase has, the values each computes in order, the buffers and reductions it reads, whether
 * a chunk kernel works in quads and whether it needs each element's row and column. A pure function of
 * the plan, the phase and whether quads are allowed; the {@link PhaseEmitter} renders from it and decides
 * nothing while it writes.
 */
final class PhaseAnalysis {

  /** What computing a node reads from memory instead of computing it. */
  sealed interface Read {
    /** The entry of the current position in a buffer of {@code kind}; a load only where {@code guard} holds. */
    record FromBuffer(String buffer, Kind kind, Optional<Guards.Guard> guard) implements Read {}

    /** The result of reduction {@code slot}: one per tensor, row or column ({@code kind}). */
    record FromReduction(int slot, Kind kind) implements Read {}

    default Kind at() {
      return switch (this) {
        case FromBuffer b -> b.kind();
        case FromReduction r -> r.kind();
      };
    }
  }

  /**
   * The phase's chunk kernel: writes and sums over elements.
   *
   * @param perTensor values computed once per chunk, before the element loop
   * @param perElement values computed per element, in statement order
   * @param quads whether the loop takes four elements at a time (see {@link CEmitter})
   * @param position whether the loop needs each element's row {@code r} and column {@code c}
   * @param laneLoads with quads, the buffers the lanes read, in order, each with the guard every read of it
   *     shares (empty: always loaded)
   */
  record ChunkKernel(List<Node> perTensor, List<Node> perElement, List<Node.Reduce> reductions,
      Set<String> readBuffers, Set<Integer> readReductions, boolean quads, boolean position,
      Map<String, Optional<Guards.Guard>> laneLoads) {}

  /** A row-sum or column-sum kernel: one work-item per line, the values of {@code nodes} per entry. */
  record LineKernel(ReduceOp op, List<Node> nodes, List<Node.Reduce> reductions, Set<String> readBuffers,
      Set<Integer> readReductions) {}

  private final Plan plan;
  private final Plan.Phase phase;
  private final Buffers buffers;
  private final Map<Node, Integer> statementOf;
  private final Guards.PhaseGuards guards;
  private final Set<String> written = new LinkedHashSet<>();
  private final Set<String> doubled = new LinkedHashSet<>();
  private final Optional<ChunkKernel> chunk;
  private final List<LineKernel> lines = new ArrayList<>();

  /**
   * @param statementOf the DSL statement of each value ({@code ValueNames.statements}, made once per program)
   * @param quadsAllowed whether the config asks for quads in elementwise float32 phases
   */
  PhaseAnalysis(Plan plan, Plan.Phase phase, Buffers buffers, Map<Node, Integer> statementOf,
      boolean quadsAllowed) {
    this.plan = plan;
    this.phase = phase;
    this.buffers = buffers;
    this.statementOf = statementOf;
    this.guards = Guards.of(plan, phase);
    phase.writes().forEach(w -> written.add(Plan.bufferOf(w.location())));
    var roots = new ArrayList<Node>();
    phase.writes().forEach(w -> roots.add(w.value()));
    phase.reductions().forEach(r -> roots.add(r.x()));
    for (var b : written) {
      if (!Plan.isTemp(b) && Planner.racesWithLoad(plan.program(), b, roots)) {
        doubled.add(b);
      }
    }
    var chunked = phase.reductions().stream()
        .filter(r -> r.op() == ReduceOp.SUM || r.op() == ReduceOp.MAXABS || r.op() == ReduceOp.GLOBAL_SUM)
        .toList();
    this.chunk = phase.writes().isEmpty() && chunked.isEmpty() ? Optional.empty()
        : Optional.of(chunkKernel(chunked, quadsAllowed));
    for (var op : List.of(ReduceOp.ROWSUM, ReduceOp.COLSUM)) {
      var reductions = phase.reductions().stream().filter(r -> r.op() == op).toList();
      if (!reductions.isEmpty()) {
        lines.add(lineKernel(op, reductions));
      }
    }
  }

  Plan.Phase phase() {
    return phase;
  }

  Guards.PhaseGuards guards() {
    return guards;
  }

  /** Buffers this phase writes, in the order of its writes. */
  Set<String> written() {
    return written;
  }

  /** Row, column or scalar buffers this phase both reads (old values) and writes: written to a second copy. */
  Set<String> doubled() {
    return doubled;
  }

  Optional<ChunkKernel> chunk() {
    return chunk;
  }

  /** Row sums first, then column sums. */
  List<LineKernel> lines() {
    return lines;
  }

  /** What computing {@code n} reads, or empty where it is computed from its inputs. */
  Optional<Read> read(Node n) {
    var at = plan.locations().get(n);
    if (at != null && plan.available(phase, n)) {
      // A state's value read back under a guard (Guards.of) is read as a guarded load is.
      return Optional.of(new Read.FromBuffer(Plan.bufferOf(at), buffers.kind(at),
          Optional.ofNullable(guards.loads().get(n))));
    }
    return switch (n) {
      case Node.Load l -> Optional.of(new Read.FromBuffer(l.buffer(), l.kind(),
          Optional.ofNullable(guards.loads().get(l))));
      case Node.Reduce r -> Optional.of(new Read.FromReduction(plan.reductionSlot(r), switch (r.op()) {
        case ROWSUM -> Kind.ROW;
        case COLSUM -> Kind.COL;
        case SUM, MAXABS, GLOBAL_SUM -> Kind.UNIFORM;
      }));
      case Node.Const c -> Optional.empty();
      case Node.Hyper h -> Optional.empty();
      case Node.Step s -> Optional.empty();
      case Node.Size s -> Optional.empty();
      case Node.Uniform u -> Optional.empty();
      case Node.Unary u -> Optional.empty();
      case Node.Binary b -> Optional.empty();
      case Node.Select s -> Optional.empty();
      case Node.Product m -> throw new IllegalStateException("a product is computed by its own phase, then read");
    };
  }

  private ChunkKernel chunkKernel(List<Node.Reduce> chunked, boolean quadsAllowed) {
    var roots = new ArrayList<Node>();
    phase.writes().forEach(w -> roots.add(w.value()));
    chunked.forEach(r -> roots.add(r.x()));
    var nodes = nodesFor(roots);
    var readBuffers = new LinkedHashSet<String>();
    var readReductions = new TreeSet<Integer>();
    reads(nodes, readBuffers, readReductions);
    var touched = new LinkedHashSet<>(readBuffers);
    touched.addAll(written);
    // Quads: only a purely elementwise phase over float32 buffers (no row, column or scalar values; sums
    // and max-abs over elements are fine), so every lane is independent and the quad's tails can be masked.
    boolean quads = quadsAllowed && doubled.isEmpty()
        && phase.writes().stream().allMatch(w -> buffers.kind(w.location()).isEntry())
        && nodes.stream().allMatch(n -> n.kind().isEntry() || n.kind().isUniform())
        && touched.stream().allMatch(b -> !buffers.kind(b).isEntry() || buffers.dtype(b) == Dtype.F32);
    // Row and column indices: to read or write a row or column entry, or to count a row (column) value
    // once per row (column).
    boolean position = !quads && (nodes.stream().anyMatch(n -> read(n).map(r -> isLine(r.at())).orElse(false))
        || phase.writes().stream().anyMatch(w -> isLine(buffers.kind(w.location())))
        || chunked.stream().anyMatch(r -> isLine(r.x().kind())));
    var perTensor = nodes.stream().filter(n -> n.kind().isUniform()).toList();
    var perElement = nodes.stream().filter(n -> !n.kind().isUniform()).toList();
    return new ChunkKernel(perTensor, perElement, chunked, readBuffers, readReductions, quads, position,
        quads ? laneLoads(perElement) : Map.of());
  }

  private LineKernel lineKernel(ReduceOp op, List<Node.Reduce> reductions) {
    var nodes = nodesFor(reductions.stream().map(r -> (Node) r.x()).toList());
    var readBuffers = new LinkedHashSet<String>();
    var readReductions = new TreeSet<Integer>();
    reads(nodes, readBuffers, readReductions);
    return new LineKernel(op, nodes, reductions, readBuffers, readReductions);
  }

  private static boolean isLine(Kind kind) {
    return kind == Kind.ROW || kind == Kind.COL;
  }

  /** Per-element buffers the lanes read, in first-read order, with the guard all their reads share. */
  private Map<String, Optional<Guards.Guard>> laneLoads(List<Node> perElement) {
    var loads = new LinkedHashMap<String, Optional<Guards.Guard>>();
    for (var n : perElement) {
      if (read(n).orElse(null) instanceof Read.FromBuffer b && b.kind().isEntry()) {
        var first = loads.putIfAbsent(b.buffer(), b.guard());
        if (first != null && !first.equals(b.guard())) {
          loads.put(b.buffer(), Optional.empty());
        }
      }
    }
    return loads;
  }

  /** Nodes to compute for {@code roots}, in statement order (a valid topological order). */
  private List<Node> nodesFor(List<Node> roots) {
    var list = new ArrayList<>(plan.closure(phase, roots));
    list.removeIf(n -> n instanceof Node.Const);
    list.sort(Comparator.<Node>comparingInt(n -> statementOf.getOrDefault(n, Integer.MAX_VALUE))
        .thenComparingInt(Node::id));
    return List.copyOf(list);
  }

  /** Buffers and (available) reductions the computation of {@code nodes} reads. */
  private void reads(List<Node> nodes, Set<String> readBuffers, Set<Integer> readReductions) {
    for (var n : nodes) {
      switch (read(n).orElse(null)) {
        case Read.FromBuffer b -> readBuffers.add(b.buffer());
        case Read.FromReduction r -> {
          if (plan.available(phase, n)) {
            readReductions.add(r.slot());
          }
        }
        case null -> {}
      }
    }
  }
}
