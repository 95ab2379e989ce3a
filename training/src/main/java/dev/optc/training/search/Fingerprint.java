package dev.optc.training.search;

import dev.optc.compiler.diag.Diagnostics;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.frontend.Checker;
import dev.optc.compiler.frontend.SyntaxParser;
import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.Interpreter;
import dev.optc.compiler.ir.IrPrinter;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.pass.Cse;
import dev.optc.compiler.pass.Dce;
import dev.optc.compiler.pass.Pass;
import dev.optc.compiler.pass.Simplify;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The two keys of the fitness cache. {@link #structural}: the compiler's optimized IR (after folding, CSE and
 * dead-code elimination) as a hash of each stored value's DAG (commutative operands in a fixed order), without the
 * program's name, the per-statement bindings
 * (dead statements keep theirs), metrics and states that do not reach {@code w} ({@link #updateOnly}), so two programs that differ only in dead code or in the spelling of the same
 * arithmetic share one key. {@link #functional}: the weights after a few steps of the reference interpreter
 * (float64) on fixed random inputs, rounded to 6 significant digits, so programs that compute the same update
 * in different ways share one too.
 */
public final class Fingerprint {
  private Fingerprint() {}

  static final int ROWS = 3;
  static final int COLS = 5;
  static final int STEPS = 4;

  /**
   * The structural hash of a program's text, or null when it does not compile. The pipeline runs without hoisting
   * (hoisted uniforms of dead outputs would stay in the key), then again after {@link #updateOnly}.
   */
  public static String structural(String text) {
    var diags = new Diagnostics();
    var ast = SyntaxParser.parse(SourceFile.of("candidate.opt", text), diags);
    if (diags.hasErrors()) {
      return null;
    }
    var ir = Checker.check(ast, diags);
    if (diags.hasErrors()) {
      return null;
    }
    var passes = List.<Pass>of(new Simplify(), new Cse(), new Dce());
    for (var pass : passes) {
      ir = pass.run(ir);
    }
    ir = updateOnly(ir);
    for (var pass : passes) {
      ir = pass.run(ir);
    }
    // The key: each root as a hash of its DAG, the operands of a commutative operation in a fixed order (the
    // factory orders them by creation, which follows the order of the source's statements, dead ones included).
    var memo = new java.util.IdentityHashMap<Node, String>();
    var sb = new StringBuilder();
    for (var h : ir.hypers()) {
      sb.append("hyper ").append(h.name()).append(" = ").append(canonical(h.defaultValue(), memo)).append('\n');
    }
    for (var st : ir.states()) {
      sb.append("state ").append(st.name()).append(' ').append(st.shape().label()).append(' ')
          .append(st.dtype().label()).append(" = ").append(canonical(st.init(), memo)).append('\n');
    }
    for (var o : ir.outputs()) {
      sb.append("store ").append(o.buffer()).append(" = ").append(canonical(o.value(), memo)).append('\n');
    }
    return sha(sb.toString());
  }

  /** A node's value as text: leaves spelled out, operations as a hash of the operation and its operands' texts. */
  private static String canonical(Node n, java.util.IdentityHashMap<Node, String> memo) {
    var known = memo.get(n);
    if (known != null) {
      return known;
    }
    var text = switch (n) {
      case Node.Const c -> IrPrinter.formatConst(c.value());
      case Node.Hyper h -> "hyper:" + h.name();
      case Node.Step st -> "t";
      case Node.Size sz -> "size:" + sz.which();
      case Node.Uniform u -> "u" + u.slot();
      case Node.Load l -> "load:" + l.buffer() + ":" + l.kind();
      case Node.Unary u -> sha(u.op() + " " + canonical(u.x(), memo) + " " + u.kind());
      case Node.Binary b -> {
        var x = canonical(b.a(), memo);
        var y = canonical(b.b(), memo);
        if (b.op().commutative() && x.compareTo(y) > 0) {
          var swap = x;
          x = y;
          y = swap;
        }
        yield sha(b.op() + " " + x + " " + y + " " + b.kind());
      }
      case Node.Select sel -> sha("select " + canonical(sel.cond(), memo) + " " + canonical(sel.a(), memo) + " "
          + canonical(sel.b(), memo) + " " + sel.kind());
      case Node.Reduce r -> sha(r.op() + " " + canonical(r.x(), memo) + " " + r.kind());
      case Node.Product m -> sha("mm " + canonical(m.a(), memo) + (m.transA() ? "ᵀ " : " ") + canonical(m.b(), memo)
          + (m.transB() ? "ᵀ " : " ") + m.kind());
    };
    memo.put(n, text);
    return text;
  }

  /**
   * {@code ir} reduced to what reaches the weights: the output of {@code w}, the states it reads (and the states
   * those read, ...) with their outputs; no metrics, no bindings, no hoisted uniforms (run it before hoisting). A state that is written
   * but never read on the way to {@code w} is dead for the search, though the compiler keeps storing it.
   */
  static IrProgram updateOnly(IrProgram ir) {
    var live = new java.util.LinkedHashSet<String>(List.of("w"));
    while (true) {
      var roots = new java.util.ArrayList<Node>();
      ir.outputs().stream().filter(o -> live.contains(o.buffer())).forEach(o -> roots.add(o.value()));
      var reads = new java.util.LinkedHashSet<String>(live);
      for (var n : Graph.reachable(roots)) {
        if (n instanceof Node.Load l) {
          reads.add(l.buffer());
        }
      }
      if (reads.equals(live)) {
        break;
      }
      live.addAll(reads);
    }
    return new IrProgram(ir.name(), ir.source(), ir.factory(), ir.hypers(),
        ir.states().stream().filter(s -> live.contains(s.name())).toList(),
        ir.outputs().stream().filter(o -> live.contains(o.buffer())).toList(), List.of(), List.of(), List.of(),
        live.contains(ir.evaluate()) ? ir.evaluate() : "w");
  }

  /** @param hypers the hyper values to run with (lr fixed by the caller so that it does not split keys) */
  public static String functional(IrProgram ir, Map<String, Double> hypers) {
    var random = new SplittableRandom(12345);
    var w = new double[ROWS * COLS];
    for (int i = 0; i < w.length; i++) {
      w[i] = random.nextGaussian();
    }
    var grads = new double[STEPS][ROWS * COLS];
    for (var g : grads) {
      for (int i = 0; i < g.length; i++) {
        g[i] = random.nextGaussian();
      }
    }
    var sb = new StringBuilder();
    try {
      var start = Interpreter.fresh(ir, ROWS, COLS, w, grads[0], hypers);
      var results = Interpreter.run(ir, List.of(start), hypers, STEPS, (t, k, d) -> grads[(int) t - 1],
          Interpreter.Precision.F64);
      for (var r : results) {
        for (double v : r.tensors().getFirst().w()) {
          sb.append(round(v)).append(',');
        }
        sb.append('\n');
      }
    } catch (RuntimeException e) {
      sb.append("fails: ").append(e.getClass().getName());
    }
    return sha(sb.toString());
  }

  private static String round(double v) {
    if (!Double.isFinite(v)) {
      return Double.toString(v);
    }
    if (Math.abs(v) < 1e-30) {
      return "0";
    }
    return new java.math.BigDecimal(v).round(new java.math.MathContext(6)).stripTrailingZeros().toString();
  }

  static String sha(String text) {
    try {
      var md = MessageDigest.getInstance("SHA-256");
      return HexFormat.of().formatHex(md.digest(text.getBytes(StandardCharsets.UTF_8)), 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
