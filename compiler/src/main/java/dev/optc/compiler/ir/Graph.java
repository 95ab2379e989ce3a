package dev.optc.compiler.ir;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Walks over DAGs: every node reachable from some roots, children before parents, by id. */
public final class Graph {
  private Graph() {}

  /** Every node reachable from {@code roots}, in topological order (ascending id, which is one). */
  public static List<Node> topological(Collection<Node> roots) {
    var seen = new HashSet<Node>();
    var stack = new ArrayDeque<Node>(roots);
    while (!stack.isEmpty()) {
      var n = stack.pop();
      if (seen.add(n)) {
        stack.addAll(n.inputs());
      }
    }
    var list = new ArrayList<>(seen);
    // Ids grow in creation order and a node is made after its inputs, so ids sort topologically.
    list.sort((a, b) -> Integer.compare(a.id(), b.id()));
    return list;
  }

  public static Set<Node> reachable(Collection<Node> roots) {
    return new HashSet<>(topological(roots));
  }

  /** Whether {@code root} depends on a node satisfying {@code test} (itself included). */
  public static boolean dependsOn(Node root, java.util.function.Predicate<Node> test) {
    return topological(List.of(root)).stream().anyMatch(test);
  }
}
