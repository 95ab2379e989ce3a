package dev.optc.compiler.plan;

import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * Memory a phase can skip while a flag is off. A state written as {@code flag ? new : state} (AdamW's
 * {@code max_exp_avg_sq} under {@code amsgrad}, RMSprop's {@code grad_avg} under {@code centered}) keeps its
 * value when the flag is 0: its store can be skipped, and so can every load whose value is then unused.
 * The flag is a per-tensor uniform, so every work-item takes the same branch: no divergence, and the bytes
 * really are not moved. Hypers stay kernel arguments; nothing is specialized or recompiled.
 */
public final class Guards {
  private Guards() {}

  /** "Only needed while {@code cond} is nonzero" (or zero, when {@code whenNonZero} is false). */
  public record Guard(Node cond, boolean whenNonZero) {}

  /**
   * @param loads per-element loads to perform only under their guard, and per-element values of states an
   *     earlier phase stored to read back only under it (the value 0 while the guard is off, the buffer
   *     untouched, as for a load)
   * @param stores per-element buffers (state names) to store only under their guard
   */
  public record PhaseGuards(Map<Node, Guard> loads, Map<String, Guard> stores) {
    public static final PhaseGuards NONE = new PhaseGuards(Map.of(), Map.of());
  }

  /**
   * A state no kernel touches while hyper {@code hyper} is off ({@code whenNonZero}) or on (not
   * {@code whenNonZero}): an engine need not allocate it until the hyper first makes it needed.
   */
  public record FlagState(String state, String hyper, boolean whenNonZero) {
    /** Whether the state is needed while the hyper has {@code value}, as the kernels test it (in float32). */
    public boolean neededAt(double value) {
      // The kernels compare the hyper's float32 value with 0 (a NaN is nonzero); a tiny double that rounds to 0
      // is off there, and for a state needed while the hyper is on, "needed" errs on the side of allocating.
      boolean nonZero = whenNonZero ? value != 0 : (float) value != 0f;
      return nonZero == whenNonZero;
    }
  }

  /**
   * The per-element states of {@code plan} that every phase loads and stores only under one guard whose
   * condition is a hyper (AdamW's {@code max_exp_avg_sq} under {@code amsgrad}), in declaration order: while
   * the hyper keeps the guard off in every tensor, no kernel reads or writes them, so they need no memory. A
   * later phase reading back a value stored in it counts as a load (guarded where {@link #of} guards it); a
   * state read unguarded anywhere (a reduction over it, a read-back used while the flag is off) or under two
   * different guards is not one of them.
   */
  public static List<FlagState> flagStates(Plan plan) {
    var p = plan.program();
    var states = new HashSet<String>();
    p.states().forEach(s -> states.add(s.name()));
    var guardOf = new HashMap<String, Guard>();
    var unguarded = new HashSet<String>();
    BiConsumer<String, Guard> access = (buffer, guard) -> {
      if (!states.contains(buffer)) {
        return;
      }
      if (guard == null) {
        unguarded.add(buffer);
      } else if (guardOf.putIfAbsent(buffer, guard) != null && !guardOf.get(buffer).equals(guard)) {
        unguarded.add(buffer);
      }
    };
    var all = all(plan);
    for (var phase : plan.phases()) {
      var guards = all.get(phase.index());
      for (var n : plan.needed(phase)) {
        var at = plan.locations().get(n);
        if (at != null && plan.available(phase, n)) {
          access.accept(Plan.bufferOf(at), guards.loads().get(n));
        } else if (n instanceof Node.Load l) {
          access.accept(l.buffer(), guards.loads().get(l));
        }
      }
      for (var w : phase.writes()) {
        var b = Plan.bufferOf(w.location());
        access.accept(b, guards.stores().get(b));
      }
    }
    var out = new ArrayList<FlagState>();
    for (var s : p.states()) {
      var g = guardOf.get(s.name());
      if (g == null || s.input() || unguarded.contains(s.name()) || s.shape().kind() != Kind.ELEM
          || !(g.cond() instanceof Node.Uniform u) || !(p.hoisted().get(u.slot()) instanceof Node.Hyper h)) {
        continue;
      }
      out.add(new FlagState(s.name(), h.name(), g.whenNonZero()));
    }
    return List.copyOf(out);
  }

  public static PhaseGuards of(Plan plan, Plan.Phase phase) {
    return all(plan).get(phase.index());
  }

  /** Every phase's guards, by phase index (computed once per plan). */
  public static List<PhaseGuards> all(Plan plan) {
    return plan.guards(() -> compute(plan));
  }

  /**
   * Every phase's guards, found last phase first: a value a phase writes to a temporary is unused while a flag
   * is off when every later phase that reads it leaves it unused then (fusion none splits {@code
   * max(max_exp_avg_sq, exp_avg_sq)} from the select that stores it), and then so are the loads it is computed
   * from.
   */
  private static List<PhaseGuards> compute(Plan plan) {
    var phases = plan.phases();
    var out = new PhaseGuards[phases.size()];
    var temps = new TempUses();
    for (int i = phases.size() - 1; i >= 0; i--) {
      out[i] = analyze(plan, phases.get(i), temps);
    }
    return List.of(out);
  }

  /** Per temporary value: how many later phases read it, and in how many each guard leaves it unused. */
  private static final class TempUses {
    final Map<Node, Integer> readers = new HashMap<>();
    final Map<Guard, Map<Node, Integer>> unusedWhenOff = new HashMap<>();

    boolean deadWhenOff(Node value, Guard guard) {
      int n = readers.getOrDefault(value, 0);
      return n > 0 && unusedWhenOff.getOrDefault(guard, Map.of()).getOrDefault(value, 0) == n;
    }
  }

  private static PhaseGuards analyze(Plan plan, Plan.Phase phase, TempUses temps) {
    var p = plan.program();
    var needed = plan.needed(phase);
    // Users of each node inside this phase; writes, reductions and values later phases read are uses.
    var users = new HashMap<Node, List<Node>>();
    var alwaysUsed = new HashSet<Node>();
    for (var n : needed) {
      if (plan.available(phase, n)) {
        continue;
      }
      for (var in : n.inputs()) {
        users.computeIfAbsent(in, k -> new ArrayList<>()).add(n);
      }
    }
    phase.reductions().forEach(r -> alwaysUsed.add(r.x()));
    var candidates = new LinkedHashMap<String, Guard>();
    var storedValue = new HashMap<String, Node>();
    var tempValues = new ArrayList<Node>();
    for (var w : phase.writes()) {
      if (w.location() instanceof Plan.Location.Temp) {
        tempValues.add(w.value());
        continue;
      }
      var b = (Plan.Location.Buffer) w.location();
      if (!isElemState(p, b.name())) {
        alwaysUsed.add(w.value());
        continue;
      }
      // A select an earlier phase computed is read back whole here: its flag is not at hand, and storing the
      // read-back value is right either way.
      var guard = plan.available(phase, w.value()) ? null : storedGuard(p, b.name(), w.value());
      if (guard != null) {
        candidates.put(b.name(), guard);
        storedValue.put(b.name(), w.value());
        continue;
      }
      alwaysUsed.add(w.value());
    }
    for (var n : needed) {
      var at = plan.locations().get(n);
      if (at == null || plan.available(phase, n)) {
        continue;
      }
      // Stored into a buffer (statement fusion moves a statement's value there): later phases read it back from
      // the buffer, which holds the right value even while a guarded store into it is skipped (the value is then
      // the buffer's old one). Written to a temporary: used unless later phases leave it unused (per guard).
      if (at instanceof Plan.Location.Buffer b && storedValue.get(b.name()) != n) {
        alwaysUsed.add(n);
      }
    }
    // The guards tried: those of this phase's guarded stores, and those of every state's guarded stores (a later
    // kernel reads the value stored there, or a temporary that is unused while the flag is off: statement and
    // none fusion).
    var guardsTried = new LinkedHashSet<>(candidates.values());
    guardsTried.addAll(plan.flagGuards());
    var readBacks = new ArrayList<Node>();
    var tempReads = new ArrayList<Node>();
    for (var n : needed) {
      var at = plan.locations().get(n);
      if (at != null && plan.available(phase, n)) {
        if (at instanceof Plan.Location.Buffer b && isElemState(p, b.name())) {
          readBacks.add(n);
        } else if (at instanceof Plan.Location.Temp) {
          tempReads.add(n);
        }
      }
    }
    tempReads.forEach(t -> temps.readers.merge(t, 1, Integer::sum));
    // A read is guarded only where this phase has the flag's value (Plan.needed brings it to a read of a state
    // only that flag's stores write).
    var neededSet = new HashSet<>(needed);
    var loads = new LinkedHashMap<Node, Guard>();
    var stores = new LinkedHashMap<String, Guard>();
    for (var guard : guardsTried) {
      var guardedStores = new HashSet<Node>();
      candidates.forEach((buffer, g) -> {
        if (g.equals(guard)) {
          guardedStores.add(storedValue.get(buffer));
        }
      });
      var used = new HashSet<>(alwaysUsed);
      for (var t : tempValues) {
        if (temps.deadWhenOff(t, guard)) {
          guardedStores.add(t); // a root unused while the guard is off, as a guarded store is
        } else {
          used.add(t);
        }
      }
      var dead = deadWhenOff(needed, users, used, guardedStores, guard);
      candidates.forEach((buffer, g) -> {
        if (g.equals(guard) && dead.contains(storedValue.get(buffer))) {
          stores.putIfAbsent(buffer, g);
        }
      });
      boolean atHand = guard.cond() instanceof Node.Const || neededSet.contains(guard.cond());
      for (var n : needed) {
        if (atHand && dead.contains(n) && n instanceof Node.Load l && l.kind() == Kind.ELEM
            && !plan.available(phase, n)) {
          loads.putIfAbsent(n, guard);
        }
      }
      // Read back like a load: 0 while the guard is off, the state's buffer untouched. (Temporaries are always
      // read; their values then are unused, computed from guarded loads.)
      for (var n : readBacks) {
        if (atHand && dead.contains(n)) {
          loads.putIfAbsent(n, guard);
        }
      }
      for (var t : tempReads) {
        if (dead.contains(t)) {
          temps.unusedWhenOff.computeIfAbsent(guard, k -> new HashMap<>()).merge(t, 1, Integer::sum);
        }
      }
    }
    return loads.isEmpty() && stores.isEmpty() ? PhaseGuards.NONE : new PhaseGuards(loads, stores);
  }

  static boolean isElemState(IrProgram p, String buffer) {
    return !buffer.equals("w") && !Plan.isTemp(buffer) && p.state(buffer).shape().kind() == Kind.ELEM;
  }

  /**
   * The guard of {@code value} stored into state {@code buffer} as {@code flag ? new : buffer} (or {@code flag ?
   * buffer : new}), or null: the store a phase skips while the flag is off.
   */
  static Guard storedGuard(IrProgram p, String buffer, Node value) {
    if (!isElemState(p, buffer) || !(value instanceof Node.Select s) || !s.cond().kind().isUniform()
        || !(s.cond() instanceof Node.Uniform || s.cond() instanceof Node.Const)) {
      return null;
    }
    var old = p.factory().load(buffer, Kind.ELEM);
    if (s.b() == old) {
      return new Guard(s.cond(), true);
    }
    return s.a() == old ? new Guard(s.cond(), false) : null;
  }

  /** Nodes whose value is not needed while the guard's condition is off. */
  private static Set<Node> deadWhenOff(List<Node> needed, Map<Node, List<Node>> users, Set<Node> alwaysUsed,
      Set<Node> guardedStores, Guard guard) {
    var dead = new HashSet<Node>();
    // Users come after their inputs in id order, so a reverse walk sees every user first.
    var order = new ArrayList<>(needed);
    order.sort((a, b) -> Integer.compare(b.id(), a.id()));
    for (var n : order) {
      if (alwaysUsed.contains(n) || n == guard.cond()) {
        continue;
      }
      boolean isGuardedStore = guardedStores.contains(n);
      var us = users.getOrDefault(n, List.of());
      if (us.isEmpty() && !isGuardedStore) {
        continue; // a root we know nothing about
      }
      boolean allOff = true;
      for (var u : us) {
        if (dead.contains(u)) {
          continue;
        }
        if (u instanceof Node.Select s && s.cond() == guard.cond() && onlyInGuardedBranch(s, n, guard)) {
          continue;
        }
        allOff = false;
        break;
      }
      if (allOff) {
        dead.add(n);
      }
    }
    return dead;
  }

  private static boolean onlyInGuardedBranch(Node.Select s, Node n, Guard guard) {
    var taken = guard.whenNonZero() ? s.a() : s.b();
    var other = guard.whenNonZero() ? s.b() : s.a();
    return taken == n && other != n;
  }
}
