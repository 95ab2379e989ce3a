package dev.optc.compiler.codegen.c;

import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Plan;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A plan's buffers as kernels see them: the order of their parameters, and the kind and type of each. */
final class Buffers {
  private final Plan plan;
  private final Map<String, IrProgram.StateInfo> states = new HashMap<>();
  private final List<String> order = new ArrayList<>();
  private final Quantization quant;

  Buffers(Plan plan) {
    this.plan = plan;
    this.quant = Quantization.of(plan.program());
    plan.program().states().forEach(s -> states.put(s.name(), s));
    order.addAll(List.of("w", "g"));
    plan.program().states().forEach(s -> order.add(s.name()));
    for (int i = 0; i < plan.temps().size(); i++) {
      order.add(Plan.tempName(i));
    }
  }

  /** w, g, the states, then the plan's temporaries: the order of buffer parameters. */
  List<String> order() {
    return order;
  }

  /** The map of quantized state {@code buffer}, or null where it is not quantized. */
  QuantMap map(String buffer) {
    return quant.map(buffer);
  }

  Quantization quantization() {
    return quant;
  }

  Dtype dtype(String buffer) {
    return buffer.equals("w") || buffer.equals("g") || Plan.isTemp(buffer) ? Dtype.F32
        : states.get(buffer).dtype();
  }

  Kind kind(String buffer) {
    return buffer.equals("w") || buffer.equals("g") ? Kind.ELEM
        : Plan.isTemp(buffer) ? plan.temps().get(Integer.parseInt(buffer.substring(4)))
        : states.get(buffer).shape().kind();
  }

  Kind kind(Plan.Location at) {
    return switch (at) {
      case Plan.Location.Buffer b -> b.name().equals("w") ? Kind.ELEM : states.get(b.name()).shape().kind();
      case Plan.Location.Temp t -> t.kind();
    };
  }
}
