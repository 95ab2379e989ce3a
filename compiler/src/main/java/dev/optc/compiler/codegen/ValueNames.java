package dev.optc.compiler.codegen;

import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Readable names for the values of generated code, shared by every backend: a buffer's value at the
 * start of the step is {@code m_0}, each assignment to a buffer a new version ({@code m_1}, {@code g_2}),
 * a local keeps its name, a hoisted hyper its name, and anything else is {@code v1}, {@code v2}, ….
 * A backend makes the suggestions unique in its own namespace.
 */
public final class ValueNames {
  private final IrProgram program;
  private final Map<Node, String> bindingTarget = new HashMap<>();
  private final Set<String> buffers = new HashSet<>();
  private final Map<String, Integer> versions = new HashMap<>();
  private int temporaries;

  public ValueNames(IrProgram program) {
    this.program = program;
    for (var b : program.bindings()) {
      bindingTarget.putIfAbsent(b.value(), b.target());
    }
    buffers.addAll(List.of("w", "g"));
    program.states().forEach(s -> buffers.add(s.name()));
  }

  /**
   * The DSL statement each value belongs to: the first binding whose value uses it. One walk over the
   * whole graph (a node reached from an earlier binding is not walked again), so a program of thousands
   * of statements that share values costs time linear in its size.
   */
  public static Map<Node, Integer> statements(IrProgram program) {
    return Graph.firstReachedBy(program.bindings().stream().map(IrProgram.Binding::value).toList());
  }

  /** The suggested name of {@code n}; call once per node and phase, in emission order. */
  public String suggest(Node n, String reductionName) {
    return switch (n) {
      case Node.Load l -> l.buffer().replace("%", "") + "_0";
      case Node.Uniform u -> program.hoisted().get(u.slot()) instanceof Node.Hyper h ? h.name() : "u" + u.slot();
      case Node.Reduce r -> reductionName;
      default -> {
        var target = bindingTarget.get(n);
        if (target == null) {
          yield "v" + (++temporaries);
        }
        boolean buffer = buffers.contains(target);
        int v = versions.merge(target, 1, Integer::sum);
        yield buffer ? target + "_" + v : (v == 1 ? target : target + "_" + v);
      }
    };
  }
}
