package dev.optc.compiler.codegen.java;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.NameAllocator;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.optc.compiler.codegen.Literals;
import dev.optc.compiler.codegen.ValueNames;
import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.Infix;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.lang.model.element.Modifier;

/**
 * Generates the Java reference for a plan with JavaPoet: one readable class per optimizer and precision,
 * one method per phase, a comment per DSL statement, names from the source, bit-exact literals.
 *
 * <p>Each phase method has up to four sections, in this order: per-tensor values (hoisted uniforms,
 * earlier reductions, scalar states), a loop over rows and one over columns for row/column values, and
 * the loop over elements. Stores of per-element buffers happen in the element loop after every value of
 * that element is computed; stores of row, column and scalar states happen after all loops, so no section
 * reads a value another section of the same phase already replaced. Reductions accumulate in float64.
 */
public final class JavaEmitter {
  public static final String PACKAGE = "dev.optc.generated";

  /** Arithmetic of the generated code. */
  public enum Precision {
    /** float arithmetic, the reference every backend is tested against. */
    F32,
    /** double arithmetic and double buffers, for measuring the error of F32. */
    F64;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final Plan plan;
  private final IrProgram program;
  private final Precision precision;
  private final TypeName elem;
  private final Map<Node, Integer> statementOf = new HashMap<>();

  private JavaEmitter(Plan plan, Precision precision) {
    this.plan = plan;
    this.program = plan.program();
    this.precision = precision;
    this.elem = precision == Precision.F32 ? TypeName.FLOAT : TypeName.DOUBLE;
    // The first statement that computes each value (one walk, not one per statement).
    statementOf.putAll(Graph.firstReachedBy(program.bindings().stream().map(IrProgram.Binding::value)
        .toList()));
  }

  public static String className(IrProgram p, Precision precision) {
    var sb = new StringBuilder();
    boolean upper = true;
    for (char c : p.name().toCharArray()) {
      if (Character.isLetterOrDigit(c)) {
        sb.append(upper ? Character.toUpperCase(c) : c);
        upper = false;
      } else {
        upper = true;
      }
    }
    if (sb.isEmpty() || !Character.isJavaIdentifierStart(sb.charAt(0))) {
      sb.insert(0, "Opt");
    }
    return sb + (precision == Precision.F32 ? "F32" : "F64") + "Step";
  }

  /** The class name for a plan: fusion levels other than full say so in the name. */
  public static String className(Plan plan, Precision precision) {
    var base = className(plan.program(), precision);
    return plan.fusion() == dev.optc.compiler.plan.Fusion.FULL ? base
        : base.replace("Step", switch (plan.fusion()) {
          case FULL -> "";
          case STATEMENT -> "StatementStep";
          case NONE -> "UnfusedStep";
        });
  }

  public static JavaFile emit(Plan plan, Precision precision) {
    return new JavaEmitter(plan, precision).file();
  }

  /** Buffer names in {@link JavaStep} order: w, g, the states, then the plan's temporaries. */
  private List<String> buffers() {
    var names = new ArrayList<String>(List.of("w", "g"));
    program.states().forEach(s -> names.add(s.name()));
    for (int i = 0; i < plan.temps().size(); i++) {
      names.add(Plan.tempName(i));
    }
    return names;
  }

  /** Position of each buffer in {@link #buffers()} (looked up at every element access). */
  private Map<String, Integer> bufferIndex() {
    if (bufferIndex == null) {
      bufferIndex = new HashMap<>();
      var all = buffers();
      for (int i = 0; i < all.size(); i++) {
        bufferIndex.putIfAbsent(all.get(i), i);
      }
    }
    return bufferIndex;
  }

  private Map<String, Integer> bufferIndex;

  private static String locationName(Plan.Location at) {
    return Plan.bufferOf(at);
  }

  private JavaFile file() {
    var type = TypeSpec.classBuilder(className(plan, precision))
        .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
        .addSuperinterface(ParameterizedTypeName.get(ClassName.get(JavaStep.class), ArrayTypeName.of(elem)))
        .addJavadoc("$L: one optimizer step in $L, generated by optc from $L.\n",
            program.name(), precision == Precision.F32 ? "float32" : "float64", program.source().name())
        .addJavadoc("\n<p>Buffers: $L. The per-element buffer at position k in this list holds its data from"
            + " index $L·k on (JavaStep.stagger).\n", String.join(", ", buffers()), JavaStep.STAGGER);
    for (int i = 0; i < program.hoisted().size(); i++) {
      type.addJavadoc("<br>u$L = $L\n", i, Infix.print(program.hoisted().get(i)));
    }
    type.addMethod(MethodSpec.methodBuilder("phases")
        .addAnnotation(Override.class).addModifiers(Modifier.PUBLIC).returns(int.class)
        .addStatement("return $L", plan.phases().size()).build());
    var chunkable = CodeBlock.builder().add("return switch (phase) {\n").indent();
    var run = CodeBlock.builder().beginControlFlow("switch (phase)");
    var args = new ArrayList<String>();
    for (int i = 0, n = buffers().size(); i < n; i++) {
      args.add("b[" + i + "]");
    }
    for (var phase : plan.phases()) {
      var method = new PhaseEmitter(phase).method();
      type.addMethod(method.spec);
      chunkable.add("case $L -> $L;\n", phase.index(), method.chunkable);
      run.add("case $L -> $N(s, $L, u, red, lo, hi);\n", phase.index(), method.spec, String.join(", ", args));
    }
    chunkable.add("default -> throw new $T(\"no phase \" + phase);\n", IllegalArgumentException.class)
        .unindent().add("};\n");
    run.add("default -> throw new $T(\"no phase \" + phase);\n", IllegalArgumentException.class)
        .endControlFlow();
    type.addMethod(MethodSpec.methodBuilder("chunkable")
        .addAnnotation(Override.class).addModifiers(Modifier.PUBLIC).returns(boolean.class)
        .addParameter(int.class, "phase").addCode(chunkable.build()).build());
    type.addMethod(MethodSpec.methodBuilder("run")
        .addAnnotation(Override.class).addModifiers(Modifier.PUBLIC)
        .addParameter(int.class, "phase")
        .addParameter(JavaStep.Segment.class, "s")
        .addParameter(ArrayTypeName.of(ArrayTypeName.of(elem)), "b")
        .addParameter(double[].class, "u")
        .addParameter(double[][].class, "red")
        .addParameter(int.class, "lo")
        .addParameter(int.class, "hi")
        .addCode(run.build()).build());
    return JavaFile.builder(PACKAGE, type.build())
        .addFileComment("Generated by optc from $L. Do not edit: change the .opt file instead.",
            program.source().name())
        .addStaticImport(Ops.class, "sign", "bf16", "f16")
        .skipJavaLangImports(true)
        .build();
  }

  private record Method(MethodSpec spec, boolean chunkable) {}

  /** Where a value is computed inside a phase method. */
  private enum Section {
    TENSOR,
    ROW,
    COL,
    ELEM;

    static Section of(Kind k) {
      return switch (k) {
        case CONST, UNIFORM -> TENSOR;
        case ROW -> ROW;
        case COL -> COL;
        case ELEM -> ELEM;
      };
    }
  }

  /** Emits one phase. */
  private final class PhaseEmitter {
    private final Plan.Phase phase;
    private final NameAllocator names = new NameAllocator();
    private final Map<Node, String> local = new HashMap<>();
    private final Map<String, String> bufferName = new LinkedHashMap<>();
    private final ValueNames valueNames = new ValueNames(program);
    private final Guards.PhaseGuards guards;
    private boolean nested;

    PhaseEmitter(Plan.Phase phase) {
      this.phase = phase;
      this.guards = Guards.of(plan, phase);
      for (var reserved : List.of("s", "u", "red", "lo", "hi", "i", "r", "c", "end")) {
        names.newName(reserved, reserved);
      }
      for (var b : buffers()) {
        bufferName.put(b, names.newName(Plan.isTemp(b) ? b.substring(1) : b, "buf:" + b));
      }
    }

    private List<Node> needed() {
      var list = new ArrayList<>(plan.needed(phase));
      list.sort(Comparator.<Node>comparingInt(n -> statementOf.getOrDefault(n, Integer.MAX_VALUE))
          .thenComparingInt(Node::id));
      return list;
    }

    private String nameFor(Node n) {
      var reduction = n instanceof Node.Reduce r ? r.op().symbol() + plan.reductionSlot(r) : null;
      return names.newName(valueNames.suggest(n, reduction), n);
    }

    private String literal(double v) {
      return precision == Precision.F32 ? Literals.JAVA_FLOAT.f32(v) : Literals.f64(v);
    }

    /** The expression that reads {@code n}'s value inside a loop over {@code where}. */
    private String ref(Node n, Section where) {
      if (n instanceof Node.Const c) {
        return literal(c.value());
      }
      var name = local.get(n);
      return switch (Section.of(n.kind())) {
        case TENSOR -> name;
        case ROW -> {
          nested |= where == Section.ELEM;
          yield name + "[r]";
        }
        case COL -> {
          nested |= where == Section.ELEM;
          yield name + "[c]";
        }
        case ELEM -> name;
      };
    }

    private String condition(Guards.Guard g) {
      return local.get(g.cond()) + (g.whenNonZero() ? " != " : " == ") + zero();
    }

    private String cast(String javaMath) {
      return precision == Precision.F32 ? "(float) " + javaMath : javaMath;
    }

    private String zero() {
      return precision == Precision.F32 ? "0f" : "0.0";
    }

    private String one() {
      return precision == Precision.F32 ? "1f" : "1.0";
    }

    /** Element {@code i} of per-element buffer {@code key}, which starts {@link JavaStep#stagger} in. */
    private String elemAt(String key) {
      int start = JavaStep.stagger(bufferIndex().getOrDefault(key, -1));
      return bufferName.get(key) + (start == 0 ? "[i]" : "[i + " + start + "]");
    }

    /** The computation of {@code n} in section {@code where}, its inputs read through {@link #ref}. */
    private String compute(Node n, Section where) {
      if (plan.locations().containsKey(n) && plan.available(phase, n)) {
        return readBack(n);
      }
      return switch (n) {
        case Node.Const c -> literal(c.value());
        case Node.Uniform u -> cast("u[" + u.slot() + "]");
        case Node.Reduce r -> switch (r.op()) {
          case SUM, MAXABS, GLOBAL_SUM -> cast("red[" + plan.reductionSlot(r) + "][s.index()]");
          case ROWSUM -> cast("red[" + plan.reductionSlot(r) + "][s.rowOffset() + r]");
          case COLSUM -> cast("red[" + plan.reductionSlot(r) + "][s.colOffset() + c]");
        };
        case Node.Load l -> {
          var buf = bufferName.get(l.buffer());
          var guard = guards.loads().get(l);
          yield switch (l.kind()) {
            // Not needed while its flag is off: then the array is not read at all.
            case ELEM -> guard == null ? elemAt(l.buffer())
                : "(" + condition(guard) + " ? " + elemAt(l.buffer()) + " : " + zero() + ")";
            case ROW -> buf + "[s.rowOffset() + r]";
            case COL -> buf + "[s.colOffset() + c]";
            case UNIFORM, CONST -> buf + "[s.index()]";
          };
        }
        case Node.Hyper h -> throw new IllegalStateException("hyper " + h.name() + " was not hoisted");
        case Node.Step s -> throw new IllegalStateException("t was not hoisted");
        case Node.Size s -> throw new IllegalStateException("size was not hoisted");
        case Node.Unary u -> {
          var x = ref(u.x(), where);
          yield switch (u.op()) {
            case NEG -> "-(" + x + ")";
            case NOT -> "(" + x + " == " + zero() + " ? " + one() + " : " + zero() + ")";
            case ABS -> "Math.abs(" + x + ")";
            case SIGN -> "sign(" + x + ")";
            case SQRT -> cast("Math.sqrt(" + x + ")");
            // 1/sqrt rounded twice in float32, as torch's CPU rsqrt and the C backends compute it.
            case RSQRT -> precision == Precision.F32 ? "1f / (float) Math.sqrt(" + x + ")"
                : "1.0 / Math.sqrt(" + x + ")";
            case EXP -> cast("Math.exp(" + x + ")");
            case LOG -> cast("Math.log(" + x + ")");
            case TANH -> cast("Math.tanh(" + x + ")");
            case SIN -> cast("Math.sin(" + x + ")");
            case COS -> cast("Math.cos(" + x + ")");
            case FLOOR -> cast("Math.floor(" + x + ")");
          };
        }
        case Node.Binary b -> {
          var x = ref(b.a(), where);
          var y = ref(b.b(), where);
          yield switch (b.op()) {
            case ADD, SUB, MUL, DIV -> x + " " + b.op().symbol() + " " + y;
            case POW -> cast("Math.pow(" + x + ", " + y + ")");
            case MIN -> "Math.min(" + x + ", " + y + ")";
            case MAX -> "Math.max(" + x + ", " + y + ")";
            case LT, LE, GT, GE, EQ, NE ->
                "(" + x + " " + b.op().symbol() + " " + y + " ? " + one() + " : " + zero() + ")";
            case AND -> "(" + x + " != " + zero() + " && " + y + " != " + zero() + " ? " + one() + " : "
                + zero() + ")";
            case OR -> "(" + x + " != " + zero() + " || " + y + " != " + zero() + " ? " + one() + " : "
                + zero() + ")";
          };
        }
        case Node.Select s -> "(" + ref(s.cond(), where) + " != " + zero() + " ? " + ref(s.a(), where)
            + " : " + ref(s.b(), where) + ")";
      };
    }

    private String store(String buffer, String value) {
      if (precision == Precision.F64 || buffer.equals("w") || Plan.isTemp(buffer)) {
        return value;
      }
      return switch (program.state(buffer).dtype()) {
        case F32 -> value;
        case BF16 -> "bf16(" + value + ")";
        case F16 -> "f16(" + value + ")";
      };
    }

    private Kind kindOf(Plan.Location at) {
      return switch (at) {
        case Plan.Location.Buffer b -> b.name().equals("w") ? Kind.ELEM : program.state(b.name()).shape().kind();
        case Plan.Location.Temp t -> t.kind();
      };
    }

    /** Reads a value an earlier phase wrote, from where it was written. */
    private String readBack(Node n) {
      var at = plan.locations().get(n);
      var buf = bufferName.get(locationName(at));
      return switch (kindOf(at)) {
        case ELEM -> elemAt(locationName(at));
        case ROW -> buf + "[s.rowOffset() + r]";
        case COL -> buf + "[s.colOffset() + c]";
        case UNIFORM, CONST -> buf + "[s.index()]";
      };
    }

    Method method() {
      var needed = needed();
      var bySection = new LinkedHashMap<Section, List<Node>>();
      for (var s : Section.values()) {
        bySection.put(s, new ArrayList<>());
      }
      for (var n : needed) {
        bySection.get(Section.of(n.kind())).add(n);
        local.put(n, nameFor(n));
      }
      var code = CodeBlock.builder();
      var comments = new Comments();

      // Per-tensor values.
      for (var n : bySection.get(Section.TENSOR)) {
        if (n instanceof Node.Uniform u) {
          code.add("final $T $L = $L; // $L\n", elem, local.get(n), compute(n, Section.TENSOR),
              Infix.print(program.hoisted().get(u.slot())));
          continue;
        }
        comments.before(n, code);
        code.addStatement("final $T $L = $L", elem, local.get(n), compute(n, Section.TENSOR));
      }
      // Row and column values, kept in arrays for the element loop and deferred stores.
      for (var section : List.of(Section.ROW, Section.COL)) {
        var nodes = bySection.get(section);
        if (nodes.isEmpty() && !reducesIn(section)) {
          continue;
        }
        var index = section == Section.ROW ? "r" : "c";
        var count = section == Section.ROW ? "s.rows()" : "s.cols()";
        for (var n : nodes) {
          code.addStatement("final $T[] $L = new $T[$L]", elem, local.get(n), elem, count);
        }
        declareAccumulators(code, section);
        code.beginControlFlow("for (int $L = 0; $L < $L; $L++)", index, index, count, index);
        comments.reset();
        for (var n : nodes) {
          comments.before(n, code);
          code.addStatement("$L[$L] = $L", local.get(n), index, compute(n, section));
        }
        accumulate(code, section);
        code.endControlFlow();
      }
      // The element loop.
      var body = CodeBlock.builder();
      comments.reset();
      for (var n : bySection.get(Section.ELEM)) {
        comments.before(n, body);
        body.addStatement("final $T $L = $L", elem, local.get(n), compute(n, Section.ELEM));
      }
      boolean elemStores = false;
      for (var w : phase.writes()) {
        if (kindOf(w.location()) == Kind.ELEM) {
          var name = locationName(w.location());
          var guard = guards.stores().get(name);
          if (guard != null) {
            body.beginControlFlow("if ($L)", condition(guard));
          }
          body.addStatement("$L = $L", elemAt(name), store(name, ref(w.value(), Section.ELEM)));
          if (guard != null) {
            body.endControlFlow();
          }
          elemStores = true;
        }
      }
      var elemAccumulators = CodeBlock.builder();
      var accumulate = CodeBlock.builder();
      declareAccumulators(elemAccumulators, Section.ELEM);
      accumulate(accumulate, Section.ELEM);
      body.add(accumulate.build());
      boolean elemLoop = elemStores || !bySection.get(Section.ELEM).isEmpty() || reducesIn(Section.ELEM);
      if (elemLoop) {
        code.add(elemAccumulators.build());
        if (nested) {
          code.beginControlFlow("for (int r = 0; r < s.rows(); r++)")
              .beginControlFlow("for (int c = 0, i = s.offset() + r * s.cols(); c < s.cols(); c++, i++)")
              .add(body.build())
              .endControlFlow()
              .endControlFlow();
        } else {
          code.beginControlFlow("for (int i = s.offset() + lo, end = s.offset() + hi; i < end; i++)")
              .add(body.build())
              .endControlFlow();
        }
      }
      // Stores of row, column and scalar states, after every read of their old values.
      boolean otherStores = false;
      for (var w : phase.writes()) {
        var name = locationName(w.location());
        var buf = bufferName.get(name);
        switch (kindOf(w.location())) {
          case ROW -> code.beginControlFlow("for (int r = 0; r < s.rows(); r++)")
              .addStatement("$L[s.rowOffset() + r] = $L", buf, store(name, ref(w.value(), Section.ROW)))
              .endControlFlow();
          case COL -> code.beginControlFlow("for (int c = 0; c < s.cols(); c++)")
              .addStatement("$L[s.colOffset() + c] = $L", buf, store(name, ref(w.value(), Section.COL)))
              .endControlFlow();
          case UNIFORM, CONST -> code.addStatement("$L[s.index()] = $L", buf,
              store(name, ref(w.value(), Section.TENSOR)));
          case ELEM -> { }
        }
        otherStores |= kindOf(w.location()) != Kind.ELEM;
      }
      writeReductions(code);
      var method = MethodSpec.methodBuilder("phase" + phase.index())
          .addModifiers(Modifier.STATIC)
          .addJavadoc(describe())
          .addParameter(JavaStep.Segment.class, "s");
      for (var e : bufferName.entrySet()) {
        method.addParameter(ArrayTypeName.of(elem), e.getValue());
      }
      method.addParameter(double[].class, "u")
          .addParameter(double[][].class, "red")
          .addParameter(int.class, "lo")
          .addParameter(int.class, "hi")
          .addCode(code.build());
      boolean chunkable = !nested && phase.reductions().isEmpty() && !otherStores
          && bySection.get(Section.ROW).isEmpty() && bySection.get(Section.COL).isEmpty();
      return new Method(method.build(), chunkable);
    }

    private String describe() {
      var sb = new StringBuilder("Phase ").append(phase.index()).append(" of ").append(plan.phases().size());
      if (phase.label() != null) {
        sb.append(" (").append(phase.label().replace("$", "$$")).append(")");
      }
      if (!phase.writes().isEmpty()) {
        sb.append(": writes ").append(String.join(", ", phase.writes().stream()
            .map(w -> locationName(w.location())).toList()));
      }
      if (!phase.reductions().isEmpty()) {
        sb.append(phase.writes().isEmpty() ? ": " : "; ").append("reduces ").append(String.join(", ",
            phase.reductions().stream().map(r -> Infix.print(r, 4)).toList()));
      }
      return sb.append(".\n").toString();
    }

    /** The section where a reduction of this phase accumulates: that of its argument, or ELEM. */
    private Section accumulatesIn(Node.Reduce r) {
      return switch (r.op()) {
        case ROWSUM, COLSUM -> Section.ELEM;
        case SUM, MAXABS, GLOBAL_SUM -> Section.of(r.x().kind());
      };
    }

    private boolean reducesIn(Section s) {
      return phase.reductions().stream().anyMatch(r -> accumulatesIn(r) == s);
    }

    private String acc(Node.Reduce r) {
      return "acc" + plan.reductionSlot(r);
    }

    private void declareAccumulators(CodeBlock.Builder code, Section section) {
      for (var r : phase.reductions()) {
        if (accumulatesIn(r) != section) {
          continue;
        }
        switch (r.op()) {
          case SUM, MAXABS, GLOBAL_SUM -> code.addStatement("double $L = 0", acc(r));
          case ROWSUM -> code.addStatement("final double[] $L = new double[s.rows()]", acc(r));
          case COLSUM -> code.addStatement("final double[] $L = new double[s.cols()]", acc(r));
        }
      }
    }

    private void accumulate(CodeBlock.Builder code, Section section) {
      for (var r : phase.reductions()) {
        if (accumulatesIn(r) != section) {
          continue;
        }
        var x = ref(r.x(), section);
        switch (r.op()) {
          case SUM, GLOBAL_SUM -> code.addStatement("$L += $L", acc(r), x);
          case MAXABS -> code.addStatement("$L = Math.max($L, Math.abs((double) $L))", acc(r), acc(r), x);
          case ROWSUM -> {
            nested = true;
            code.addStatement("$L[r] += $L", acc(r), x);
          }
          case COLSUM -> {
            nested = true;
            code.addStatement("$L[c] += $L", acc(r), x);
          }
        }
      }
    }

    private void writeReductions(CodeBlock.Builder code) {
      for (var r : phase.reductions()) {
        int slot = plan.reductionSlot(r);
        switch (r.op()) {
          case SUM, MAXABS, GLOBAL_SUM -> code.addStatement("red[$L][s.index()] = $L", slot, acc(r));
          case ROWSUM -> code.addStatement("$T.arraycopy($L, 0, red[$L], s.rowOffset(), s.rows())",
              System.class, acc(r), slot);
          case COLSUM -> code.addStatement("$T.arraycopy($L, 0, red[$L], s.colOffset(), s.cols())",
              System.class, acc(r), slot);
        }
      }
    }
  }

  /** Emits "// statement" once before the first value of each DSL statement in a section. */
  private final class Comments {
    private int last = -1;

    void reset() {
      last = -1;
    }

    void before(Node n, CodeBlock.Builder code) {
      var s = statementOf.get(n);
      if (s != null && s != last) {
        var text = program.bindings().get(s).span().text().replaceAll("\\s+", " ").strip();
        code.add("// $L\n", text.replace("$", "$$"));
        last = s;
      }
    }
  }
}
