package dev.optc.compiler.plan;

import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.ReduceOp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which phases of a plan a tensor needs at a step, found from the per-tensor uniforms that choose between the
 * branches of {@code c ? a : b}. A program that picks a computation per tensor or per step writes both and
 * selects: Muon's orthogonalisation multiplies the Gram matrix of the smaller side ({@code rows > cols ? tall :
 * wide}), and an iteration count that is a hyper selects how many of the unrolled iterations count. Where the
 * condition is a hoisted uniform, only the chosen branch matters; the runtime skips a product (a BLAS call) of a
 * tensor that nothing it needs reads, a Gram pass's segment likewise, and a whole device pass that no tensor needs.
 *
 * <p>Skipping is safe because a skipped value is only ever read by the branch a select drops: the select picks
 * the other value, whatever the dropped one holds (NaN poison in a temporary). Every group reduction
 * ({@code global_sum}) is always needed: its total reads every tensor's argument.
 *
 * <p>A select's condition decides as the kernels do: the uniform rounded to float32, any nonzero value true.
 */
public final class Liveness {
  private final Plan plan;
  /** Every node the plan's roots reach, inputs before users. */
  private final List<Node> nodes;
  private final Map<Node, Integer> position = new HashMap<>();
  /** Per node: its inputs' positions. */
  private final int[][] inputs;
  /** Per node: the hoisted slot of its condition where it is a select on a hoisted uniform, else -1. */
  private final int[] selectSlot;
  /** Per node: whether it is a root (an output, a metric, a group reduction). */
  private final boolean[] root;
  /** Per phase: the positions of the nodes whose being needed makes the phase needed. */
  private final int[][] phaseNodes;
  /** Whether some select chooses on a hoisted uniform (else every phase is always needed). */
  private final boolean any;
  /** What {@link #phases} answers for a program whose every phase is always needed. */
  private final boolean[] everyPhase;

  private Liveness(Plan plan) {
    this.plan = plan;
    var p = plan.program();
    var roots = new ArrayList<Node>();
    p.outputs().forEach(o -> roots.add(o.value()));
    p.metrics().forEach(m -> roots.add(m.value()));
    var all = new ArrayList<Node>(roots);
    for (var phase : plan.phases()) {
      phase.writes().forEach(w -> all.add(w.value()));
      all.addAll(phase.reductions());
    }
    this.nodes = Graph.topological(all);
    for (int i = 0; i < nodes.size(); i++) {
      position.put(nodes.get(i), i);
    }
    inputs = new int[nodes.size()][];
    selectSlot = new int[nodes.size()];
    root = new boolean[nodes.size()];
    boolean selects = false;
    for (int i = 0; i < nodes.size(); i++) {
      var n = nodes.get(i);
      inputs[i] = n.inputs().stream().mapToInt(position::get).toArray();
      selectSlot[i] = n instanceof Node.Select s && s.cond() instanceof Node.Uniform u ? u.slot() : -1;
      selects |= selectSlot[i] >= 0;
      root[i] = n instanceof Node.Reduce r && r.op() == ReduceOp.GLOBAL_SUM;
    }
    roots.forEach(r -> root[position.get(r)] = true);
    phaseNodes = new int[plan.phases().size()][];
    for (var phase : plan.phases()) {
      var list = new ArrayList<Integer>();
      phase.writes().forEach(w -> list.add(position.get(w.value())));
      phase.reductions().forEach(r -> list.add(position.get(r)));
      phaseNodes[phase.index()] = list.stream().mapToInt(Integer::intValue).toArray();
    }
    this.any = selects;
    this.everyPhase = new boolean[phaseNodes.length];
    java.util.Arrays.fill(everyPhase, true);
  }

  /** The analysis of {@code plan}. */
  public static Liveness of(Plan plan) {
    return new Liveness(plan);
  }

  /** Whether any phase may ever be skipped (some select chooses on a per-tensor uniform). */
  public boolean selective() {
    return any;
  }

  /**
   * Per phase, whether a tensor with hoisted uniforms {@code uniforms} needs it this step; a phase that only
   * computes what dropped branches read is not needed. Read-only: the array may be shared between calls.
   */
  public boolean[] phases(double[] uniforms) {
    if (!any) {
      return everyPhase; // (shared: callers only read it)
    }
    var out = new boolean[phaseNodes.length];
    var needed = needed(slot -> (float) uniforms[slot] != 0f ? Choice.FIRST : Choice.SECOND);
    for (int k = 0; k < out.length; k++) {
      for (int i : phaseNodes[k]) {
        out[k] |= needed[i];
      }
    }
    return out;
  }

  /**
   * Whether a tensor of these sizes can ever need a value of kind {@code gram} ({@code RR}, {@code CC}) at any
   * hyper values and step: selects on uniforms that depend on sizes only are decided, the others keep both
   * branches. A tensor that never needs one gets no memory in that Gram arena.
   */
  public boolean mayNeed(dev.optc.compiler.ir.Kind gram, int numel, int rows, int cols) {
    var hoisted = plan.program().hoisted();
    var env = new HostEvaluator.Env(h -> Double.NaN, 0, numel, rows, cols, null, null, null);
    var values = new HashMap<Integer, Choice>();
    var needed = needed(slot -> values.computeIfAbsent(slot, s -> {
      var n = hoisted.get(s);
      if (Graph.dependsOn(n, x -> !(x instanceof Node.Size || x instanceof Node.Const) && x.inputs().isEmpty())) {
        return Choice.BOTH;
      }
      return (float) new HostEvaluator(env).eval(n) != 0f ? Choice.FIRST : Choice.SECOND;
    }));
    for (int i = 0; i < nodes.size(); i++) {
      if (needed[i] && nodes.get(i).kind() == gram) {
        return true;
      }
    }
    return false;
  }

  private enum Choice {
    FIRST,
    SECOND,
    BOTH
  }

  private boolean[] needed(java.util.function.IntFunction<Choice> choose) {
    var needed = root.clone();
    for (int i = nodes.size() - 1; i >= 0; i--) {
      if (!needed[i]) {
        continue;
      }
      var in = inputs[i];
      if (selectSlot[i] >= 0) {
        var c = choose.apply(selectSlot[i]);
        needed[in[0]] = true;
        needed[in[1]] |= c != Choice.SECOND;
        needed[in[2]] |= c != Choice.FIRST;
      } else {
        for (int x : in) {
          needed[x] = true;
        }
      }
    }
    return needed;
  }
}
