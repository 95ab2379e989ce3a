package dev.optc.training;

import dev.optc.runtime.Backend;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
import java.util.ArrayList;
import java.util.Map;

/**
 * optc's step through today's public {@link Optimizer} API: each step copies every gradient in
 * ({@code setGrad(name, float[])}) and every updated weight out ({@code weights(name)}), two copies of the
 * parameters per step that the zero-copy binding of issue 12 removes. It is the one class that binding
 * replaces: the model's tensors will then be views of optc's own weight and gradient arenas, and {@link #step()}
 * a single {@link Optimizer#step()}.
 *
 * <p>The {@link ParamGroup}s: biases and norm gains with {@code weight_decay = 0} where the program has that hyper.
 */
public final class OptcStepRunner implements StepRunner {
  private final OptProgram program;
  private final FlatParameters params;
  private final Optimizer optimizer;
  private final Map<String, Double> hypers;

  private OptcStepRunner(OptProgram program, Backend backend, Map<String, Double> hypers, FlatParameters params) {
    this.program = program;
    this.params = params;
    var builder = Optimizer.builder(program).backend(backend);
    for (var group : ParamGroup.of(params)) {
      var tensors = new ArrayList<Optimizer.Tensor>();
      for (int i : group.tensors()) {
        var p = params.params().get(i);
        tensors.add(new Optimizer.Tensor(p.name(), p.shape(), params.weights(i)));
      }
      // A program without weight_decay (lion's is called weight_decay too; a user's may lack it) gets none set.
      builder.group(hasHyper(program, "weight_decay") ? group.hypers(hypers) : hypers, tensors);
    }
    this.optimizer = builder.build();
    this.hypers = dev.optc.compiler.ir.HostEvaluator.hyperValues(program.ir(), hypers);
  }

  /** A factory for {@code program} on {@code backend}, with hyper values set over the program's defaults. */
  public static Factory factory(OptProgram program, Backend backend, Map<String, Double> hypers) {
    var copy = Map.copyOf(hypers);
    return new Factory() {
      @Override
      public String optimizer() {
        return program.name();
      }

      @Override
      public String runner() {
        return "optc";
      }

      @Override
      public StepRunner open(FlatParameters params) {
        return new OptcStepRunner(program, backend, copy, params);
      }
    };
  }

  static boolean hasHyper(OptProgram program, String name) {
    return program.ir().hypers().stream().anyMatch(h -> h.name().equals(name));
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
  public void step() {
    var list = params.params();
    for (int i = 0; i < list.size(); i++) {
      optimizer.setGrad(list.get(i).name(), params.grad(i));
    }
    optimizer.step();
    for (int i = 0; i < list.size(); i++) {
      params.setWeights(i, optimizer.weights(list.get(i).name()));
    }
  }

  @Override
  public void close() {
    optimizer.close();
  }
}
