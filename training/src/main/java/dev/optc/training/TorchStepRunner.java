package dev.optc.training;

import dev.optc.runtime.OptcException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.Adagrad;
import org.bytedeco.pytorch.AdagradOptions;
import org.bytedeco.pytorch.Adam;
import org.bytedeco.pytorch.AdamOptions;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Optimizer;
import org.bytedeco.pytorch.OptimizerOptions;
import org.bytedeco.pytorch.OptimizerParamGroup;
import org.bytedeco.pytorch.RMSprop;
import org.bytedeco.pytorch.RMSpropOptions;
import org.bytedeco.pytorch.SGD;
import org.bytedeco.pytorch.SGDOptions;
import org.bytedeco.pytorch.TensorVector;

/**
 * libtorch's own optimizers ({@code torch::optim}) on the same parameters, the {@code --peers} of a comparison:
 * AdamW, Adam, SGD, Adagrad and RMSprop, the optimizers whose optc library programs follow torch.optim's
 * formulas and hyper names. They take the optc program's resolved hyper values, so both sides run the same
 * numbers, and the same {@link ParamGroup}s (one libtorch param group each).
 *
 * <p>The runner never calls libtorch's {@code zero_grad}: in libtorch 2.x it sets gradients to undefined, and
 * the next backward would allocate new ones outside the gradient buffer. The trainer zeroes the buffer instead.
 */
public final class TorchStepRunner implements StepRunner {
  /** The library optimizers that have a libtorch peer. */
  public static final Set<String> PEERS = Set.of("adamw", "adam", "sgd", "adagrad", "rmsprop");

  private final String name;
  private final Map<String, Double> hypers;
  private final FlatParameters params;
  private final List<Optimizer> optimizers;

  private TorchStepRunner(String name, Map<String, Double> hypers, FlatParameters params) {
    this.name = name;
    this.hypers = hypers;
    this.params = params;
    var made = new ArrayList<Optimizer>();
    for (var group : ParamGroup.of(params)) {
      var tensors = vector(params, group.tensors());
      var h = group.hypers(hypers);
      // libtorch's Adagrad makes each parameter's state in its constructor, not in add_param_group (step then fails
      // "state found NULL"): it gets one optimizer per group, the same arithmetic, as its state is per parameter.
      if (made.isEmpty() || name.equals("adagrad")) {
        made.add(create(name, tensors, h));
      } else {
        // The new group's options start as a copy of the optimizer's defaults (the first group's).
        var first = made.getFirst();
        first.add_param_group(new OptimizerParamGroup(tensors));
        var options = first.param_groups().get(first.param_groups().size() - 1).options();
        weightDecay(name, options).put(h.get("weight_decay"));
      }
    }
    if (made.isEmpty()) {
      throw new OptcException("the model has no parameters to optimize");
    }
    this.optimizers = List.copyOf(made);
  }

  private static TensorVector vector(FlatParameters params, List<Integer> indices) {
    var v = new TensorVector();
    for (int i : indices) {
      v.push_back(params.variables().get(i));
    }
    return v;
  }

  /** Whether libtorch has a peer of the optimizer called {@code name}. */
  public static boolean hasPeer(String name) {
    return PEERS.contains(name);
  }

  /**
   * A factory for libtorch's {@code name}.
   *
   * @param hypers every hyper of optc's library program of that name, resolved (its defaults and the user's values)
   * @throws OptcException libtorch has no such optimizer, or no option for a hyper that is not at its neutral value
   */
  public static Factory factory(String name, Map<String, Double> hypers) {
    if (!hasPeer(name)) {
      throw new OptcException("libtorch has no peer of '" + name + "' (peers: adamw, adam, sgd, adagrad, rmsprop)");
    }
    var used = Map.copyOf(hypers);
    for (var h : used.entrySet()) {
      if (!options(name).contains(h.getKey()) && h.getValue() != 0) {
        throw new OptcException("libtorch's " + name + " has no option '" + h.getKey() + "' (set to " + h.getValue()
            + "); leave it at 0 or drop --peers");
      }
    }
    return new Factory(name, "libtorch", module -> {
      var params = FlatParameters.bind(module);
      try {
        return new TorchStepRunner(name, used, params);
      } catch (RuntimeException | Error e) {
        params.close();
        throw e;
      }
    });
  }

  /** The optc hyper names libtorch's options cover, per optimizer. */
  private static List<String> options(String name) {
    return switch (name) {
      case "adamw", "adam" -> List.of("lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad");
      case "sgd" -> List.of("lr", "momentum", "dampening", "weight_decay", "nesterov");
      case "adagrad" -> List.of("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps");
      case "rmsprop" -> List.of("lr", "alpha", "eps", "weight_decay", "momentum", "centered");
      default -> List.of();
    };
  }

  private static Optimizer create(String name, TensorVector params, Map<String, Double> h) {
    return switch (name) {
      case "adamw" -> {
        var o = new AdamWOptions(h.get("lr"));
        betas(o.betas(), h);
        o.eps().put(h.get("eps"));
        o.weight_decay().put(h.get("weight_decay"));
        o.amsgrad().put(h.get("amsgrad") != 0);
        yield new AdamW(params, o);
      }
      case "adam" -> {
        var o = new AdamOptions(h.get("lr"));
        betas(o.betas(), h);
        o.eps().put(h.get("eps"));
        o.weight_decay().put(h.get("weight_decay"));
        o.amsgrad().put(h.get("amsgrad") != 0);
        yield new Adam(params, o);
      }
      case "sgd" -> {
        var o = new SGDOptions(h.get("lr"));
        o.momentum().put(h.get("momentum"));
        o.dampening().put(h.get("dampening"));
        o.weight_decay().put(h.get("weight_decay"));
        o.nesterov().put(h.get("nesterov") != 0);
        yield new SGD(params, o);
      }
      case "adagrad" -> {
        var o = new AdagradOptions(h.get("lr"));
        o.lr_decay().put(h.get("lr_decay"));
        o.weight_decay().put(h.get("weight_decay"));
        o.initial_accumulator_value().put(h.get("initial_accumulator_value"));
        o.eps().put(h.get("eps"));
        yield new Adagrad(params, o);
      }
      case "rmsprop" -> {
        var o = new RMSpropOptions(h.get("lr"));
        o.alpha().put(h.get("alpha"));
        o.eps().put(h.get("eps"));
        o.weight_decay().put(h.get("weight_decay"));
        o.momentum().put(h.get("momentum"));
        o.centered().put(h.get("centered") != 0);
        yield new RMSprop(params, o);
      }
      default -> throw new IllegalArgumentException(name);
    };
  }

  /** The weight_decay field of a param group's options, whose C++ type is {@code name}'s options class. */
  private static DoublePointer weightDecay(String name, OptimizerOptions options) {
    return switch (name) {
      case "adamw" -> new AdamWOptions(options).weight_decay();
      case "adam" -> new AdamOptions(options).weight_decay();
      case "sgd" -> new SGDOptions(options).weight_decay();
      case "adagrad" -> new AdagradOptions(options).weight_decay();
      case "rmsprop" -> new RMSpropOptions(options).weight_decay();
      default -> throw new IllegalArgumentException(name);
    };
  }

  /**
   * Sets {@code std::tuple<double, double> betas}. libstdc++ lays a tuple's elements out last first, so the
   * JavaCPP pointer's element 0 is beta2; the defaults (0.9, 0.999) tell which order this build has.
   */
  private static void betas(DoublePointer betas, Map<String, Double> h) {
    boolean reversed = betas.get(0) == 0.999 && betas.get(1) == 0.9;
    boolean inOrder = betas.get(0) == 0.9 && betas.get(1) == 0.999;
    if (!reversed && !inOrder) {
      throw new IllegalStateException("cannot tell the order of libtorch's betas (" + betas.get(0) + ", "
          + betas.get(1) + ")");
    }
    betas.put(reversed ? 1 : 0, h.get("beta1"));
    betas.put(reversed ? 0 : 1, h.get("beta2"));
  }

  @Override
  public String optimizer() {
    return name;
  }

  @Override
  public String runner() {
    return "libtorch";
  }

  @Override
  public Map<String, Double> hypers() {
    var shown = new LinkedHashMap<String, Double>();
    for (var k : options(name)) {
      shown.put(k, hypers.get(k));
    }
    return shown;
  }

  @Override
  public void step() {
    for (var o : optimizers) {
      o.step().close();
    }
  }

  @Override
  public void close() {
    optimizers.forEach(Optimizer::close);
    params.close();
  }

  @Override
  public FlatParameters params() {
    return params;
  }
}
