package dev.optc.training;

import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.compiler.ir.Quantization;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Backend;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Optimizer;
import java.util.ArrayList;
import java.util.Map;
import org.bytedeco.pytorch.Module;

/**
 * optc's step over the model's own memory, no copies: the {@link Optimizer} is built by shape with its
 * weight and gradient arenas in native memory ({@link Arenas#NATIVE}), and the module's parameters become
 * views of those arenas ({@link FlatParameters#bind(Module, java.lang.foreign.MemorySegment,
 * java.lang.foreign.MemorySegment, long[])}, which copies the initial weights in once). libtorch's backward
 * writes the gradients where optc reads them, and {@link #step()} is one {@link Optimizer#step()} that
 * updates the weights where libtorch reads them.
 *
 * <p>The {@link ParamGroup}s are optc parameter groups: biases and norm gains with {@code weight_decay = 0}
 * where the program has that hyper. Only the Java backend and OpenCL on a CPU device run on host arenas; a
 * GPU backend would need the model on the GPU too, which the tasks do not do yet (refused in one line).
 */
public final class OptcStepRunner implements StepRunner {
  private final OptProgram program;
  private final Optimizer optimizer;
  private final FlatParameters params;
  private final Map<String, Double> hypers;

  private OptcStepRunner(OptProgram program, Backend backend, Map<String, Double> hypers, int quantizeFrom,
      java.util.Set<String> unquantized, Module module) {
    this.program = program;
    var layout = FlatParameters.layout(module);
    var builder = Optimizer.builder(program).backend(backend).arenas(Arenas.NATIVE).quantizeFrom(quantizeFrom)
        .unquantized(unquantized);
    var order = new ArrayList<String>();
    for (var group : ParamGroup.of(layout)) {
      var params = new ArrayList<Optimizer.Param>();
      for (int i : group.tensors()) {
        params.add(new Optimizer.Param(layout.get(i).name(), layout.get(i).shape()));
        order.add(layout.get(i).name());
      }
      // A program without weight_decay (a user's may lack it) gets none set.
      builder.params(hasHyper(program, "weight_decay") ? group.hypers(hypers) : hypers, params);
    }
    this.optimizer = builder.build();
    try {
      // FlatParameters wants the offsets in the module's order; the optimizer's groups may have reordered them.
      var offsets = new long[layout.size()];
      var weights = optimizer.arena("w");
      var grads = optimizer.arena("g");
      for (int i = 0; i < layout.size(); i++) {
        var view = optimizer.view(layout.get(i).name());
        if (view.weightArena().address() != weights.address() || view.gradArena().address() != grads.address()) {
          throw new OptcException("optc's arenas are not one weight and one gradient buffer; cannot bind the model");
        }
        offsets[i] = view.offset();
      }
      this.params = FlatParameters.bind(module, weights, grads, offsets);
    } catch (RuntimeException | Error e) {
      optimizer.close();
      throw e;
    }
    this.hypers = HostEvaluator.hyperValues(program.ir(), hypers);
  }

  /** A factory for {@code program} on {@code backend}, with hyper values set over the program's defaults. */
  public static Factory factory(OptProgram program, Backend backend, Map<String, Double> hypers) {
    return factory(program, backend, hypers, Quantization.DEFAULT_MIN_ELEMENTS, java.util.Set.of());
  }

  /**
   * The same, with quantized states ({@code as q8}, {@code as q4}) stored as codes only in tensors of at least
   * {@code quantizeFrom} elements that are not in {@code unquantized}.
   */
  public static Factory factory(OptProgram program, Backend backend, Map<String, Double> hypers, int quantizeFrom,
      java.util.Set<String> unquantized) {
    var copy = Map.copyOf(hypers);
    var keep = java.util.Set.copyOf(unquantized);
    return new Factory(program.name(), "optc",
        module -> new OptcStepRunner(program, backend, copy, quantizeFrom, keep, module));
  }

  static boolean hasHyper(OptProgram program, String name) {
    return program.ir().hypers().stream().anyMatch(h -> h.name().equals(name));
  }

  /** The optimizer stepping the model (its arenas are the model's parameters and gradients). */
  public Optimizer optc() {
    return optimizer;
  }

  @Override
  public String optimizer() {
    return program.name();
  }

  @Override
  public String runner() {
    return "optc";
  }

  @Override
  public Map<String, Double> hypers() {
    return hypers;
  }

  @Override
  public FlatParameters params() {
    return params;
  }

  @Override
  public void step() {
    optimizer.step();
  }

  /**
   * The model's parameters view the weight arena: {@link Optimizer#atEvaluationPoint} copies the evaluation point
   * into it for the evaluation (three bulk copies of the arena) and the weights back after it.
   */
  @Override
  public <T> T atEvaluationPoint(java.util.function.Supplier<T> evaluation) {
    return optimizer.atEvaluationPoint(evaluation);
  }

  /** Unbinds the module first: its tensors must not outlive the arenas they view. */
  @Override
  public void close() {
    try {
      params.close();
    } finally {
      optimizer.close();
    }
  }
}
