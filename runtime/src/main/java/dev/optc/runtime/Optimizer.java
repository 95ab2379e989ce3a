package dev.optc.runtime;

import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.java.JavaBackend;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A compiled optimizer bound to parameter tensors: the host-side API a training loop uses.
 *
 * <pre>{@code
 * var opt = Optimizer.builder(OptProgram.load("adamw"))
 *     .group(Map.of("lr", 1e-3), List.of(new Optimizer.Tensor("fc.weight", new long[] {512, 256}, w)))
 *     .build();
 * opt.setGrad("fc.weight", grad);
 * opt.step();
 * opt.setHyper("lr", 5e-4);          // a schedule: no recompilation
 * float[] updated = opt.weights("fc.weight");
 * }</pre>
 *
 * <p>Hypers are resolved per group: a value set for the group (at bind time or later), else the
 * program's default expression evaluated with the group's earlier hypers. Hypers and {@code t} are
 * arguments of the compiled code, so changing them between steps rebuilds nothing.
 *
 * <p>Zero-copy: a training framework binds tensors by shape only ({@link Param}) in native arenas
 * ({@link Arenas#NATIVE}, or its own memory through {@link Builder#adopt}) and views each tensor's weights
 * and gradient where they live ({@link #view}): it computes gradients into the gradient arena and reads
 * updated weights from the weight arena, and nothing is copied.
 *
 * <pre>{@code
 * try (var opt = Optimizer.builder(OptProgram.load("adamw"))
 *     .arenas(Arenas.NATIVE)
 *     .params(Map.of("lr", 1e-3), List.of(new Optimizer.Param("fc.weight", 512, 256)))
 *     .build()) {
 *   var fc = opt.view("fc.weight");
 *   fc.weights().copyFrom(initial);              // once; or adopt the framework's own arena
 *   // framework: weight = from_blob(fc.weightsAddress(), {512, 256}); grad = from_blob(fc.gradAddress(), ...)
 *   opt.step();                                  // reads the gradients, updates the weights in place
 * }
 * }</pre>
 *
 * <p>Several programs: a group may name its own program ({@link Builder#params(OptProgram, Map, List)}), as Muon
 * is used (Muon on the hidden matrices, AdamW on embeddings, head, biases and gains). Still one optimizer, one
 * {@link #step()}, one checkpoint, shared {@code t}, one weight and one gradient arena ({@link MultiProgram}).
 *
 * <pre>{@code
 * var opt = Optimizer.builder(OptProgram.load("muon"))
 *     .arenas(Arenas.NATIVE)
 *     .params(Map.of("lr", 0.02), hiddenMatrices)                          // group 0: muon
 *     .params(OptProgram.load("adamw"), Map.of("lr", 3e-4), everythingElse) // group 1: adamw
 *     .build();
 * opt.setHyper("muon:lr", 0.01);        // one program's hyper; plain "lr" sets it in every program that has it
 * }</pre>
 */
public final class Optimizer implements AutoCloseable {

  /** A parameter tensor to bind: its name, shape and initial weights (C order, copied). */
  public record Tensor(String name, long[] shape, float[] weights) {}

  /**
   * A parameter tensor bound by shape only: its weights start at zero (or as they are in an adopted weight
   * arena) and a framework sets them through {@link #view}.
   */
  public record Param(String name, long... shape) {
    public Param {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }
  }

  /** Metric values after step {@code t}, one value per tensor for each metric, in tensor order. */
  public record StepMetrics(long t, List<String> tensors, Map<String, double[]> values) {}

  private final OptProgram program;
  private final Layout layout;
  private final Engine engine;
  private final Plan plan;
  private final List<Map<String, Double>> overrides;
  private final List<double[]> resolved;
  private final List<Consumer<StepMetrics>> listeners = new ArrayList<>();
  private final List<String> scalarStatesInMetrics;
  private final Map<String, Integer> hyperIndex = new HashMap<>();
  /** The programs' parts where groups have different programs; null for one program (every field above). */
  private final MultiProgram multi;
  /** States that take memory only once a flag needs them ({@link Guards#flagStates}). */
  private final List<Guards.FlagState> flagStates;
  /** The states this engine quantizes, with their maps, and what the unsigned maps assume. */
  private final Quantization quantization;
  /**
   * Per state written {@code state NAME = w}, the tensors whose copy of the weights is still to be taken again
   * before the first step (see {@link #takeWeightCopies}); none once a step ran or the state was set.
   */
  private final Map<String, boolean[]> pendingCopies = new LinkedHashMap<>();
  /** Per input ({@code input NAME}), which tensors the caller has supplied it for. */
  private final Map<String, boolean[]> supplied = new LinkedHashMap<>();
  private long t;

  private Optimizer(OptProgram program, Layout layout, Engine engine, Plan plan,
      List<Map<String, Double>> overrides) {
    this.program = program;
    this.layout = layout;
    this.engine = engine;
    this.plan = plan;
    this.multi = null;
    this.overrides = new ArrayList<>();
    this.resolved = new ArrayList<>();
    for (var o : overrides) {
      this.overrides.add(new LinkedHashMap<>(o));
      this.resolved.add(null);
    }
    var hypers = program.ir().hypers();
    for (int i = 0; i < hypers.size(); i++) {
      hyperIndex.put(hypers.get(i).name(), i);
    }
    this.flagStates = Guards.flagStates(plan);
    program.ir().inputs().forEach(in -> supplied.put(in.name(), new boolean[layout.tensors().size()]));
    program.ir().states().stream().filter(IrProgram.StateInfo::initFromWeights).forEach(s -> {
      var all = new boolean[layout.tensors().size()];
      Arrays.fill(all, true);
      pendingCopies.put(s.name(), all);
    });
    var all = Quantization.of(plan.program());
    var maps = new LinkedHashMap<String, dev.optc.compiler.ir.QuantMap>();
    all.maps().forEach((state, map) -> engine.quantized(state).ifPresent(m -> maps.put(state, m)));
    this.quantization = new Quantization(maps,
        all.assumptions().stream().filter(a -> maps.containsKey(a.state())).toList());
    var metricRoots = program.ir().metrics().stream().map(IrProgram.Metric::value).toList();
    this.scalarStatesInMetrics = Graph.topological(metricRoots).stream()
        .filter(n -> n instanceof Node.Load l && l.kind() == Kind.UNIFORM)
        .map(n -> ((Node.Load) n).buffer())
        .toList();
  }

  /** An optimizer whose groups have different programs: every call goes to {@code multi}'s parts. */
  Optimizer(MultiProgram multi) {
    this.multi = multi;
    this.program = null;
    this.layout = null;
    this.engine = null;
    this.plan = null;
    this.overrides = List.of();
    this.resolved = List.of();
    this.flagStates = List.of();
    this.quantization = null;
    this.scalarStatesInMetrics = List.of();
  }

  public static Builder builder(OptProgram program) {
    return new Builder(program);
  }

  /** Collects backend, fusion level and parameter groups, then binds them. */
  public static final class Builder {
    final OptProgram program;
    Backend backend = JavaBackend.reference();
    Fusion fusion = Fusion.FULL;
    Arenas arenas = Arenas.BACKEND;
    int quantizeFrom = Quantization.DEFAULT_MIN_ELEMENTS;
    final java.util.Set<String> unquantized = new java.util.LinkedHashSet<>();
    final List<Map<String, Double>> groups = new ArrayList<>();
    final List<List<Tensor>> tensors = new ArrayList<>();
    /** Each group's program: the builder's, or the one {@link #group(OptProgram, Map, List)} named. */
    final List<OptProgram> programs = new ArrayList<>();

    private Builder(OptProgram program) {
      this.program = program;
    }

    /**
     * The fewest elements a tensor needs for its quantized states ({@code as q8}, {@code as q4}) to be stored as
     * codes; smaller ones keep them in float32. Default 4,096 (bitsandbytes' {@code min_8bit_size}).
     */
    public Builder quantizeFrom(int elements) {
      if (elements < 1) {
        throw new OptcException("the quantization threshold is " + elements + " elements; give 1 or more");
      }
      this.quantizeFrom = elements;
      return this;
    }

    /**
     * Tensors whose quantized states stay float32 whatever their size: bitsandbytes' per-parameter {@code
     * optim_bits=32}, which it recommends for embeddings (a rarely seen row's second moment falls to the map's
     * zero while its momentum does not, and the step becomes {@code lr * m / eps}).
     */
    public Builder unquantized(java.util.Collection<String> tensors) {
      unquantized.addAll(tensors);
      return this;
    }

    public Builder backend(Backend b) {
      this.backend = b;
      return this;
    }

    public Builder fusion(Fusion f) {
      this.fusion = f;
      return this;
    }

    /**
     * Where the engine keeps the arenas: {@link Arenas#BACKEND} (the default: the Java engine's are native
     * memory anyway, a device's are its own buffers) or {@link Arenas#NATIVE} (host memory to view in place:
     * the Java engine, OpenCL on a CPU device; CUDA keeps its arenas on the GPU and takes a framework's device
     * pointers through {@code CudaEngine.adopt}).
     */
    public Builder arenas(Arenas a) {
      var adopted = new LinkedHashMap<>(arenas.adopted());
      adopted.putAll(a.adopted());
      this.arenas = new Arenas(a.kind(), adopted);
      return this;
    }

    /**
     * Uses the caller's native {@code segment} as the whole arena of {@code buffer} ({@code w} or
     * {@code g}): arenas become native, and tensors lie in it in the order they are bound, without gaps
     * (see {@link Arenas#adopt}). The caller keeps it alive until the optimizer is closed.
     */
    public Builder adopt(String buffer, MemorySegment segment) {
      this.arenas = arenas.adopt(buffer, segment);
      return this;
    }

    /** Adds a parameter group: hyper values that differ from the defaults, and its tensors. */
    public Builder group(Map<String, Double> hyperOverrides, List<Tensor> groupTensors) {
      return group(program, hyperOverrides, groupTensors);
    }

    /**
     * Adds a parameter group stepped by its own {@code groupProgram} instead of the builder's (Muon on the
     * hidden matrices, AdamW on the rest): still one optimizer, one {@link Optimizer#step()}, one checkpoint.
     * {@code hyperOverrides} are that program's hypers.
     */
    public Builder group(OptProgram groupProgram, Map<String, Double> hyperOverrides, List<Tensor> groupTensors) {
      hyperOverrides.keySet().forEach(h -> checkHyper(groupProgram, h));
      groups.add(Map.copyOf(hyperOverrides));
      tensors.add(List.copyOf(groupTensors));
      programs.add(groupProgram);
      return this;
    }

    /**
     * Adds a parameter group of tensors bound by shape only (see {@link Param}), for a framework that views
     * them in place ({@link Optimizer#view}).
     */
    public Builder params(Map<String, Double> hyperOverrides, List<Param> params) {
      return params(program, hyperOverrides, params);
    }

    /** {@link #params(Map, List)} stepped by {@code groupProgram} (see {@link #group(OptProgram, Map, List)}). */
    public Builder params(OptProgram groupProgram, Map<String, Double> hyperOverrides, List<Param> params) {
      return group(groupProgram, hyperOverrides,
          params.stream().map(p -> new Tensor(p.name(), p.shape(), null)).toList());
    }

    public Optimizer build() {
      if (programs.stream().anyMatch(p -> !MultiProgram.same(p, program))) {
        return MultiProgram.build(this);
      }
      var all = new ArrayList<Layout.Tensor>();
      var weights = new ArrayList<float[]>();
      for (int gi = 0; gi < groups.size(); gi++) {
        for (var t : tensors.get(gi)) {
          var view = MatrixView.of(t.shape());
          if (t.weights() != null && t.weights().length != view.numel()) {
            throw new OptcException("tensor '" + t.name() + "' has shape " + Arrays.toString(t.shape())
                + " (" + view.numel() + " elements) but " + t.weights().length + " weights");
          }
          all.add(new Layout.Tensor(t.name(), t.shape().clone(), gi, view));
          weights.add(t.weights());
        }
      }
      var layout = new Layout(all, groups.size(), arenas, quantizeFrom, unquantized);
      // Planned once: the engine runs this plan and the optimizer reads its reduction slots from it.
      var plan = Planner.plan(program.ir(), fusion);
      var engine = backend.open(program, plan, layout);
      try {
        var opt = new Optimizer(program, layout, engine, plan, groups);
        // Device buffers start undefined: zeros, except in what a caller adopted (its values stay).
        for (int i = 0; i < all.size(); i++) {
          var zeros = new float[all.get(i).view().numel()];
          if (weights.get(i) != null) {
            engine.write("w", i, weights.get(i));
          } else if (arenas.adopted("w") == null) {
            engine.write("w", i, zeros);
          }
          if (arenas.adopted("g") == null) {
            engine.write("g", i, zeros);
          }
        }
        opt.initStates();
        return opt;
      } catch (RuntimeException e) {
        engine.close();
        throw e;
      }
    }
  }

  static void checkHyper(OptProgram program, String name) {
    if (program.ir().hypers().stream().noneMatch(h -> h.name().equals(name))) {
      var names = program.ir().hypers().stream().map(IrProgram.HyperInfo::name).toList();
      throw new OptcException("unknown hyper '" + name + "' for " + program.name() + " (its hypers: "
          + (names.isEmpty() ? "none" : String.join(", ", names)) + ")");
    }
  }

  private void initStates() {
    for (var s : program.ir().states()) {
      if (engine.allocated(s.name())) {
        initState(s);
      }
    }
    allocateFlagStates();
  }

  /** Writes {@code s}'s init values, evaluated now, into every tensor's entries. */
  private void initState(IrProgram.StateInfo s) {
    for (int i = 0; i < layout.tensors().size(); i++) {
      engine.write(s.name(), i, initValues(s, i));
    }
  }

  /**
   * What {@code s} holds for tensor {@code i} until something writes it: its init, evaluated now; for
   * {@code state NAME = w}, the tensor's weights now.
   */
  private float[] initValues(IrProgram.StateInfo s, int i) {
    if (s.initFromWeights()) {
      var w = new float[layout.length(Kind.ELEM, i)];
      engine.read("w", i, w);
      // A bf16/f16 copy holds what its storage holds, as a store of the step leaves it (q8/q4: the engine's write).
      for (int k = 0; k < w.length; k++) {
        w[k] = s.dtype().round(w[k]);
      }
      return w;
    }
    float v = (float) new HostEvaluator(env(i, null, null)).eval(s.init());
    var values = new float[layout.length(s.shape().kind(), i)];
    Arrays.fill(values, v);
    return values;
  }

  /**
   * Allocates each flag state that a group's hyper values now need and that has no memory yet, and writes its
   * init values: the state is created as torch creates AdamW's {@code max_exp_avg_sq} (zeros), at the
   * first moment a kernel can touch it. Never freed again: a flag switched off keeps the state's values, as
   * with eager allocation.
   */
  private void allocateFlagStates() {
    for (var f : flagStates) {
      if (engine.allocated(f.state())) {
        continue;
      }
      int h = hyperIndex.get(f.hyper());
      for (int g = 0; g < overrides.size(); g++) {
        if (f.neededAt(hypers(g)[h])) {
          allocate(f.state());
          break;
        }
      }
    }
  }

  private void allocate(String state) {
    engine.allocate(state);
    initState(program.ir().state(state));
  }

  /** Resolved hyper values of a group, in declaration order. */
  private double[] hypers(int group) {
    var r = resolved.get(group);
    if (r != null) {
      return r;
    }
    var values = HostEvaluator.hyperValues(program.ir(), overrides.get(group)).values().stream()
        .mapToDouble(Double::doubleValue).toArray();
    resolved.set(group, values);
    return values;
  }

  private HostEvaluator.Env env(int tensor, double[] hoisted, double[][] red) {
    var info = layout.tensors().get(tensor);
    var values = hypers(info.group());
    return new HostEvaluator.Env(h -> values[hyperIndex.get(h)], t, info.view().numel(), info.view().rows(),
        info.view().cols(), hoisted == null ? null : u -> hoisted[u], r -> red[plan.reductionSlot(r)][tensor], null);
  }

  /** Uploads a tensor's gradient for the next step. */
  public void setGrad(String tensor, float[] grad) {
    if (multi != null) {
      multi.part(tensor).setGrad(tensor, grad);
      return;
    }
    engine.write("g", layout.index(tensor), grad);
  }

  /**
   * Supplies a tensor's values of input {@code input} ({@code input NAME} in the program), as {@link #setGrad}
   * supplies its gradient: they stay until supplied again, so a training loop supplies an estimate when it has a
   * new one (sophia reads its Hessian estimate only every few steps). Every input of every tensor with elements
   * must have been supplied before the first step: a step without one fails and changes nothing. The program
   * only reads it.
   */
  public void setInput(String input, String tensor, float[] values) {
    if (multi != null) {
      multi.part(tensor).setInput(input, tensor, values);
      return;
    }
    var flags = supplied.get(input);
    if (flags == null) {
      var names = List.copyOf(supplied.keySet());
      throw new OptcException("no input '" + input + "' in " + program.name() + " (its inputs: "
          + (names.isEmpty() ? "none" : String.join(", ", names)) + ")");
    }
    int i = layout.index(tensor);
    int n = layout.length(Kind.ELEM, i);
    if (values.length != n) {
      throw new OptcException("input '" + input + "' of tensor '" + tensor + "' has " + values.length
          + " values; the tensor has " + n + " elements");
    }
    engine.write(input, i, values);
    flags[i] = true;
  }

  /** The inputs the program reads besides {@code g} ({@code input NAME}), in declaration order. */
  public List<String> inputs() {
    if (multi != null) {
      return multi.inputs();
    }
    return List.copyOf(supplied.keySet());
  }

  public void setWeights(String tensor, float[] weights) {
    if (multi != null) {
      multi.part(tensor).setWeights(tensor, weights);
      return;
    }
    engine.write("w", layout.index(tensor), weights);
  }

  /** Downloads a tensor's current weights. */
  public float[] weights(String tensor) {
    if (multi != null) {
      return multi.part(tensor).weights(tensor);
    }
    int i = layout.index(tensor);
    var out = new float[layout.length(Kind.ELEM, i)];
    engine.read("w", i, out);
    return out;
  }

  /**
   * Downloads one state of one tensor (its row, column or scalar values for those shapes). A flag state that
   * has no memory yet (see {@link #stateAllocated}) answers its init value for every entry: what it would
   * hold if it were allocated now.
   */
  public float[] state(String state, String tensor) {
    if (multi != null) {
      return multi.part(tensor).state(state, tensor);
    }
    int i = layout.index(tensor);
    stateKind(state);
    takeWeightCopies();
    if (!engine.allocated(state)) {
      return initValues(program.ir().state(state), i);
    }
    var out = new float[layout.length(stateKind(state), i)];
    engine.read(state, i, out);
    return out;
  }

  /**
   * Writes one state of one tensor. A flag state without memory stays so where the values are its init's, bit
   * for bit (what {@link #state} answers for it); other values allocate it first.
   */
  void setState(String state, int tensor, float[] values) {
    copied(state, tensor);
    if (!engine.allocated(state)) {
      var init = initValues(program.ir().state(state), tensor);
      boolean same = init.length == values.length;
      for (int k = 0; same && k < values.length; k++) {
        same = Float.floatToRawIntBits(init[k]) == Float.floatToRawIntBits(values[k]);
      }
      if (same) {
        return;
      }
      allocate(state);
    }
    engine.write(state, tensor, values);
  }

  /**
   * One tensor's quantized state as stored (codes and block absmax values), or null where it is not stored so:
   * a state not {@code as q8}/{@code as q4}, a tensor below the threshold, a flag state without memory.
   */
  Engine.Quantized quantizedState(String state, int tensor) {
    if (quantization.map(state) == null || !engine.allocated(state)) {
      return null;
    }
    takeWeightCopies();
    return engine.readQuantized(state, tensor);
  }

  /** Puts back what {@link #quantizedState} gave, bit for bit (allocating a flag state first). */
  void setQuantizedState(String state, int tensor, Engine.Quantized values) {
    copied(state, tensor);
    if (!engine.allocated(state)) {
      allocate(state);
    }
    engine.writeQuantized(state, tensor, values);
  }

  /** The maps of the program's quantized states and what their unsigned maps assume. */
  public Quantization quantization() {
    if (multi != null) {
      throw multi.perProgram("quantization()");
    }
    return quantization;
  }

  /**
   * Whether {@code state} has memory now. Every state does, except a flag state (one the program reads and
   * writes only while a flag is on, as AdamW's {@code max_exp_avg_sq} under {@code amsgrad}): it is allocated
   * when the flag is first on in some group, at {@link Builder#build} or by {@link #setHyper}, and its init
   * values written then.
   */
  public boolean stateAllocated(String state) {
    if (multi != null) {
      return multi.stateAllocated(state);
    }
    stateKind(state);
    return engine.allocated(state);
  }

  /** Bytes of memory the states hold now, every tensor's (as allocated by the engine; 0 for a flag state off). */
  public long stateBytes() {
    if (multi != null) {
      return multi.parts().stream().mapToLong(p -> p.optimizer().stateBytes()).sum();
    }
    return program.ir().states().stream().mapToLong(s -> engine.allocatedBytes(s.name())).sum();
  }

  Kind stateKind(String state) {
    return program.ir().states().stream().filter(s -> s.name().equals(state)).findFirst()
        .orElseThrow(() -> new OptcException("no state '" + state + "' in " + program.name()))
        .shape().kind();
  }

  /**
   * Sets {@code hyper} for every group before each step to {@code base × multiplier(t)}, e.g.
   * {@code schedule("lr", 1e-3, Schedules.warmupCosine(100, 10_000, 0.1))}. Nothing is recompiled.
   */
  public void schedule(String hyper, double base, java.util.function.LongToDoubleFunction multiplier) {
    if (multi != null) {
      multi.schedule(hyper, base, multiplier);
      return;
    }
    checkHyper(program, hyper);
    schedules.put(hyper, s -> base * multiplier.applyAsDouble(s));
  }

  private final Map<String, java.util.function.LongToDoubleFunction> schedules = new LinkedHashMap<>();

  /** Runs one step: {@code t} advances, every phase runs, metrics are reported. */
  public void step() {
    if (multi != null) {
      multi.step();
      return;
    }
    finish(begin());
  }

  /**
   * The checks and host work of a step, before any kernel runs: {@code t} advances, schedules set their hypers,
   * each tensor's hoisted uniforms are evaluated. On an error nothing has run and {@code t} is as it was.
   */
  double[][] begin() {
    supplied.forEach((input, flags) -> {
      for (int i = 0; i < flags.length; i++) {
        if (!flags[i] && layout.length(Kind.ELEM, i) > 0) {
          throw new OptcException("step " + (t + 1) + ": input '" + input + "' of tensor '"
              + layout.tensors().get(i).name() + "' was never supplied; call setInput(\"" + input + "\", \""
              + layout.tensors().get(i).name() + "\", values) before the first step");
        }
      }
    });
    // Schedules are evaluated and checked before anything changes: a schedule that gives NaN fails the
    // step with t and every hyper as they were.
    var scheduled = new LinkedHashMap<String, Double>();
    schedules.forEach((h, f) -> {
      double v = f.applyAsDouble(t + 1);
      var problem = checkHyperValue(h, v);
      if (problem != null) {
        throw new OptcException("the schedule of hyper '" + h + "' gives " + v + " at step " + (t + 1) + ": "
            + problem);
      }
      scheduled.put(h, v);
    });
    t++;
    scheduled.forEach(this::setHyper);
    allocateFlagStates();
    var n = layout.tensors().size();
    var hoisted = program.ir().hoisted();
    var uniforms = new double[n][];
    for (int i = 0; i < n; i++) {
      var eval = new HostEvaluator(env(i, null, null));
      var u = new double[hoisted.size()];
      for (int k = 0; k < u.length; k++) {
        u[k] = eval.eval(hoisted.get(k));
      }
      uniforms[i] = u;
      var check = quantization.assumptions().isEmpty() ? null : new HostEvaluator(env(i, u, null));
      for (var a : quantization.assumptions()) {
        double v = check.eval(a.value());
        if (!a.holds(v)) {
          // Nothing has run yet: t goes back, and the scheduled hypers are taken back by the caller's next step.
          t--;
          throw new OptcException("state '" + a.state() + "' is stored with the unsigned " + quantization.map(a.state())
              + " map, which holds no negative value, because " + a.describe() + " at the defaults; with the "
              + "hypers of tensor '" + layout.tensors().get(i).name() + "' at step " + (t + 1) + " it is " + v
              + ": keep it so, or write the state as q8/q4 of a signed value");
        }
      }
    }
    return uniforms;
  }

  /** Runs every phase of the step {@link #begin} prepared and reports the metrics. */
  void finish(double[][] uniforms) {
    var n = layout.tensors().size();
    takeWeightCopies();
    pendingCopies.clear();
    Map<String, float[]> oldScalars = new HashMap<>();
    if (!listeners.isEmpty()) {
      for (var s : scalarStatesInMetrics) {
        var values = new float[n];
        var one = new float[1];
        for (int i = 0; i < n; i++) {
          engine.read(s, i, one);
          values[i] = one[0];
        }
        oldScalars.put(s, values);
      }
    }
    boolean report = !listeners.isEmpty() && !program.ir().metrics().isEmpty();
    var red = engine.step(uniforms, report);
    if (report) {
      var values = new LinkedHashMap<String, double[]>();
      for (var m : program.ir().metrics()) {
        values.put(m.name(), new double[n]);
      }
      for (int i = 0; i < n; i++) {
        int tensor = i;
        var base = env(i, uniforms[i], red);
        var slots = uniforms[i];
        var env = new HostEvaluator.Env(base.hyper(), base.t(), base.numel(), base.rows(), base.cols(),
            u -> slots[u], base.reduced(), s -> oldScalars.get(s)[tensor]);
        var eval = new HostEvaluator(env);
        for (var m : program.ir().metrics()) {
          values.get(m.name())[i] = eval.eval(m.value());
        }
      }
      var names = layout.tensors().stream().map(Layout.Tensor::name).toList();
      var metrics = new StepMetrics(t, names, values);
      listeners.forEach(l -> l.accept(metrics));
    }
  }

  /** The number of steps taken so far ({@code t} of the last step). */
  public long t() {
    if (multi != null) {
      return multi.t();
    }
    return t;
  }

  void restoreStep(long step) {
    this.t = step;
    if (step > 0) {
      pendingCopies.clear();
    }
  }

  /** Sets a hyper for every group (a schedule, say); takes effect at the next step. */
  public void setHyper(String name, double value) {
    if (multi != null) {
      multi.setHyper(name, value);
      return;
    }
    for (int g = 0; g < overrides.size(); g++) {
      setHyper(g, name, value);
    }
  }

  public void setHyper(int group, String name, double value) {
    if (multi != null) {
      multi.setHyper(group, name, value);
      return;
    }
    checkHyper(program, name);
    if (group < 0 || group >= overrides.size()) {
      throw new OptcException("no parameter group " + group + " (there are " + overrides.size() + ")");
    }
    var problem = checkHyperValue(name, value);
    if (problem != null) {
      throw new OptcException("hyper '" + name + "' = " + value + ": " + problem);
    }
    overrides.get(group).put(name, value);
    resolved.set(group, null);
    allocateFlagStates();
  }

  /**
   * Why {@code value} cannot be hyper {@code name}'s, or null when it can: NaN and infinities only where
   * the program's own default is not finite (a checkpoint's and a schedule's values are held to the same
   * rule, so whatever can be set can be saved and restored).
   */
  String checkHyperValue(String name, double value) {
    if (Double.isFinite(value)) {
      return null;
    }
    Double v = HostEvaluator.hyperValues(program.ir(), Map.of()).get(name);
    return v == null || !Double.isFinite(v) ? null : "a hyper must be a finite number (its default is " + v + ")";
  }

  /** The value a hyper has in a group now. */
  public double hyper(int group, String name) {
    if (multi != null) {
      return multi.hyper(group, name);
    }
    checkHyper(program, name);
    return hypers(group)[hyperIndex.get(name)];
  }

  /** Hyper values set explicitly for a group (what a checkpoint records). */
  public Map<String, Double> hyperOverrides(int group) {
    if (multi != null) {
      return multi.hyperOverrides(group);
    }
    return Map.copyOf(overrides.get(group));
  }

  void replaceOverrides(List<Map<String, Double>> newOverrides) {
    for (int g = 0; g < overrides.size(); g++) {
      overrides.get(g).clear();
      overrides.get(g).putAll(newOverrides.get(g));
      resolved.set(g, null);
    }
    allocateFlagStates();
  }

  /** Calls {@code listener} with the metrics after every step. */
  public void onMetrics(Consumer<StepMetrics> listener) {
    if (multi != null) {
      multi.onMetrics(listener);
      return;
    }
    listeners.add(listener);
  }

  /** Saves every state, the step counter and the hyper settings; atomic (see {@link Checkpoint}). */
  public void save(Path path) {
    if (multi != null) {
      Checkpoint.save(multi, path);
      return;
    }
    Checkpoint.save(this, path);
  }

  /** Restores what {@link #save} wrote; on any error nothing about this optimizer changes. */
  public void restore(Path path) {
    Checkpoint.restore(this, multi, path);
  }

  /** The program; an optimizer whose groups have different programs answers {@link #program(int)} instead. */
  public OptProgram program() {
    if (multi != null) {
      throw multi.perProgram("program()");
    }
    return program;
  }

  /** The program that steps {@code group}. */
  public OptProgram program(int group) {
    if (multi != null) {
      return multi.part(multi.checkGroup(group)).program();
    }
    if (group < 0 || group >= overrides.size()) {
      throw new OptcException("no parameter group " + group + " (there are " + overrides.size() + ")");
    }
    return program;
  }

  /** The distinct programs stepping the groups, in the order their first groups were added. */
  public List<OptProgram> programs() {
    return multi != null ? multi.parts().stream().map(p -> p.optimizer().program()).toList() : List.of(program);
  }

  /** The number of parameter groups. */
  public int groups() {
    return multi != null ? multi.groups() : overrides.size();
  }

  public Layout layout() {
    if (multi != null) {
      throw multi.perProgram("layout()");
    }
    return layout;
  }

  public Plan plan() {
    if (multi != null) {
      throw multi.perProgram("plan()");
    }
    return plan;
  }

  /**
   * Where tensor {@code name}'s weights and gradient live in the arenas, to view them without copies.
   *
   * @throws OptcException where the arenas are not host memory: CUDA and OpenCL on a GPU keep them on the
   *     device ({@code adopt} a framework's device buffers instead), {@code java64} in double arrays, and
   *     OpenCL on a CPU shares them only when built with {@link Arenas#NATIVE}
   */
  public TensorView view(String tensor) {
    if (multi != null) {
      return multi.view(tensor);
    }
    int i = layout.index(tensor);
    var t = layout.tensors().get(i);
    return new TensorView(t.name(), t.shape(), layout.offset(Kind.ELEM, i), arena("w"), arena("g"));
  }

  /** {@link #view} of every tensor, in the order they were bound. */
  public List<TensorView> views() {
    if (multi != null) {
      return multi.tensors().stream().map(this::view).toList();
    }
    return layout.tensors().stream().map(t -> view(t.name())).toList();
  }

  /** The whole arena of {@code w}, {@code g} or a state (see {@link Engine#arena}), float32 values. */
  public MemorySegment arena(String buffer) {
    if (multi != null) {
      return multi.arena(buffer);
    }
    if (!engine.allocated(buffer)) {
      throw new OptcException("state '" + buffer + "' has no memory while its flag is off in every group ("
          + flagStates.stream().filter(f -> f.state().equals(buffer)).map(Guards.FlagState::hyper).findFirst()
              .orElse("?") + "); it is allocated when the flag is first switched on");
    }
    return engine.arena(buffer).orElseThrow(() -> new OptcException("the " + buffer + " arena of this optimizer "
        + "is not host memory it can share (backend " + engine.getClass().getSimpleName() + ", "
        + layout.arenas().kind().name().toLowerCase(java.util.Locale.ROOT) + " arenas)"));
  }

  /**
   * The engine that steps {@code group}: {@link #engine()}, or with several programs that group's program's (e.g. to
   * adopt a framework's device buffers for its tensors: {@code CudaEngine.adopt}, each program's arena holding its
   * tensors in bind order).
   */
  public Engine engine(int group) {
    if (multi != null) {
      return multi.part(multi.checkGroup(group)).optimizer().engine();
    }
    program(group);
    return engine;
  }

  // ---------------------------------------------------------------- states that start as w; the evaluation point

  /**
   * Takes again the copies of the weights that {@code state NAME = w} states start from, for every tensor whose
   * copy is pending: DSL.md §11 takes them "at bind time", and a framework that binds by shape ({@link Param})
   * sets the weights after {@link Builder#build} (through {@link #view} or {@link #setWeights}), so the copy
   * counts as taken by the first step (or a read or save of the state before it). A state set before then
   * ({@link #restore}) keeps what it was set to.
   */
  private void takeWeightCopies() {
    if (pendingCopies.isEmpty()) {
      return;
    }
    pendingCopies.forEach((state, pending) -> {
      if (engine.allocated(state)) {
        var s = program.ir().state(state);
        for (int i = 0; i < pending.length; i++) {
          if (pending[i]) {
            engine.write(state, i, initValues(s, i));
          }
        }
      }
    });
  }

  /** A state's values of tensor {@code i} were set: its copy of the weights is not taken again. */
  private void copied(String state, int tensor) {
    var pending = pendingCopies.get(state);
    if (pending != null) {
      pending[tensor] = false;
    }
  }

  /**
   * The buffer that holds the point a model is evaluated at: the state named by the program's
   * {@code evaluate NAME} (Schedule-Free's {@code x}), else {@code w}.
   */
  public String evaluationPoint() {
    if (multi != null) {
      var points = multi.parts().stream().map(p -> p.optimizer().evaluationPoint()).distinct().toList();
      if (points.size() > 1) {
        throw multi.perProgram("evaluationPoint (its programs evaluate at " + String.join(", ", points)
            + "; ask evaluationWeights(tensor))");
      }
      return points.getFirst();
    }
    return program.ir().evaluate();
  }

  /** Downloads a tensor's evaluation point ({@link #evaluationPoint}): its weights without {@code evaluate}. */
  public float[] evaluationWeights(String tensor) {
    if (multi != null) {
      return multi.part(tensor).evaluationWeights(tensor);
    }
    var buffer = evaluationPoint();
    return buffer.equals("w") ? weights(tensor) : state(buffer, tensor);
  }

  /**
   * Runs {@code evaluation} (a validation pass, an export) with every tensor's weights replaced by the
   * evaluation point, then puts the weights back bit for bit, also when it throws: a model whose parameters
   * view the weight arena ({@link #view}) is evaluated where it lives. Without {@code evaluate} it just runs.
   * Host arenas of a float32 state are swapped with three bulk copies; others go through the engine.
   */
  public <T> T atEvaluationPoint(java.util.function.Supplier<T> evaluation) {
    if (multi != null) {
      // Each part puts its own evaluation point into its slice of the weights, one inside the other.
      java.util.function.Supplier<T> nested = evaluation;
      for (var part : multi.parts()) {
        var inner = nested;
        nested = () -> part.optimizer().atEvaluationPoint(inner);
      }
      return nested.get();
    }
    var buffer = evaluationPoint();
    if (buffer.equals("w")) {
      return evaluation.get();
    }
    takeWeightCopies();
    var w = engine.arena("w");
    var x = quantization.map(buffer) == null && engine.allocated(buffer)
        && program.ir().state(buffer).dtype() == dev.optc.compiler.ir.Dtype.F32
        ? engine.arena(buffer) : java.util.Optional.<MemorySegment>empty();
    if (w.isPresent() && x.isPresent() && w.get().byteSize() == x.get().byteSize()) {
      try (var scratch = java.lang.foreign.Arena.ofConfined()) {
        var saved = scratch.allocate(w.get().byteSize(), 64);
        saved.copyFrom(w.get());
        w.get().copyFrom(x.get());
        try {
          return evaluation.get();
        } finally {
          w.get().copyFrom(saved);
        }
      }
    }
    int n = layout.tensors().size();
    var saved = new float[n][];
    for (int i = 0; i < n; i++) {
      saved[i] = new float[layout.length(Kind.ELEM, i)];
      engine.read("w", i, saved[i]);
      engine.write("w", i, state(buffer, layout.tensors().get(i).name()));
    }
    try {
      return evaluation.get();
    } finally {
      for (int i = 0; i < n; i++) {
        engine.write("w", i, saved[i]);
      }
    }
  }

  /** The backend's engine, for backend-specific operations (e.g. adopting device buffers). */
  public Engine engine() {
    if (multi != null) {
      throw multi.perProgram("engine()");
    }
    return engine;
  }

  @Override
  public void close() {
    if (multi != null) {
      multi.close();
      return;
    }
    engine.close();
  }
}
