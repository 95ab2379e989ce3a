package dev.optc.compiler.ir;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

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

  /**
   * For every node reachable from {@code roots}, the index of the first root that reaches it. Each node
   * is visited once: a node already claimed by an earlier root has all its inputs claimed too.
   */
  public static Map<Node, Integer> firstReachedBy(List<Node> roots) {
    var first = new HashMap<Node, Integer>();
    var stack = new ArrayDeque<Node>();
    for (int i = 0; i < roots.size(); i++) {
      stack.push(roots.get(i));
      while (!stack.isEmpty()) {
        var n = stack.pop();
        if (first.putIfAbsent(n, i) == null) {
          n.inputs().forEach(stack::push);
        }
      }
    }
    return first;
  }

  public static Set<Node> reachable(Collection<Node> roots) {
    return new HashSet<>(topological(roots));
  }

  /** Whether {@code root} depends on a node satisfying {@code test} (itself included). */
  public static boolean dependsOn(Node root, Predicate<Node> test) {
    // A plain search that stops at the first match: no sort, each shared node visited once.
    var seen = new HashSet<Node>();
    var stack = new ArrayDeque<Node>();
    stack.push(root);
    while (!stack.isEmpty()) {
      var n = stack.pop();
      if (seen.add(n)) {
        if (test.test(n)) {
          return true;
        }
        n.inputs().forEach(stack::push);
      }
    }
    return false;
  }
}
