package dev.optc.training;

import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.compiler.ir.Quantization;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Backend;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Optimizer;
import java.util.ArrayList;
import java.util.List;
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
 *
 * <p>Two programs ({@link #factory(Part, Part, Backend, int, java.util.Set, java.util.Set)}, {@code optc train
 * --optimizer A+B}): A steps the hidden matrices ({@link ParamGroup#hidden}), B the rest, each part's groups
 * split by the same weight-decay rule, in one {@link Optimizer} over the same one weight and one gradient arena.
 */
public final class OptcStepRunner implements StepRunner {
  private final List<OptProgram> programs;
  private final Optimizer optimizer;
  private final FlatParameters params;
  private final Map<String, Double> hypers;

  /**
   * One program of a run and its hyper values (over the program's defaults).
   *
   * @param program the program
   * @param hypers its hyper values set over the program's defaults
   */
  public record Part(OptProgram program, Map<String, Double> hypers) {
    public Part {
      hypers = Map.copyOf(hypers);
    }
  }

  /**
   * @param parts one program for every parameter, or two: the first for the hidden matrices, the second for the
   *     rest
   * @param notHidden the embeddings and the head (with two parts)
   */
  private OptcStepRunner(List<Part> parts, Backend backend, int quantizeFrom, java.util.Set<String> unquantized,
      java.util.Set<String> notHidden, Module module) {
    this.programs = parts.stream().map(Part::program).toList();
    var layout = FlatParameters.layout(module);
    var builder = Optimizer.builder(parts.getFirst().program()).backend(backend).arenas(Arenas.NATIVE)
        .quantizeFrom(quantizeFrom).unquantized(unquantized);
    for (int k = 0; k < parts.size(); k++) {
      var part = parts.get(k);
      var mine = new ArrayList<FlatParameters.Param>();
      for (var p : layout) {
        if (parts.size() == 1 || ParamGroup.hidden(p, notHidden) == (k == 0)) {
          mine.add(p);
        }
      }
      for (var group : ParamGroup.of(mine)) {
        var params = new ArrayList<Optimizer.Param>();
        for (int i : group.tensors()) {
          params.add(new Optimizer.Param(mine.get(i).name(), mine.get(i).shape()));
        }
        // A program without weight_decay (a user's may lack it) gets none set.
        var program = part.program();
        builder.params(program, hasHyper(program, "weight_decay") ? group.hypers(part.hypers()) : part.hypers(),
            params);
      }
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
    var all = new java.util.LinkedHashMap<String, Double>();
    for (var part : parts) {
      HostEvaluator.hyperValues(part.program().ir(), part.hypers())
          .forEach((h, v) -> all.put(parts.size() == 1 ? h : part.program().name() + ":" + h, v));
    }
    this.hypers = java.util.Collections.unmodifiableMap(all);
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
    var part = List.of(new Part(program, hypers));
    var keep = java.util.Set.copyOf(unquantized);
    return new Factory(program.name(), "optc",
        module -> new OptcStepRunner(part, backend, quantizeFrom, keep, java.util.Set.of(), module));
  }

  /**
   * Two programs in one optimizer, as Muon is used: {@code hidden} steps the hidden matrices (tensors of two or
   * more dimensions not named in {@code embeddingsAndHead}: {@link ParamGroup#hidden}), {@code rest} the
   * embeddings, the head, biases and norm gains. The run is called {@code "A+B"}.
   */
  public static Factory factory(Part hidden, Part rest, Backend backend, int quantizeFrom,
      java.util.Set<String> unquantized, java.util.Set<String> embeddingsAndHead) {
    var parts = List.of(hidden, rest);
    var keep = java.util.Set.copyOf(unquantized);
    var notHidden = java.util.Set.copyOf(embeddingsAndHead);
    return new Factory(hidden.program().name() + "+" + rest.program().name(), "optc",
        module -> new OptcStepRunner(parts, backend, quantizeFrom, keep, notHidden, module));
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
    return String.join("+", programs.stream().map(OptProgram::name).toList());
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
