package dev.optc.compiler.plan;

import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Cuts a program into phases (DSL.md §8).
 *
 * <p><b>full</b>: a reduction needs every element of its argument, so a value that depends on a
 * reduction's result can only be computed in a later pass. The depth of a node is the number of
 * reductions on its longest path from the inputs; a reduction of an argument of depth d is accumulated in
 * phase d and readable from phase d+1; every store happens in the last phase. That is hazard-free by
 * construction: no phase reads a buffer an earlier phase overwrote, because no earlier phase overwrites
 * anything. A program without reductions is one phase.
 *
 * <p><b>statement</b> and <b>none</b> materialize values one after another, as eager frameworks do: each
 * DSL statement's value (or each IR operation) is its own phase writing to a temporary, and a reduction is
 * a phase of its own. A step result is written straight into its buffer when no later phase still needs
 * that buffer's old value, otherwise it goes to a temporary and a last phase stores it.
 *
 * <p>Metrics are uniform and are evaluated on the host after the last phase, from reduction results and
 * uniforms.
 */
public final class Planner {
  private Planner() {}

  public static Plan plan(IrProgram p, Fusion fusion) {
    if (fusion == Fusion.FULL && hasProducts(p)) {
      // Products are barriers as reductions are, and their operands must be in memory: a pass materializes
      // each operand (fusing all the elementwise work it needs), each product is a phase of its own, and the
      // results are stored by one last pass. Nothing else is kept, so this is full fusion between barriers.
      return sequential(p, fusion, List.of());
    }
    return switch (fusion) {
      case FULL -> full(p);
      case STATEMENT -> sequential(p, fusion, statementUnits(p));
      case NONE -> sequential(p, fusion, operationUnits(p));
    };
  }

  /** Whether the program multiplies matrices ({@code mm}, DSL.md §11). */
  public static boolean hasProducts(IrProgram p) {
    return Graph.topological(roots(p)).stream().anyMatch(n -> n instanceof Node.Product);
  }

  private static List<Node> roots(IrProgram p) {
    var roots = new ArrayList<Node>();
    p.outputs().forEach(o -> roots.add(o.value()));
    p.metrics().forEach(m -> roots.add(m.value()));
    return roots;
  }

  /** Depth of each node reachable from the outputs and metrics: reductions on its longest input path. */
  public static Map<Node, Integer> depths(IrProgram p) {
    var depth = new HashMap<Node, Integer>();
    for (var n : Graph.topological(roots(p))) {
      int d = n.inputs().stream().mapToInt(depth::get).max().orElse(0);
      depth.put(n, n instanceof Node.Reduce ? d + 1 : d);
    }
    return depth;
  }

  private static List<Node.Reduce> allReductions(IrProgram p) {
    return Graph.topological(roots(p)).stream()
        .filter(n -> n instanceof Node.Reduce)
        .map(n -> (Node.Reduce) n)
        .toList();
  }

  private static Plan full(IrProgram p) {
    var depth = depths(p);
    var reductions = allReductions(p);
    int deepest = 0;
    for (var o : p.outputs()) {
      deepest = Math.max(deepest, depth.get(o.value()));
    }
    for (var r : reductions) {
      deepest = Math.max(deepest, depth.get(r.x()));
    }
    int last = deepest;
    var baseline = fullVariant(p, depth, reductions, last, List.of(), List.of());
    if (last == 0) {
      return baseline;
    }
    // A value computed before the last phase can be kept for the phases after it instead of being
    // recomputed there: a result stored early into its own buffer (later phases read the new value),
    // or an intermediate written to a temporary. Try the combinations, keep the cheapest that is safe.
    var early = p.outputs().stream().filter(o -> depth.get(o.value()) < last).toList();
    var live = Graph.reachable(roots(p));
    var earlyValues = new HashSet<Node>();
    early.forEach(o -> earlyValues.add(o.value()));
    var kept = new LinkedHashSet<Node>();
    for (var b : p.bindings()) {
      var v = b.value();
      if (v.kind() == Kind.ELEM && live.contains(v) && depth.get(v) < last && !(v instanceof Node.Load)
          && !earlyValues.contains(v)) {
        kept.add(v);
      }
      if (early.size() + kept.size() > 12) {
        return baseline;
      }
    }
    var temps = List.copyOf(kept);
    int candidates = early.size() + temps.size();
    var best = baseline;
    int bestBytes = Cost.of(baseline).bytesPerElement();
    for (int mask = 1; mask < 1 << candidates; mask++) {
      var storeEarly = new ArrayList<IrProgram.Output>();
      var keep = new ArrayList<Node>();
      for (int i = 0; i < candidates; i++) {
        if ((mask & 1 << i) != 0) {
          if (i < early.size()) {
            storeEarly.add(early.get(i));
          } else {
            keep.add(temps.get(i - early.size()));
          }
        }
      }
      var variant = fullVariant(p, depth, reductions, last, storeEarly, keep);
      if (variant == null) {
        continue;
      }
      int bytes = Cost.of(variant).bytesPerElement();
      if (bytes < bestBytes) {
        best = variant;
        bestBytes = bytes;
      }
    }
    return best;
  }

  /**
   * The full-fusion plan with the given results stored in the phase that can first compute them and the
   * given intermediates kept in temporaries; null when that would read a buffer after a phase overwrote
   * it (the write-after-read hazard) or would keep a value nothing later uses.
   */
  private static Plan fullVariant(IrProgram p, Map<Node, Integer> depth, List<Node.Reduce> reductions, int last,
      List<IrProgram.Output> storeEarly, List<Node> keep) {
    var writes = new ArrayList<List<Plan.Write>>();
    for (int i = 0; i <= last; i++) {
      writes.add(new ArrayList<>());
    }
    var locations = new HashMap<Node, Plan.Location>();
    var temps = new ArrayList<Kind>();
    for (var o : storeEarly) {
      var at = new Plan.Location.Buffer(o.buffer());
      // Later phases read the stored value back, so it must be exactly what they would compute: a
      // float32 buffer of the value's own shape (a bf16 state rounds, an elem state broadcasts a row).
      boolean exact = o.buffer().equals("w") || p.state(o.buffer()).dtype() == Dtype.F32;
      var kind = o.buffer().equals("w") ? Kind.ELEM : p.state(o.buffer()).shape().kind();
      if (locations.containsKey(o.value()) || !exact || kind != o.value().kind()) {
        return null;
      }
      writes.get(depth.get(o.value())).add(new Plan.Write(o.value(), at));
      locations.put(o.value(), at);
    }
    for (var n : keep) {
      var at = new Plan.Location.Temp(temps.size(), n.kind());
      temps.add(n.kind());
      writes.get(depth.get(n)).add(new Plan.Write(n, at));
      locations.put(n, at);
    }
    for (var o : p.outputs()) {
      if (!storeEarly.contains(o)) {
        writes.get(last).add(new Plan.Write(o.value(), new Plan.Location.Buffer(o.buffer())));
      }
    }
    var reducedIn = new ArrayList<List<Node.Reduce>>();
    for (int i = 0; i <= last; i++) {
      reducedIn.add(new ArrayList<>());
    }
    reductions.forEach(r -> reducedIn.get(depth.get(r.x())).add(r));
    var phases = new ArrayList<Plan.Phase>();
    for (int i = 0; i <= last; i++) {
      phases.add(new Plan.Phase(i, writes.get(i), reducedIn.get(i), null));
    }
    var plan = new Plan(p, Fusion.FULL, phases, reductions, temps, locations);
    // Hazard: a phase may not load a buffer an earlier phase stored into. Waste: a kept value must be
    // read by a later phase.
    var storedBy = new HashMap<String, Integer>();
    for (var phase : phases) {
      for (var n : plan.needed(phase)) {
        if (n instanceof Node.Load l && storedBy.containsKey(l.buffer()) && !plan.available(phase, n)) {
          return null;
        }
      }
      for (var st : phase.stores()) {
        storedBy.putIfAbsent(st.buffer(), phase.index());
      }
    }
    for (var n : locations.keySet()) {
      int writer = plan.writtenIn(n);
      boolean used = phases.stream().filter(ph -> ph.index() > writer)
          .anyMatch(ph -> plan.needed(ph).contains(n));
      if (!used && !(locations.get(n) instanceof Plan.Location.Buffer)) {
        return null;
      }
    }
    return plan;
  }

  /**
   * Whether storing into {@code buffer} in a parallel pass that computes {@code roots} would race: the
   * buffer has fewer values than elements (row, col, scalar), so one thread writes a value that other
   * threads of the same pass read as the old one.
   */
  public static boolean racesWithLoad(IrProgram p, String buffer, List<Node> roots) {
    if (buffer.equals("w") || p.state(buffer).shape().kind() == Kind.ELEM) {
      return false;
    }
    return Graph.topological(roots).stream()
        .anyMatch(n -> n instanceof Node.Load l && l.buffer().equals(buffer));
  }

  /** One unit per statement whose value varies over the tensor (uniform ones are computed inline). */
  private static List<Node> statementUnits(IrProgram p) {
    var units = new LinkedHashMap<Node, Boolean>();
    var live = Graph.reachable(roots(p));
    for (var b : p.bindings()) {
      var v = b.value();
      if (!v.kind().isUniform() && live.contains(v) && !(v instanceof Node.Load) && !(v instanceof Node.Reduce)) {
        units.putIfAbsent(v, true);
      }
    }
    return List.copyOf(units.keySet());
  }

  /** One unit per operation on per-element (or row/column, or Gram) values. */
  private static List<Node> operationUnits(IrProgram p) {
    return Graph.topological(roots(p)).stream()
        .filter(n -> !n.kind().isUniform())
        .filter(n -> n instanceof Node.Unary || n instanceof Node.Binary || n instanceof Node.Select)
        .toList();
  }

  private static Plan sequential(IrProgram p, Fusion fusion, List<Node> units) {
    var b = new SequentialBuilder(p, fusion);
    // Statement fusion labels each phase with the statement it computes: the first binding of its value.
    var labels = new HashMap<Node, String>();
    if (fusion == Fusion.STATEMENT) {
      for (var binding : p.bindings()) {
        labels.putIfAbsent(binding.value(), binding.span().text().replaceAll("\\s+", " ").strip());
      }
    }
    for (var u : units) {
      b.materialize(u, b.newTemp(u.kind()), labels.get(u));
    }
    var pending = new ArrayList<Plan.Write>();
    for (var o : p.outputs()) {
      b.reduce(o.value());
      pending.add(new Plan.Write(o.value(), new Plan.Location.Buffer(o.buffer())));
    }
    for (var m : p.metrics()) {
      if (fusion == Fusion.FULL) {
        b.reduceInLastPass(m.value());
      } else {
        b.reduce(m.value());
      }
    }
    return b.finish(pending);
  }

  /** Builds phases one after another, remembering what earlier phases made available. */
  private static final class SequentialBuilder {
    private final IrProgram program;
    private final Fusion fusion;
    private final List<Node.Reduce> reductions;
    private final List<PhaseDraft> phases = new ArrayList<>();
    private final Map<Node, Plan.Location> locations = new HashMap<>();
    private final Set<Node> reduced = new HashSet<>();
    private final List<Kind> temps = new ArrayList<>();
    /** The phase that writes each value (a value is written by one phase). */
    private final Map<Node, Integer> writers = new HashMap<>();
    /** Reductions only metrics read, accumulated by the last pass (full fusion: metrics add no pass). */
    private final List<Node.Reduce> inLastPass = new ArrayList<>();

    private record PhaseDraft(List<Plan.Write> writes, List<Node.Reduce> reductions, String label,
        Plan.Domain domain) {
      PhaseDraft(List<Plan.Write> writes, List<Node.Reduce> reductions, String label) {
        this(writes, reductions, label, Plan.Domain.ELEM);
      }
    }

    SequentialBuilder(IrProgram program, Fusion fusion) {
      this.program = program;
      this.fusion = fusion;
      this.reductions = allReductions(program);
    }

    Plan.Location.Temp newTemp(Kind kind) {
      temps.add(kind);
      return new Plan.Location.Temp(temps.size() - 1, kind);
    }

    private boolean available(Node n) {
      return n instanceof Node.Const || n instanceof Node.Uniform || locations.containsKey(n)
          || (n instanceof Node.Reduce r && reduced.contains(r));
    }

    /** The reductions and products {@code n} needs that no phase has computed yet, innermost first. */
    private List<Node> missingBarriers(Node n) {
      var found = new ArrayList<Node>();
      var seen = new HashSet<Node>();
      var stack = new ArrayDeque<Node>();
      stack.push(n);
      while (!stack.isEmpty()) {
        var x = stack.pop();
        if (!seen.add(x) || available(x)) {
          continue;
        }
        if (x instanceof Node.Reduce || x instanceof Node.Product) {
          found.add(x);
        }
        stack.addAll(x.inputs());
      }
      found.sort((a, c) -> Integer.compare(a.id(), c.id()));
      return found;
    }

    /**
     * Adds phases computing every reduction and product {@code n} needs: one reduction per phase (over the
     * domain of its argument), one product per phase after passes that put its computed operands in memory
     * (a load is read where it is: no phase stores into a buffer while a later one reads its old value).
     */
    void reduce(Node n) {
      for (var x : missingBarriers(n)) {
        if (x instanceof Node.Reduce r && !reduced.contains(r)) {
          // Barriers inside r's argument come first (ids are topological, so they sort earlier).
          reduce(r.x());
          phases.add(new PhaseDraft(List.of(), List.of(r), null, Plan.Domain.of(r.x().kind())));
          reduced.add(r);
        } else if (x instanceof Node.Product m && !available(m)) {
          for (var operand : m.inputs()) {
            // A BLAS reads float32: a bf16, f16 or quantized state's old value goes through a temporary too.
            if (!(operand instanceof Node.Load l && (l.buffer().equals("w") || l.buffer().equals("g")
                || program.state(l.buffer()).dtype() == Dtype.F32))) {
              materialize(operand, newTemp(operand.kind()), null);
            }
          }
          var at = newTemp(m.kind());
          writers.put(m, phases.size());
          phases.add(new PhaseDraft(List.of(new Plan.Write(m, at)), List.of(), null, Plan.Domain.PRODUCTS));
          locations.put(m, at);
        }
      }
    }

    /**
     * The reductions a metric needs: each whose argument is per element and needs nothing not yet computed is
     * accumulated by the last pass (the one that stores the results), as the full planner of a program without
     * products does; the others get their passes now.
     */
    void reduceInLastPass(Node n) {
      for (var x : missingBarriers(n)) {
        if (x instanceof Node.Reduce r && !reduced.contains(r) && Plan.Domain.of(r.x().kind()) == Plan.Domain.ELEM
            && missingBarriers(r.x()).isEmpty()) {
          if (!inLastPass.contains(r)) {
            inLastPass.add(r);
          }
        } else if (!(x instanceof Node.Reduce r && inLastPass.contains(r))) {
          reduce(x);
        }
      }
      // One that a later reduction needed first got a pass of its own after all.
      inLastPass.removeIf(reduced::contains);
    }

    void materialize(Node n, Plan.Location at, String label) {
      if (available(n)) {
        return;
      }
      reduce(n);
      if (available(n)) {
        return; // n is a product: its own phase wrote it
      }
      writers.put(n, phases.size());
      phases.add(new PhaseDraft(List.of(new Plan.Write(n, at)), List.of(), label, Plan.Domain.of(n.kind())));
      locations.put(n, at);
    }

    Plan finish(List<Plan.Write> stores) {
      // Results computed into temporaries move into their buffers where no later phase reads the
      // buffer's old value; the rest are stored by one last phase.
      var last = new ArrayList<Plan.Write>();
      // What each phase, and the final store, loads: fixed from here on (moving a result from a
      // temporary into its buffer changes where it lives, not which phase computes it), so found once
      // rather than once per store (a program of thousands of states has thousands of both).
      var lastReader = new HashMap<String, Integer>();
      var phaseLoads = new ArrayList<Set<String>>();
      for (int i = 0; i < phases.size(); i++) {
        var loads = loads(roots(phases.get(i)), i);
        phaseLoads.add(loads);
        for (var b : loads) {
          lastReader.put(b, i);
        }
      }
      var unstored = new ArrayList<Node>();
      for (var o : program.outputs()) {
        if (locations.get(o.value()) == null) {
          unstored.add(o.value());
        }
      }
      // The last pass also loads what the reductions it accumulates read (old values, as the stores' inputs).
      var lastRoots = new ArrayList<>(unstored);
      inLastPass.forEach(r -> lastRoots.add(r.x()));
      var finalLoads = loads(lastRoots, -1);
      var placed = new HashSet<>(locations.values());
      for (var s : stores) {
        var buffer = ((Plan.Location.Buffer) s.location()).name();
        var at = locations.get(s.value());
        int writer = writerOf(s.value());
        // A bf16/f16 buffer rounds what it stores, and later phases must see the float32 value.
        boolean exact = buffer.equals("w") || program.state(buffer).dtype() == Dtype.F32;
        // Later phases read the value back from where it lives, so it must have the buffer's shape
        // (a row value stored into an elem state is a broadcast, kept apart).
        var bufferKind = buffer.equals("w") ? Kind.ELEM : program.state(buffer).shape().kind();
        exact &= bufferKind == s.value().kind();
        // A later phase, or the final store, reads the buffer's old value.
        boolean readsOldAfter = lastReader.getOrDefault(buffer, -1) > writer || finalLoads.contains(buffer);
        // A row/col/scalar buffer that its writing phase also reads: one thread's write races another's read.
        boolean races = writer >= 0 && !buffer.equals("w") && program.state(buffer).shape().kind() != Kind.ELEM
            && phaseLoads.get(writer).contains(buffer);
        if (at instanceof Plan.Location.Temp && exact && !readsOldAfter && !placed.contains(s.location())
            && !races) {
          retarget(writer, s.value(), s.location());
          locations.put(s.value(), s.location());
          placed.add(s.location());
        } else if (!(at != null && at.equals(s.location()))) {
          last.add(s);
        }
      }
      if (!last.isEmpty() || !inLastPass.isEmpty()) {
        phases.add(new PhaseDraft(last, inLastPass, last.isEmpty() ? null : "store results"));
      }
      var built = new ArrayList<Plan.Phase>();
      for (int i = 0; i < phases.size(); i++) {
        var d = phases.get(i);
        built.add(new Plan.Phase(i, d.writes(), d.reductions(), d.label(), d.domain()));
      }
      if (built.isEmpty()) {
        built.add(new Plan.Phase(0, List.of(), List.of(), null));
      }
      // Temporaries that became buffers are no longer used; keep indices stable anyway (tiny cost).
      var plan = new Plan(program, fusion, built, reductions, temps, locations);
      return hasProducts(program) ? shareTemps(plan) : plan;
    }

    /**
     * The plan with temporaries shared: a matrix program (Newton–Schulz unrolled) materializes dozens of
     * tensor-sized operands, each read only by the next few phases, and one buffer per value would hold them
     * all at once. A value's temporary is given to a later value of the same kind once every phase that reads
     * the first has run (the phase that writes the second reads nothing the first held). Programs without
     * products keep one temporary per value, as before.
     */
    private static Plan shareTemps(Plan plan) {
      var lastRead = new HashMap<Integer, Integer>();
      var firstWrite = new HashMap<Integer, Integer>();
      for (var phase : plan.phases()) {
        for (var w : phase.writes()) {
          if (w.location() instanceof Plan.Location.Temp t) {
            firstWrite.putIfAbsent(t.index(), phase.index());
          }
        }
        for (var n : plan.needed(phase)) {
          if (plan.available(phase, n) && plan.locations().get(n) instanceof Plan.Location.Temp t) {
            lastRead.merge(t.index(), phase.index(), Math::max);
          }
        }
      }
      var order = new ArrayList<>(firstWrite.keySet());
      order.sort((a, c) -> Integer.compare(firstWrite.get(a), firstWrite.get(c)));
      var remap = new HashMap<Integer, Integer>();
      var shared = new ArrayList<Kind>();
      var freeAfter = new ArrayList<Integer>(); // per shared temp: the last phase that reads what it holds
      for (int old : order) {
        var kind = plan.temps().get(old);
        int writer = firstWrite.get(old);
        int target = -1;
        for (int i = 0; i < shared.size() && target < 0; i++) {
          if (shared.get(i) == kind && freeAfter.get(i) < writer) {
            target = i;
          }
        }
        if (target < 0) {
          target = shared.size();
          shared.add(kind);
          freeAfter.add(-1);
        }
        remap.put(old, target);
        freeAfter.set(target, Math.max(writer, lastRead.getOrDefault(old, writer)));
      }
      java.util.function.Function<Plan.Location, Plan.Location> move = at -> at instanceof Plan.Location.Temp t
          ? new Plan.Location.Temp(remap.get(t.index()), t.kind()) : at;
      var phases = new ArrayList<Plan.Phase>();
      for (var p : plan.phases()) {
        var writes = p.writes().stream().map(w -> new Plan.Write(w.value(), move.apply(w.location()))).toList();
        phases.add(new Plan.Phase(p.index(), writes, p.reductions(), p.label(), p.domain()));
      }
      var locations = new HashMap<Node, Plan.Location>();
      plan.locations().forEach((n, at) -> {
        if (!(at instanceof Plan.Location.Temp t) || remap.containsKey(t.index())) {
          locations.put(n, move.apply(at));
        }
      });
      return new Plan(plan.program(), plan.fusion(), phases, plan.reductions(), shared, locations);
    }

    private int writerOf(Node n) {
      return writers.getOrDefault(n, -1);
    }

    private void retarget(int phase, Node n, Plan.Location to) {
      var d = phases.get(phase);
      var writes = d.writes().stream().map(w -> w.value() == n ? new Plan.Write(n, to) : w).toList();
      phases.set(phase, new PhaseDraft(writes, d.reductions(), d.label(), d.domain()));
    }

    private static List<Node> roots(PhaseDraft d) {
      var roots = new ArrayList<Node>();
      d.writes().forEach(w -> roots.add(w.value()));
      d.reductions().forEach(r -> roots.add(r.x()));
      return roots;
    }

    /**
     * The buffers whose old values computing {@code roots} in phase {@code phase} loads, stopping at
     * values written by earlier phases ({@code phase} -1: by any phase) and at computed reductions.
     * Each root is walked on its own: a root is always computed, but reached from another root it may
     * already be available.
     */
    private Set<String> loads(List<Node> roots, int phase) {
      var loads = new HashSet<String>();
      for (var root : roots) {
        var seen = new HashSet<Node>();
        var stack = new ArrayDeque<Node>();
        stack.push(root);
        while (!stack.isEmpty()) {
          var x = stack.pop();
          if (!seen.add(x)) {
            continue;
          }
          if (x instanceof Node.Load l) {
            loads.add(l.buffer());
          }
          boolean stop = x != root && (x instanceof Node.Const || x instanceof Node.Uniform
              || (locations.containsKey(x) && (phase < 0 || writerOf(x) < phase))
              || (x instanceof Node.Reduce r && reduced.contains(r)));
          if (!stop) {
            stack.addAll(x.inputs());
          }
        }
      }
      return loads;
    }
  }
}
