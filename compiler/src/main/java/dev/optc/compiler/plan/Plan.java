package dev.optc.compiler.plan;

import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import java.util.AbstractList;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;
import java.util.Set;

/**
 * How a program runs: a sequence of phases, each one pass over the tensors of a group (one kernel launch
 * for the whole group on a device). A phase reads buffers, values earlier phases wrote and the results
 * of earlier reductions; it computes its reductions and performs its writes.
 *
 * @param reductions every reduction of the program, in a stable order; a reduction's index here is its
 *     slot in the reduction results that backends keep between phases
 * @param temps the temporary buffers the plan writes values to, by index (their kind sizes them: an elem
 *     temp has one value per element, a row temp one per row, …)
 * @param locations where each value written by some phase lives for the phases after it
 */
public record Plan(
    IrProgram program,
    Fusion fusion,
    List<Phase> phases,
    List<Node.Reduce> reductions,
    List<Kind> temps,
    Map<Node, Location> locations) {

  public Plan {
    temps = List.copyOf(temps);
    locations = Map.copyOf(locations);
    phases = Indexed.phases(program, phases, locations);
    reductions = Indexed.reductions(reductions);
  }

  /**
   * An immutable list that also answers "where is this node" in O(1): {@link #writtenIn}, {@link #phaseOf}
   * and {@link #reductionSlot} are asked for every node of every phase, and a search of all phases made
   * a plan of many phases quadratic. A record has no other fields, so the lists carry the lookups.
   */
  private static final class Indexed<T> extends AbstractList<T> implements RandomAccess {
    private final List<T> items;
    /** For phases: the phase writing each value to its location; for reductions: each one's slot. */
    private final Map<Node, Integer> first = new HashMap<>();
    /** For phases: the phase accumulating each reduction. */
    private final Map<Node, Integer> reducedIn = new HashMap<>();
    /** For phases: each per-element state whose every store is guarded by one flag, with that guard. */
    private final Map<String, Guards.Guard> flags = new HashMap<>();
    /** For phases: {@link Guards#all}, once computed (immutable, so a race only computes it twice). */
    private volatile List<Guards.PhaseGuards> guards;

    private Indexed(List<T> items) {
      this.items = List.copyOf(items);
    }

    static List<Phase> phases(IrProgram program, List<Phase> phases, Map<Node, Location> locations) {
      var list = new Indexed<>(phases);
      var mixed = new HashSet<String>();
      for (var p : list.items) {
        for (var w : p.writes()) {
          if (w.location().equals(locations.get(w.value()))) {
            list.first.putIfAbsent(w.value(), p.index());
          }
          if (w.location() instanceof Location.Buffer b && !b.name().equals("w")) {
            var g = Guards.storedGuard(program, b.name(), w.value());
            if (g == null || list.flags.putIfAbsent(b.name(), g) != null && !list.flags.get(b.name()).equals(g)) {
              mixed.add(b.name());
            }
          }
        }
        p.reductions().forEach(r -> list.reducedIn.putIfAbsent(r, p.index()));
      }
      mixed.forEach(list.flags::remove);
      return list;
    }

    static List<Node.Reduce> reductions(List<Node.Reduce> reductions) {
      var list = new Indexed<>(reductions);
      for (int i = 0; i < list.items.size(); i++) {
        list.first.putIfAbsent(list.items.get(i), i);
      }
      return list;
    }

    @Override
    public T get(int index) {
      return items.get(index);
    }

    @Override
    public int size() {
      return items.size();
    }
  }

  /**
   * The buffer name of temporary {@code index}. It starts with a character no DSL name can have, so it
   * never collides with a state.
   */
  public static String tempName(int index) {
    return "%tmp" + index;
  }

  public static boolean isTemp(String buffer) {
    return buffer.startsWith("%");
  }

  /** The buffer a location names: {@code w}, a state, or a temporary's {@link #tempName}. */
  public static String bufferOf(Location at) {
    return switch (at) {
      case Location.Buffer b -> b.name();
      case Location.Temp t -> tempName(t.index());
    };
  }

  /** Where a written value is kept: a program buffer ({@code w} or a state) or a temporary. */
  public sealed interface Location {
    /** {@code w} or a state: the step's result lands there. */
    record Buffer(String name) implements Location {}

    /** Temporary buffer {@code index} of {@link Plan#temps()}. */
    record Temp(int index, Kind kind) implements Location {}
  }

  /**
   * What a phase runs over. {@code ELEM}: the elements of each tensor (reading its row, column and per-tensor
   * values too), as every phase of a program without matrix products does. {@code RR}, {@code CC}: the entries
   * of each tensor's rows × rows (cols × cols) Gram matrix, values of that kind and uniforms only; the code
   * generators emit such a phase as an element pass and the runtime runs it over the Gram arena's segments.
   * {@code PRODUCTS}: no kernel; each write is a {@link Node.Product} the runtime computes per tensor on a BLAS.
   */
  public enum Domain {
    ELEM,
    RR,
    CC,
    PRODUCTS;

    /** The domain of a kernel phase computing values of {@code kind} (uniforms and vectors run over elements). */
    public static Domain of(Kind kind) {
      return kind == Kind.RR ? RR : kind == Kind.CC ? CC : ELEM;
    }

    /** The kind of the entries this domain runs over ({@code ELEM} for products: not a kernel domain). */
    public Kind kind() {
      return switch (this) {
        case RR -> Kind.RR;
        case CC -> Kind.CC;
        case ELEM, PRODUCTS -> Kind.ELEM;
      };
    }
  }

  /**
   * The buffer a product phase reads operand {@code x} from: the location a phase wrote it to, or the buffer it
   * loads ({@code w}, {@code g}, a state's old value: the planner stores into none while a product still reads it).
   */
  public String operandBuffer(Node x) {
    var at = locations.get(x);
    if (at != null) {
      return bufferOf(at);
    }
    if (x instanceof Node.Load l) {
      return l.buffer();
    }
    throw new IllegalStateException("operand #" + x.id() + " of a product is in no buffer");
  }

  /** Whether some phase runs products (a matrix-aware program, DSL.md §11). */
  public boolean hasProducts() {
    return phases.stream().anyMatch(Phase::products);
  }

  /** A value a phase writes, and where. */
  public record Write(Node value, Location location) {}

  /**
   * One pass over memory.
   *
   * @param writes values this phase writes: step results into buffers, intermediates into temps
   * @param reductions reductions whose arguments this phase computes, accumulated over the tensor
   * @param label what the phase is for (a DSL statement at fusion {@code statement}), or null
   */
  public record Phase(int index, List<Write> writes, List<Node.Reduce> reductions, String label, Domain domain) {
    public Phase {
      writes = List.copyOf(writes);
      reductions = List.copyOf(reductions);
      if (domain == Domain.PRODUCTS && (!reductions.isEmpty()
          || !writes.stream().allMatch(w -> w.value() instanceof Node.Product))) {
        throw new IllegalArgumentException("a product phase writes products and nothing else");
      }
    }

    /** A pass over the elements of the tensors (every phase of a program without products). */
    public Phase(int index, List<Write> writes, List<Node.Reduce> reductions, String label) {
      this(index, writes, reductions, label, Domain.ELEM);
    }

    /** Whether this phase runs products on a BLAS rather than a kernel. */
    public boolean products() {
      return domain == Domain.PRODUCTS;
    }

    /** The writes into program buffers: the step's results. */
    public List<IrProgram.Output> stores() {
      return writes.stream()
          .filter(w -> w.location() instanceof Location.Buffer)
          .map(w -> new IrProgram.Output(((Location.Buffer) w.location()).name(), w.value()))
          .toList();
    }
  }

  /**
   * Whether a phase can use {@code n} without computing it: a literal, a hoisted uniform, the result of
   * a reduction accumulated in an earlier phase, or a value an earlier phase wrote.
   */
  public boolean available(Phase phase, Node n) {
    if (n instanceof Node.Const || n instanceof Node.Uniform) {
      return true;
    }
    if (n instanceof Node.Reduce r && phaseOf(r) < phase.index()) {
      return true;
    }
    return locations.containsKey(n) && writtenIn(n) < phase.index();
  }

  /**
   * The guard of every store into the state a phase reads per element at {@code n} (a load of it, or a value an
   * earlier phase stored there read back), where all of them are {@code flag ? new : state} under one flag:
   * the read may then be skipped while the flag is off ({@link Guards#of}). Null otherwise.
   */
  public Guards.Guard flagGuard(Phase phase, Node n) {
    String buffer = null;
    if (available(phase, n) && locations.get(n) instanceof Location.Buffer b) {
      buffer = b.name();
    } else if (n instanceof Node.Load l && l.kind() == Kind.ELEM && !available(phase, n)) {
      buffer = l.buffer();
    }
    return buffer == null ? null : ((Indexed<Phase>) phases).flags.get(buffer);
  }

  /** {@link Guards#all} of this plan, computed by {@code compute} on the first call only. */
  List<Guards.PhaseGuards> guards(java.util.function.Supplier<List<Guards.PhaseGuards>> compute) {
    var indexed = (Indexed<Phase>) phases;
    var g = indexed.guards;
    if (g == null) {
      g = compute.get();
      indexed.guards = g;
    }
    return g;
  }

  /** The distinct guards of {@link #flagGuard}s, in a stable order. */
  public List<Guards.Guard> flagGuards() {
    var flags = ((Indexed<Phase>) phases).flags;
    var out = new java.util.LinkedHashSet<Guards.Guard>();
    program.states().forEach(s -> {
      if (flags.containsKey(s.name())) {
        out.add(flags.get(s.name()));
      }
    });
    return List.copyOf(out);
  }

  /** The phase that writes {@code n} (which must be in {@link #locations()}). */
  public int writtenIn(Node n) {
    var at = ((Indexed<Phase>) phases).first.get(n);
    if (at != null) {
      return at;
    }
    throw new IllegalArgumentException("node #" + n.id() + " is not written by any phase");
  }

  /** The phase that accumulates reduction {@code r}. */
  public int phaseOf(Node.Reduce r) {
    var at = ((Indexed<Phase>) phases).reducedIn.get(r);
    if (at != null) {
      return at;
    }
    throw new IllegalArgumentException("reduction #" + r.id() + " is not in the plan");
  }

  /**
   * Every node a phase evaluates or reads, in topological order: the closure of its writes' values and
   * its reductions' arguments, stopping at {@link #available} nodes (which are included, literals not), and
   * the flag of each {@link #flagGuard} of a read there (a kernel that reads a state only a flag uses tests it).
   */
  public List<Node> needed(Phase phase) {
    var roots = new ArrayList<Node>();
    phase.writes().forEach(w -> roots.add(w.value()));
    phase.reductions().forEach(r -> roots.add(r.x()));
    return closure(phase, roots).stream().filter(n -> !(n instanceof Node.Const))
        .sorted((a, b) -> Integer.compare(a.id(), b.id())).toList();
  }

  /** {@code roots} and what computing them in {@code phase} needs, as {@link #needed} defines it; unordered. */
  public Set<Node> closure(Phase phase, List<Node> roots) {
    var seen = new HashSet<Node>();
    var stack = new ArrayDeque<>(roots);
    while (!stack.isEmpty()) {
      var n = stack.pop();
      if (seen.add(n) && !available(phase, n)) {
        stack.addAll(n.inputs());
      }
    }
    for (var n : List.copyOf(seen)) {
      var g = flagGuard(phase, n);
      if (g != null) {
        seen.add(g.cond());
      }
    }
    return seen;
  }

  public int reductionSlot(Node.Reduce r) {
    var i = ((Indexed<Node.Reduce>) reductions).first.get(r);
    if (i == null) {
      throw new IllegalArgumentException("reduction #" + r.id() + " is not in the plan");
    }
    return i;
  }
}
