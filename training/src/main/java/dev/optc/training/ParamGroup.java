package dev.optc.training;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A parameter group the way users write them for AdamW: the matrices and embeddings take weight decay, the
 * biases and norm gains (every tensor of fewer than two dimensions) do not. Every runner builds the same groups.
 *
 * @param decay whether the group takes weight decay
 * @param tensors indices into {@link FlatParameters#params()}
 */
public record ParamGroup(boolean decay, List<Integer> tensors) {
  public ParamGroup {
    tensors = List.copyOf(tensors);
  }

  /** The non-empty groups of {@code params}: decayed first. */
  public static List<ParamGroup> of(FlatParameters params) {
    return of(params.params());
  }

  /** The non-empty groups of a module's parameters ({@link FlatParameters#layout}): decayed first. */
  public static List<ParamGroup> of(List<FlatParameters.Param> params) {
    var decay = new ArrayList<Integer>();
    var plain = new ArrayList<Integer>();
    for (int i = 0; i < params.size(); i++) {
      (params.get(i).decay() ? decay : plain).add(i);
    }
    var groups = new ArrayList<ParamGroup>();
    if (!decay.isEmpty()) {
      groups.add(new ParamGroup(true, decay));
    }
    if (!plain.isEmpty()) {
      groups.add(new ParamGroup(false, plain));
    }
    return groups;
  }

  /**
   * Whether {@code param} is a hidden matrix, the tensors Muon steps: two or more dimensions (a convolution's
   * filters are its matrix view, DSL.md §5), and neither an embedding table nor the output head, which {@code
   * embeddingsAndHead} names ({@link Task#embeddings()}, {@link Task#head()}). Biases and norm gains are vectors.
   */
  public static boolean hidden(FlatParameters.Param param, java.util.Set<String> embeddingsAndHead) {
    return param.shape().length >= 2 && !embeddingsAndHead.contains(param.name());
  }

  /** {@code hypers} for this group: {@code weight_decay} set to 0 in a group without decay. */
  public Map<String, Double> hypers(Map<String, Double> hypers) {
    if (decay) {
      return hypers;
    }
    var m = new HashMap<>(hypers);
    m.put("weight_decay", 0.0);
    return m;
  }
}
