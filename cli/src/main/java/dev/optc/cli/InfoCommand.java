package dev.optc.cli;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.compiler.ir.Infix;
import dev.optc.compiler.ir.IrPrinter;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Cost;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "info", mixinStandardHelpOptions = true,
    description = {"Describe an optimizer: hypers and defaults, states, memory per parameter, bytes moved "
        + "and arithmetic per parameter per step, and its phases (kernels)."})
final class InfoCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "OPT", description = ".opt file or library name")
  String opt;

  @Mixin
  Common common;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CompileException {
    var out = spec.commandLine().getOut();
    var program = common.load(opt, spec.commandLine().getErr());
    var ir = program.ir();
    out.println("optimizer " + ir.name() + "  (" + program.source().name() + ")");
    out.println();
    out.println("hypers:");
    var values = HostEvaluator.hyperValues(ir, Map.of());
    for (var h : ir.hypers()) {
      double v = values.get(h.name());
      // A flag shows as it was written; one whose default is neither 0 nor 1 shows its number.
      var shown = h.flag() && (v == 0 || v == 1) ? String.valueOf(v == 1) : IrPrinter.formatConst(v);
      out.printf("  %-26s = %s%n", h.name(), shown);
    }
    if (ir.hypers().isEmpty()) {
      out.println("  (none)");
    }
    out.println();
    out.println("states:");
    var plan = Planner.plan(ir, Fusion.FULL);
    // A flag state takes memory only once its flag is on (Guards.flagStates): counted for the defaults only if
    // its flag's default turns it on, and listed per flag.
    var flagStates = new LinkedHashMap<String, Guards.FlagState>();
    Guards.flagStates(plan).forEach(f -> flagStates.put(f.state(), f));
    var quant = Quantization.of(ir);
    double stateBytes = 0;
    var extra = new LinkedHashMap<String, List<IrProgram.StateInfo>>();
    var inputs = new ArrayList<String>();
    for (var s : ir.states()) {
      var init = s.initFromWeights() ? "w (a copy of the weights, taken before the first step)" : Infix.print(s.init());
      var f = flagStates.get(s.name());
      var map = quant.map(s.name());
      out.printf("  %-26s %-6s %-5s %s%s%s%n", s.name(), s.shape().label(), s.dtype().label(),
          s.input() ? "input: supplied by the caller (setInput; simulate --input)" : "init " + init,
          map == null ? "" : "  (" + (map.signed() ? "signed map" : "unsigned map: never negative") + ", blocks of "
              + map.block() + ")",
          f == null ? "" : "  (memory only while " + when(f) + ")");
      if (s.shape().kind() != Kind.ELEM) {
        continue;
      }
      if (s.input()) {
        inputs.add(s.name());
      } else if (f == null || f.neededAt(values.get(f.hyper()))) {
        stateBytes += bytesPerElement(quant, s);
      } else {
        extra.computeIfAbsent(when(f), k -> new ArrayList<>()).add(s);
      }
    }
    if (ir.states().isEmpty()) {
      out.println("  (none)");
    }
    out.println(ir.evaluate().equals("w")
        ? "  evaluate at: w (the weights)"
        : "  evaluate at: " + ir.evaluate() + " (evaluate " + ir.evaluate() + ": validate and export the model at this "
            + "state, not at w)");
    out.printf("  state bytes per parameter with the defaults: %s (row, col and scalar states add O(rows + cols) per tensor)%n",
        bytes(stateBytes));
    if (!inputs.isEmpty()) {
      out.printf("  + %d bytes per parameter of inputs the caller supplies (%s)%n", 4 * inputs.size(),
          String.join(", ", inputs));
    }
    if (quant.any()) {
      out.printf("  (quantized states: in tensors of %,d elements or more; smaller ones keep 4 bytes per element)%n",
          Quantization.DEFAULT_MIN_ELEMENTS);
      for (var a : quant.assumptions()) {
        out.printf("  (%s is never negative while %s, checked every step)%n", a.state(), a.describe());
      }
    }
    extra.forEach((when, states) -> out.printf("  + %s bytes per parameter while %s (%s: allocated when it is "
        + "first switched on)%n", bytes(states.stream().mapToDouble(s -> bytesPerElement(quant, s)).sum()), when,
        String.join(", ", states.stream().map(IrProgram.StateInfo::name).toList())));
    var cost = Cost.of(plan);
    out.println();
    if (quant.any()) {
      out.println("(moved bytes count a quantized state's code as 1 byte and leave out its block absmax values)");
    }
    out.printf("per parameter per step: %d bytes moved (lower bound %d: each input read once, each output "
        + "written once), %d flops%n", cost.bytesPerElement(), cost.lowerBound(), cost.flopsPerElement());
    if (cost.conditionalBytes() > 0) {
      out.printf("  + %d bytes per parameter only while a flag is on (its state is neither read nor written "
          + "while it is off)%n", cost.conditionalBytes());
    }
    out.printf("phases (kernels at fusion 'full'): %d%n", plan.phases().size());
    if (plan.hasProducts()) {
      out.println("  (per-element figures leave out products and passes over Gram matrices: those scale with rows²"
          + " and cols², and a product takes 2·m·n·k flops on the BLAS; and they count every phase, also those a"
          + " tensor skips: the side of a per-tensor select it does not take, the iterations a hyper turns off)");
    }
    for (var pc : cost.phases()) {
      var phase = plan.phases().get(pc.index());
      if (phase.products()) {
        out.printf("  phase %d: products on the BLAS: %s%n", pc.index(), String.join(", ", phase.writes().stream()
            .map(w -> Plan.bufferOf(w.location()) + " = " + product(plan, (Node.Product) w.value())).toList()));
        continue;
      }
      if (phase.domain() != Plan.Domain.ELEM) {
        var k = phase.domain().kind();
        out.printf("  phase %d: over the %s Gram matrices (%s): writes %s%s%n", pc.index(), k.label(), k.shape(),
            phase.writes().isEmpty() ? "-" : String.join(" ", phase.writes().stream()
                .map(w -> Plan.bufferOf(w.location())).toList()),
            phase.reductions().isEmpty() ? ""
                : "; reduces " + String.join(", ", phase.reductions().stream().map(r -> Infix.print(r, 3)).toList()));
        continue;
      }
      out.printf("  phase %d: reads %s (%d B), writes %s (%d B), %d flops/elem%s%s%n", pc.index(),
          pc.reads().isEmpty() ? "-" : String.join(" ", pc.reads()), pc.bytesRead(),
          pc.writes().isEmpty() ? "-" : String.join(" ", pc.writes()), pc.bytesWritten(), pc.flops(),
          phase.reductions().isEmpty() ? ""
              : "; reduces " + String.join(", ", phase.reductions().stream().map(r -> Infix.print(r, 3)).toList()),
          pc.conditional().isEmpty() ? "" : "; only while a flag is on: " + String.join(" ", pc.conditional()));
    }
    if (!ir.hoisted().isEmpty()) {
      out.println();
      out.println("per-tensor uniforms (computed once per tensor per step on the host):");
      for (int i = 0; i < ir.hoisted().size(); i++) {
        out.printf("  u%d = %s%n", i, Infix.print(ir.hoisted().get(i)));
      }
    }
    if (!ir.metrics().isEmpty()) {
      out.println();
      out.println("metrics:");
      ir.metrics().forEach(m -> out.printf("  %s = %s%n", m.name(), Infix.print(m.value())));
    }
    out.flush();
    return 0;
  }

  /** A product as the plan runs it, its operands named by where they live: {@code mm(%tmp0, tr(%tmp0)) → rr}. */
  private static String product(Plan plan, Node.Product m) {
    java.util.function.BiFunction<Node, Boolean, String> name = (x, tr) -> tr ? "tr(" + plan.operandBuffer(x) + ")"
        : plan.operandBuffer(x);
    return "mm(" + name.apply(m.a(), m.transA()) + ", " + name.apply(m.b(), m.transB()) + ") (" + m.kind().label()
        + ")";
  }

  private static String when(Guards.FlagState f) {
    return f.hyper() + " is " + (f.whenNonZero() ? "on" : "off");
  }

  /** Bytes a state keeps per element of a large tensor: its storage, a quantized one's codes plus absmax. */
  private static double bytesPerElement(Quantization quant, IrProgram.StateInfo s) {
    var map = quant.map(s.name());
    return map != null ? map.bytesPerElement() : s.dtype().bits() / 8.0;
  }

  /** 8, 2.03, 1.06: whole numbers as such, others to two decimals. */
  private static String bytes(double b) {
    return b == Math.rint(b) ? String.valueOf((long) b) : String.format(java.util.Locale.ROOT, "%.2f", b);
  }
}
