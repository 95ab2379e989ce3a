package dev.optc.compiler.ir;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * Bottom-up rewriting of a DAG, each node visited once (memoized), without recursion so that deep
 * expressions cannot overflow the stack. The rule sees a node whose inputs are already rewritten and
 * returns its replacement (or the node itself).
 */
public final class Rewriter implements UnaryOperator<Node> {
  private final NodeFactory factory;
  private final UnaryOperator<Node> rule;
  private final UnaryOperator<Node> replace;
  private final Map<Node, Node> done = new HashMap<>();

  public Rewriter(NodeFactory factory, UnaryOperator<Node> rule) {
    this(factory, n -> null, rule);
  }

  /**
   * @param replace consulted first, on the original node: a non-null result replaces the node whole and
   *     its inputs are not visited
   * @param rule applied bottom-up to each node rebuilt over its rewritten inputs
   */
  public Rewriter(NodeFactory factory, UnaryOperator<Node> replace, UnaryOperator<Node> rule) {
    this.factory = factory;
    this.replace = replace;
    this.rule = rule;
  }

  @Override
  public Node apply(Node root) {
    var stack = new ArrayDeque<Node>();
    stack.push(root);
    while (!stack.isEmpty()) {
      var n = stack.peek();
      if (done.containsKey(n)) {
        stack.pop();
        continue;
      }
      var whole = replace.apply(n);
      if (whole != null) {
        stack.pop();
        done.put(n, whole);
        continue;
      }
      boolean ready = true;
      for (var in : n.inputs()) {
        if (!done.containsKey(in)) {
          stack.push(in);
          ready = false;
        }
      }
      if (!ready) {
        continue;
      }
      stack.pop();
      var inputs = new ArrayList<Node>(n.inputs().size());
      n.inputs().forEach(in -> inputs.add(done.get(in)));
      done.put(n, rule.apply(factory.withInputs(n, inputs)));
    }
    return done.get(root);
  }
}
