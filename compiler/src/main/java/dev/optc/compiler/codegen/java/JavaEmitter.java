package dev.optc.compiler.codegen.java;

import com.palantir.javapoet.ArrayTypeName;
import com.palantir.javapoet.ClassName;
import com.palantir.javapoet.CodeBlock;
import com.palantir.javapoet.FieldSpec;
import com.palantir.javapoet.JavaFile;
import com.palantir.javapoet.MethodSpec;
import com.palantir.javapoet.NameAllocator;
import com.palantir.javapoet.ParameterizedTypeName;
import com.palantir.javapoet.TypeName;
import com.palantir.javapoet.TypeSpec;
import dev.optc.compiler.codegen.Literals;
import dev.optc.compiler.codegen.ValueNames;
import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Infix;
import dev.optc.compiler.ir.IrProgram;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.ir.ReduceOp;
import dev.optc.compiler.plan.Guards;
import dev.optc.compiler.plan.Plan;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import javax.lang.model.element.Modifier;

/**
 * Generates the Java reference for a plan with JavaPoet: one readable class per optimizer and precision,
 * one method per phase, a comment per DSL statement, names from the source, bit-exact literals.
 *
 * <p>Storage: the float32 reference reads and writes {@link java.lang.foreign.MemorySegment}s
 * ({@code w.getAtIndex(JAVA_FLOAT, i)}), so one class runs on heap arenas and on native ones a
 * training framework shares; the float64 reference, which only measures float32's error and never shares
 * memory, keeps {@code double[]} arrays ({@code w[i]}).
 *
 * <p>Vector loops: C2 (JDK 25) does not auto-vectorize loops over memory segments. A float load from a
 * segment is an int load plus {@code Float.intBitsToFloat}, which SuperWord does not pack, and it cannot
 * tell two native segments apart, so it assumes they may overlap (measured: AdamW's loop over 32K
 * elements in cache, 13 µs on arrays, 100-145 µs on segments with int or long indices, native or heap,
 * separate or static final; a {@code FloatBuffer} view likewise). Where the running JVM has the Vector
 * API ({@code --add-modules jdk.incubator.vector}), the float32 element loop of a phase whose operations
 * all have an exact lanewise form (arithmetic, sqrt, min/max, comparisons, select, sign) is emitted twice:
 * a {@code FloatVector} loop over whole vectors, then the scalar loop for the rest (without it AdamW at 64M
 * parameters took 176 ms per step instead of 51, Lion 424 ms instead of 37). Every lanewise
 * operation rounds as its scalar form does, and sums over elements add each vector's lanes one by one in
 * the scalar loop's order, so the two loops compute the same bits. Phases with transcendental functions,
 * {@code pow}, row/column values or sums, or bf16/f16 stores stay scalar.
 *
 * <p>Each phase method has up to four sections, in this order: per-tensor values (hoisted uniforms,
 * earlier reductions, scalar states), a loop over rows and one over columns for row/column values, and
 * the loop over elements. Stores of per-element buffers happen in the element loop after every value of
 * that element is computed; stores of row, column and scalar states happen after all loops, so no section
 * reads a value another section of the same phase already replaced. Reductions accumulate in float64.
 */
public final class JavaEmitter {
  public static final String PACKAGE = "dev.optc.generated";

  /**
   * Above this many values, stores and reductions a phase is split: its code goes into helper methods of
   * at most {@link #PER_METHOD} statements that share its values through frame arrays. One method per
   * phase would pass the JVM's limit of 64 KB of bytecode per method at a few thousand statements, and
   * past 8,000 bytes the JIT no longer compiles it at all.
   */
  static final int SPLIT_ABOVE = 300;
  /**
   * Elements a phase gathers before it quantizes their new values: one q8 block, two q4 blocks. The engine's
   * element ranges start at multiples of it.
   */
  public static final int QUANT_BLOCK = 256;

  /** Statements per helper method of a split phase (a few thousand bytes of bytecode). */
  static final int PER_METHOD = 100;

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
  /** What a buffer is: a MemorySegment of floats (float32), a double[] (float64). */
  private final TypeName bufferType;
  /** Whether element loops may be emitted as Vector API loops too (float32 only). */
  private final boolean vectors;
  /** Whether some phase has a vector loop (the class then declares its lanes). */
  private boolean anyVector;
  /** Whether a vector loop sums over elements (the class then has {@code addLanes}). */
  private boolean sumsLanes;
  /** The comparisons vector loops use, statically imported from VectorOperators. */
  private final Set<String> comparisons = new TreeSet<>();
  private final Map<Node, Integer> statementOf;
  /** Buffer names in {@link JavaStep} order, and each one's position in it. */
  private final List<String> buffers;
  private final Map<String, Integer> position = new HashMap<>();
  private final Map<String, IrProgram.StateInfo> states = new HashMap<>();
  /** The maps of quantized states; none in the float64 reference, which keeps every state unquantized. */
  private final Quantization quant;

  private JavaEmitter(Plan plan, Precision precision, boolean vectors) {
    this.plan = plan;
    this.program = plan.program();
    this.precision = precision;
    this.elem = precision == Precision.F32 ? TypeName.FLOAT : TypeName.DOUBLE;
    this.bufferType = precision == Precision.F32 ? ClassName.get(MemorySegment.class) : ArrayTypeName.of(elem);
    this.vectors = vectors && precision == Precision.F32;
    this.statementOf = ValueNames.statements(program);
    program.states().forEach(s -> states.put(s.name(), s));
    this.buffers = bufferNames(plan);
    this.quant = precision == Precision.F32 ? Quantization.of(program) : new Quantization(Map.of(), List.of());
    for (int i = 0; i < buffers.size(); i++) {
      position.put(buffers.get(i), i);
    }
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

  /** The class this JVM runs: with vector loops where it has the Vector API ({@link #vectorApi()}). */
  public static JavaFile emit(Plan plan, Precision precision) {
    return emit(plan, precision, vectorApi());
  }

  /** The class for {@code plan}; {@code vectors}: float32 element loops also as Vector API loops. */
  public static JavaFile emit(Plan plan, Precision precision, boolean vectors) {
    return new JavaEmitter(plan, precision, vectors).file();
  }

  /**
   * Whether this JVM can load generated code that uses the Vector API: it was started with
   * {@code --add-modules jdk.incubator.vector} ({@code ./optc} and the tests are).
   */
  public static boolean vectorApi() {
    return ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent();
  }

  /** The incubator module of the Vector API (JDK 25). */
  public static final String VECTOR_MODULE = "jdk.incubator.vector";

  private static final ClassName FLOAT_VECTOR = ClassName.get(VECTOR_MODULE, "FloatVector");
  private static final ClassName VECTOR_SPECIES = ClassName.get(VECTOR_MODULE, "VectorSpecies");
  private static final ClassName VECTOR_OPERATORS = ClassName.get(VECTOR_MODULE, "VectorOperators");
  /** The block loops' scratch arrays ({@link QuantLanes}), one per phase call. */
  private static final ClassName QUANT_SCRATCH = ClassName.get(QuantLanes.Scratch.class);

  /**
   * The most per-element values a phase may have to get a vector loop: the loop doubles the method's
   * bytecode, and past 8,000 bytes the JIT does not compile a method at all.
   */
  static final int VECTOR_MAX = 150;

  /** Buffer names in {@link JavaStep} order: w, g, the states, then the plan's temporaries. */
  private List<String> buffers() {
    return buffers;
  }

  /**
   * The buffers a step of {@code plan} takes, in {@link JavaStep} order: w, g, the states, the temporaries,
   * then for each quantized state ({@code as q8}, {@code as q4}) its block absmax values ({@link #absmaxName})
   * and the float32 values of tensors below the threshold ({@link #rawName}); the state's own slot holds its
   * codes. (The float64 reference keeps quantized states unquantized in their own slot.)
   */
  public static List<String> bufferNames(Plan plan) {
    var names = new ArrayList<String>(List.of("w", "g"));
    plan.program().states().forEach(s -> names.add(s.name()));
    for (int i = 0; i < plan.temps().size(); i++) {
      names.add(Plan.tempName(i));
    }
    for (var s : plan.program().states()) {
      if (s.dtype().quantized()) {
        names.add(absmaxName(s.name()));
        names.add(rawName(s.name()));
      }
    }
    return List.copyOf(names);
  }

  /** The buffer of quantized state {@code state}'s block absmax values. */
  public static String absmaxName(String state) {
    return state + "#absmax";
  }

  /** The buffer of quantized state {@code state}'s float32 values (tensors below the threshold). */
  public static String rawName(String state) {
    return state + "#f32";
  }

  /** The buffers that hold a quantized state: its codes (under its own name), absmax values, float32 values. */
  public static List<String> quantizedBuffers(String state) {
    return List.of(state, absmaxName(state), rawName(state));
  }

  /** The state a quantized state's absmax or float32 buffer belongs to; any other buffer itself. */
  public static String stateOf(String buffer) {
    int hash = buffer.indexOf('#');
    return hash < 0 ? buffer : buffer.substring(0, hash);
  }

  private static String locationName(Plan.Location at) {
    return Plan.bufferOf(at);
  }

  private JavaFile file() {
    var type = TypeSpec.classBuilder(className(plan, precision))
        .addModifiers(Modifier.PUBLIC, Modifier.FINAL)
        .addSuperinterface(ParameterizedTypeName.get(ClassName.get(JavaStep.class), bufferType))
        .addJavadoc("$L: one optimizer step in $L, generated by optc from $L.\n",
            program.name(), precision == Precision.F32 ? "float32" : "float64", program.source().name())
        .addJavadoc("\n<p>Buffers: $L.\n", String.join(", ", buffers()));
    for (int i = 0; i < program.hoisted().size(); i++) {
      type.addJavadoc("<br>u$L = $L\n", i, Infix.print(program.hoisted().get(i)));
    }
    type.addMethod(MethodSpec.methodBuilder("phases")
        .addAnnotation(Override.class).addModifiers(Modifier.PUBLIC).returns(int.class)
        .addStatement("return $L", plan.phases().size()).build());
    // The dispatch over phases: one switch, or (past DISPATCH_GROUP phases, where one method would pass
    // the JVM's 64 KB of bytecode) a switch over groups of phases, each group's switch its own method.
    var methods = new ArrayList<MethodSpec>();
    var chunkables = new ArrayList<Boolean>();
    for (var phase : plan.phases()) {
      var method = new PhaseEmitter(phase).method();
      type.addMethod(method.spec);
      method.helpers.forEach(type::addMethod);
      methods.add(method.spec);
      chunkables.add(method.chunkable);
    }
    int groups = (methods.size() + DISPATCH_GROUP - 1) / DISPATCH_GROUP;
    for (int g = 0; g < (groups > 1 ? groups : 1); g++) {
      var chunkable = CodeBlock.builder().add("return switch (phase) {\n").indent();
      var run = CodeBlock.builder().beginControlFlow("switch (phase)");
      int from = groups > 1 ? g * DISPATCH_GROUP : 0;
      for (int i = from; i < Math.min(methods.size(), groups > 1 ? from + DISPATCH_GROUP : methods.size()); i++) {
        chunkable.add("case $L -> $L;\n", i, chunkables.get(i));
        run.add("case $L -> $N(s, b, u, red, lo, hi);\n", i, methods.get(i));
      }
      chunkable.add("default -> throw new $T(\"no phase \" + phase);\n", IllegalArgumentException.class)
          .unindent().add("};\n");
      run.add("default -> throw new $T(\"no phase \" + phase);\n", IllegalArgumentException.class)
          .endControlFlow();
      var suffix = groups > 1 ? Integer.toString(g) : "";
      type.addMethod(dispatch("chunkable" + suffix, groups == 1).returns(boolean.class)
          .addCode(chunkable.build()).build());
      type.addMethod(stepParameters(dispatch("run" + suffix, groups == 1)).addCode(run.build()).build());
    }
    if (groups > 1) {
      var chunkable = CodeBlock.builder().add("return switch (phase / $L) {\n", DISPATCH_GROUP).indent();
      var run = CodeBlock.builder().beginControlFlow("switch (phase / $L)", DISPATCH_GROUP);
      for (int g = 0; g < groups; g++) {
        chunkable.add("case $L -> chunkable$L(phase);\n", g, g);
        run.add("case $L -> run$L(phase, s, b, u, red, lo, hi);\n", g, g);
      }
      chunkable.add("default -> throw new $T(\"no phase \" + phase);\n", IllegalArgumentException.class)
          .unindent().add("};\n");
      run.add("default -> throw new $T(\"no phase \" + phase);\n", IllegalArgumentException.class)
          .endControlFlow();
      type.addMethod(dispatch("chunkable", true).returns(boolean.class).addCode(chunkable.build()).build());
      type.addMethod(stepParameters(dispatch("run", true)).addCode(run.build()).build());
    }
    if (anyVector) {
      type.addField(FieldSpec.builder(ParameterizedTypeName.get(VECTOR_SPECIES, ClassName.get(Float.class)),
              "LANES", Modifier.PRIVATE, Modifier.STATIC, Modifier.FINAL)
          .addJavadoc("The vector loops' lanes: the widest vectors this CPU has.\n")
          .initializer("$T.SPECIES_PREFERRED", FLOAT_VECTOR).build());
      type.addField(FieldSpec.builder(ByteOrder.class, "ORDER", Modifier.PRIVATE, Modifier.STATIC,
          Modifier.FINAL).initializer("$T.nativeOrder()", ByteOrder.class).build());
    }
    if (sumsLanes) {
      type.addMethod(addLanes());
    }
    var file = JavaFile.builder(PACKAGE, type.build())
        .addFileComment("Generated by optc from $L. Do not edit: change the .opt file instead.",
            program.source().name())
        .addStaticImport(Ops.class, "sign", "bf16", "f16")
        .skipJavaLangImports(true);
    if (quant.any()) {
      file.addStaticImport(Ops.class, "qfill");
      file.addStaticImport(vectors ? QuantLanes.class : Ops.class, "qstore");
      file.addStaticImport(QuantMap.class, quant.maps().values().stream().distinct().map(QuantMap::name)
          .toArray(String[]::new));
    }
    if (precision == Precision.F32) {
      file.addStaticImport(ValueLayout.class, "JAVA_FLOAT");
    }
    if (!comparisons.isEmpty()) {
      file.addStaticImport(VECTOR_OPERATORS, comparisons.toArray(String[]::new));
    }
    return file.build();
  }

  /**
   * {@code acc} plus x's lanes one after the other: the scalar loop's sum, in its order. Lanes at constant
   * indices stay in registers (a sum of squares over 16M floats: 16.8 ms, against 16.0 ms for SuperWord on
   * arrays and 22.4 ms through an array of lanes); the length is the species', a constant to the JIT.
   */
  private static MethodSpec addLanes() {
    var code = CodeBlock.builder().add("return switch (x.length()) {\n").indent();
    for (int n : new int[] {4, 8, 16}) {
      var sum = new StringBuilder("acc");
      for (int k = 0; k < n; k++) {
        sum.append(" + x.lane(").append(k).append(")");
      }
      code.add("case $L -> $L;\n", n, sum);
    }
    code.add("default -> {\n").indent()
        .beginControlFlow("for (int k = 0; k < x.length(); k++)")
        .addStatement("acc += x.lane(k)")
        .endControlFlow()
        .addStatement("yield acc")
        .unindent().add("}\n")
        .unindent().add("};\n");
    return MethodSpec.methodBuilder("addLanes")
        .addModifiers(Modifier.PRIVATE, Modifier.STATIC)
        .addJavadoc("acc plus x's lanes one after the other, as the scalar loop adds them.\n")
        .returns(double.class)
        .addParameter(double.class, "acc")
        .addParameter(FLOAT_VECTOR, "x")
        .addCode(code.build())
        .build();
  }

  /** Phases per dispatch method: 1,024 cases of {@code run} are about 20 KB of bytecode. */
  static final int DISPATCH_GROUP = 1024;

  /** {@code chunkable} or {@code run} (public, the interface's) or one of its per-group helpers. */
  private static MethodSpec.Builder dispatch(String name, boolean isPublic) {
    var m = MethodSpec.methodBuilder(name).addParameter(int.class, "phase");
    return isPublic ? m.addAnnotation(Override.class).addModifiers(Modifier.PUBLIC) : m.addModifiers(Modifier.PRIVATE);
  }

  /** The parameters of {@code run} that every phase method and helper takes too. */
  private MethodSpec.Builder stepParameters(MethodSpec.Builder m) {
    return m.addParameter(JavaStep.Segment.class, "s")
        .addParameter(ArrayTypeName.of(bufferType), "b")
        .addParameter(double[].class, "u")
        .addParameter(double[][].class, "red")
        .addParameter(int.class, "lo")
        .addParameter(int.class, "hi");
  }

  private record Method(MethodSpec spec, boolean chunkable, List<MethodSpec> helpers) {}

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
        case ELEM, RR, CC -> ELEM; // a Gram phase runs over its matrix as over elements
      };
    }
  }

  /** Emits one phase. */
  private final class PhaseEmitter {
    private final Plan.Phase phase;
    private final NameAllocator names = new NameAllocator();
    private final Map<Node, String> local = new HashMap<>();
    private final Map<String, String> bufferName = new HashMap<>();
    private final ValueNames valueNames = new ValueNames(program);
    private final Guards.PhaseGuards guards;
    private boolean nested;
    /** Whether the phase is too large for one method: values then live in frame arrays, code in helpers. */
    private boolean split;
    /** Buffers the fragment being generated reads or writes. */
    private Set<String> touched = new HashSet<>();
    private final List<MethodSpec> helpers = new ArrayList<>();

    PhaseEmitter(Plan.Phase phase) {
      this.phase = phase;
      this.guards = Guards.of(plan, phase);
      // Parameters, loop variables, frames, and the names vector loops and segment accesses use: a local of
      // the same name would shadow them.
      for (var reserved : List.of("s", "b", "u", "red", "lo", "hi", "i", "r", "c", "end", "bound", "tv", "lv",
          "ev", "acc", "racc", "lanes", "k", "from", "count", "scratch", "JAVA_FLOAT", "FloatVector", "LANES",
          "ORDER", "EQ", "NE", "LT", "LE", "GT", "GE")) {
        names.newName(reserved, reserved);
      }
      // The buffers this phase touches are named first, in buffer order, as its locals.
      var used = new TreeSet<String>(Comparator.comparingInt(position::get));
      for (var n : plan.needed(phase)) {
        var at = plan.locations().get(n);
        if (at != null && plan.available(phase, n)) {
          used.add(locationName(at));
        } else if (n instanceof Node.Load l) {
          used.add(l.buffer());
        }
      }
      phase.writes().forEach(w -> used.add(locationName(w.location())));
      for (var b : List.copyOf(used)) {
        if (quantized(b)) {
          used.add(absmaxName(b));
          used.add(rawName(b));
        }
      }
      for (var b : used) {
        bufferName.put(b, names.newName(Plan.isTemp(b) ? b.substring(1) : b.replace('#', '_'), "buf:" + b));
      }
    }

    /** Whether {@code key} is a quantized state whose codes this (float32) class reads and writes. */
    private boolean quantized(String key) {
      return quant.maps().containsKey(key);
    }

    /**
     * A quantized state's block lives in a local array of the phase method, which the helper methods of a split
     * phase cannot share.
     */
    private void refuseIfSplit(String state) {
      if (split) {
        throw new IllegalStateException("the Java backend keeps a quantized state's block in a local array, which "
            + "a phase of more than " + SPLIT_ABOVE + " values (split into helper methods) cannot share: store '"
            + state + "' as f32, or simplify the program");
      }
    }

    /** The local holding buffer {@code key} in the method being generated; the method declares it. */
    private String buffer(String key) {
      touched.add(key);
      return bufferName.get(key);
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

    /**
     * Declares (in {@code setup}) a block array per quantized state of {@code arrays} (state to array), and gives
     * the fragment that calls {@code call(map, codes, absmax, float32, s, from, count, array extra)} for each,
     * under the state's guard if it has one: {@link Ops#qfill} or a {@code qstore}.
     */
    private Fragment blockCalls(String call, Map<String, String> arrays,
        Function<String, Guards.Guard> guardOf, String extra, List<Fragment> setup) {
      arrays.values().forEach(array -> setup.add(fragment(
          code -> code.addStatement("final float[] $L = new float[$L]", array, QUANT_BLOCK))));
      return fragment(code -> arrays.forEach((state, array) -> {
        var guard = guardOf.apply(state);
        if (guard != null) {
          code.beginControlFlow("if ($L)", condition(guard));
        }
        code.addStatement("$L($L, $L, $L, $L, s, from, count, $L$L)", call, quant.map(state).name(), buffer(state),
            buffer(absmaxName(state)), buffer(rawName(state)), array, extra);
        if (guard != null) {
          code.endControlFlow();
        }
      }));
    }

    /** The lanes array a vector loop's largest magnitude goes through, where the phase takes one. */
    private void declareLanes(CodeBlock.Builder code) {
      if (phase.reductions().stream().anyMatch(r -> r.op() == ReduceOp.MAXABS && accumulatesIn(r) == Section.ELEM)) {
        code.addStatement("final float[] lanes = new float[LANES.length()]");
      }
    }

    /** The element loop from {@code i} to {@code end}: over whole vectors first where {@code vectorBody} is given. */
    private void elementLoops(CodeBlock.Builder code, List<Fragment> vectorBody, List<Fragment> body,
        List<Fragment> all) {
      if (vectorBody != null) {
        code.beginControlFlow("for (final int bound = i + LANES.loopBound(end - i); i < bound; i += LANES.length())");
        addLoop(code, vectorBody, all, null);
        code.endControlFlow();
      }
      code.beginControlFlow("for (; i < end; i++)");
      addLoop(code, body, all, "i, 0, 0");
      code.endControlFlow();
    }

    /** The scratch arrays argument of {@link QuantLanes#qstore} (none for {@link Ops#qstore}). */
    private String scratchArgument() {
      return vectors ? ", scratch" : "";
    }

    private String condition(Guards.Guard g) {
      return ref(g.cond(), Section.TENSOR) + (g.whenNonZero() ? " != " : " == ") + zero();
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

    /** Element {@code i} of per-element buffer {@code key}. */
    private String elemAt(String key) {
      return read(key, "i");
    }

    /**
     * Element {@code i} of per-element buffer {@code key} where it is read under {@code guard} (null: always);
     * a quantized state's from the block of old values the loop fills once per block ({@link #oldBlocks}).
     */
    private String elemAt(String key, Guards.Guard guard) {
      if (!quantized(key)) {
        return elemAt(key);
      }
      var block = oldBlocks.computeIfAbsent(key, k -> new OldBlock(names.newName("old_" + k, "old:" + k), guard));
      if (!java.util.Objects.equals(block.guard(), guard)) {
        oldBlocks.put(key, new OldBlock(block.name(), null));
      }
      return block.name() + "[(i - s.offset()) & " + (QUANT_BLOCK - 1) + "]";
    }

    /** A quantized state's old values for the current block, filled under a guard if every read has it. */
    private record OldBlock(String name, Guards.Guard guard) {}

    private final Map<String, OldBlock> oldBlocks = new LinkedHashMap<>();

    /** Entry {@code index} of buffer {@code key}: a segment's float (float32) or an array's double. */
    private String read(String key, String index) {
      return precision == Precision.F32 ? buffer(key) + ".getAtIndex(JAVA_FLOAT, " + index + ")"
          : buffer(key) + "[" + index + "]";
    }

    /** The statement that stores {@code value} at entry {@code index} of buffer {@code key}. */
    private String write(String key, String index, String value) {
      return precision == Precision.F32 ? buffer(key) + ".setAtIndex(JAVA_FLOAT, " + index + ", " + value + ")"
          : buffer(key) + "[" + index + "] = " + value;
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
          var guard = guards.loads().get(l);
          yield switch (l.kind()) {
            // Not needed while its flag is off: then the array is not read at all.
            case ELEM, RR, CC -> guard == null ? elemAt(l.buffer(), null)
                : "(" + condition(guard) + " ? " + elemAt(l.buffer(), guard) + " : " + zero() + ")";
            case ROW -> read(l.buffer(), "s.rowOffset() + r");
            case COL -> read(l.buffer(), "s.colOffset() + c");
            case UNIFORM, CONST -> read(l.buffer(), "s.index()");
          };
        }
        case Node.Hyper h -> throw new IllegalStateException("hyper " + h.name() + " was not hoisted");
        case Node.Step s -> throw new IllegalStateException("t was not hoisted");
        case Node.Size s -> throw new IllegalStateException("size was not hoisted");
        case Node.Product m -> throw new IllegalStateException("a product is computed by its own phase, then read");
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
            case MOD -> "dev.optc.compiler.ir.BinaryOp.floorMod(" + x + ", " + y + ")";
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
      return switch (states.get(buffer).dtype()) {
        case F32, Q8, Q4 -> value;
        case BF16 -> "bf16(" + value + ")";
        case F16 -> "f16(" + value + ")";
      };
    }

    private Kind kindOf(Plan.Location at) {
      return switch (at) {
        case Plan.Location.Buffer b -> b.name().equals("w") ? Kind.ELEM : states.get(b.name()).shape().kind();
        case Plan.Location.Temp t -> t.kind();
      };
    }

    /** Reads a value an earlier phase wrote, from where it was written. */
    private String readBack(Node n) {
      var at = plan.locations().get(n);
      var guard = guards.loads().get(n);
      return switch (kindOf(at)) {
        // A state's value read back only under its flag, as a guarded load: the buffer untouched while it is off.
        case ELEM, RR, CC -> guard == null ? elemAt(locationName(at), null)
            : "(" + condition(guard) + " ? " + elemAt(locationName(at), guard) + " : " + zero() + ")";
        case ROW -> read(locationName(at), "s.rowOffset() + r");
        case COL -> read(locationName(at), "s.colOffset() + c");
        case UNIFORM, CONST -> read(locationName(at), "s.index()");
      };
    }

    /** Code generated by {@code body}, with the buffers it touches. */
    private Fragment fragment(java.util.function.Consumer<CodeBlock.Builder> body) {
      touched = new HashSet<>();
      var code = CodeBlock.builder();
      body.accept(code);
      return new Fragment(code.build(), touched);
    }

    /** {@code n = compute(n)}: a new final local, or in a split phase its slot of the frame. */
    private void define(CodeBlock.Builder code, Node n, Section where) {
      switch (where) {
        case TENSOR, ELEM -> {
          if (split) {
            code.addStatement("$L = $L", local.get(n), compute(n, where));
          } else {
            code.addStatement("final $T $L = $L", elem, local.get(n), compute(n, where));
          }
        }
        case ROW, COL -> code.addStatement("$L[$L] = $L", local.get(n), where == Section.ROW ? "r" : "c",
            compute(n, where));
      }
    }

    Method method() {
      if (phase.products()) {
        // The engine runs the products on a BLAS; the class has nothing to do in this phase.
        var text = phase.writes().stream().map(w -> Infix.print(w.value())).toList();
        return new Method(stepParameters(MethodSpec.methodBuilder("phase" + phase.index())
            .addModifiers(Modifier.STATIC)
            .addJavadoc("Phase $L of $L: matrix products, run by the engine on a BLAS: $L.\n", phase.index(),
                plan.phases().size(), String.join(", ", text))).build(), false, List.of());
      }
      var needed = needed();
      var bySection = new LinkedHashMap<Section, List<Node>>();
      for (var s : Section.values()) {
        bySection.put(s, new ArrayList<>());
      }
      for (var n : needed) {
        bySection.get(Section.of(n.kind())).add(n);
      }
      split = needed.size() + phase.writes().size() + phase.reductions().size() > SPLIT_ABOVE;
      // In a split phase a value lives in a frame array the phase's helper methods share: per-tensor
      // values in tv, row and column arrays in lv, the current element's values in ev.
      int[] slots = new int[3];
      for (var n : needed) {
        if (!split) {
          local.put(n, nameFor(n));
          continue;
        }
        local.put(n, switch (Section.of(n.kind())) {
          case TENSOR -> "tv[" + slots[0]++ + "]";
          case ROW, COL -> "lv[" + slots[1]++ + "]";
          case ELEM -> "ev[" + slots[2]++ + "]";
        });
      }
      var comments = new Comments();

      // Per-tensor values.
      var tensor = new ArrayList<Fragment>();
      for (var n : bySection.get(Section.TENSOR)) {
        tensor.add(fragment(code -> {
          if (n instanceof Node.Uniform u) {
            var text = Infix.print(program.hoisted().get(u.slot()));
            if (split) {
              code.add("$L = $L; // $L\n", local.get(n), compute(n, Section.TENSOR), text);
            } else {
              code.add("final $T $L = $L; // $L\n", elem, local.get(n), compute(n, Section.TENSOR), text);
            }
            return;
          }
          comments.before(n, code);
          define(code, n, Section.TENSOR);
        }));
      }
      // Row and column values, kept in arrays for the element loop and deferred stores.
      var lines = new LinkedHashMap<Section, List<Fragment>>();
      var lineSetup = new LinkedHashMap<Section, List<Fragment>>();
      for (var section : List.of(Section.ROW, Section.COL)) {
        var nodes = bySection.get(section);
        if (nodes.isEmpty() && !reducesIn(section)) {
          continue;
        }
        var index = section == Section.ROW ? "r" : "c";
        var count = section == Section.ROW ? "s.rows()" : "s.cols()";
        var setup = new ArrayList<Fragment>();
        for (var n : nodes) {
          setup.add(fragment(code -> {
            if (split) {
              code.addStatement("$L = new $T[$L]", local.get(n), elem, count);
            } else {
              code.addStatement("final $T[] $L = new $T[$L]", elem, local.get(n), elem, count);
            }
          }));
        }
        setup.addAll(declareAccumulators(section));
        var loop = new ArrayList<Fragment>();
        comments.reset();
        for (var n : nodes) {
          loop.add(fragment(code -> {
            comments.before(n, code);
            define(code, n, section);
          }));
        }
        loop.addAll(accumulate(section));
        lineSetup.put(section, setup);
        lines.put(section, loop);
      }
      // The element loop.
      var body = new ArrayList<Fragment>();
      comments.reset();
      for (var n : bySection.get(Section.ELEM)) {
        body.add(fragment(code -> {
          comments.before(n, code);
          define(code, n, Section.ELEM);
        }));
      }
      boolean elemStores = false;
      // A quantized state's new values gather in a block array, quantized when the block is complete.
      var blocks = new LinkedHashMap<String, String>();
      for (var w : phase.writes()) {
        if (kindOf(w.location()).isEntry()) {
          var name = locationName(w.location());
          var guard = guards.stores().get(name);
          if (quantized(name)) {
            refuseIfSplit(name);
            blocks.put(name, names.newName("block_" + name, "block:" + name));
          }
          body.add(fragment(code -> {
            if (guard != null) {
              code.beginControlFlow("if ($L)", condition(guard));
            }
            if (quantized(name)) {
              code.addStatement("$L[(i - s.offset()) & $L] = $L", blocks.get(name), QUANT_BLOCK - 1,
                  ref(w.value(), Section.ELEM));
            } else {
              code.addStatement("$L", write(name, "i", store(name, ref(w.value(), Section.ELEM))));
            }
            if (guard != null) {
              code.endControlFlow();
            }
          }));
          elemStores = true;
        }
      }
      var elemSetup = new ArrayList<>(declareAccumulators(Section.ELEM));
      body.addAll(accumulate(Section.ELEM));
      // A quantized state's old values: read back once per block, before the block's element loop; its new
      // values, quantized after it.
      var fills = new ArrayList<Fragment>();
      if (!oldBlocks.isEmpty()) {
        refuseIfSplit(oldBlocks.keySet().iterator().next());
        var arrays = new LinkedHashMap<String, String>();
        oldBlocks.forEach((state, block) -> arrays.put(state, block.name()));
        fills.add(blockCalls("qfill", arrays, state -> oldBlocks.get(state).guard(), "", elemSetup));
      }
      var flushes = new ArrayList<Fragment>();
      if (!blocks.isEmpty()) {
        flushes.add(blockCalls("qstore", blocks, guards.stores()::get, scratchArgument(), elemSetup));
      }
      boolean blockwise = !fills.isEmpty() || !flushes.isEmpty();
      if (!flushes.isEmpty() && vectors) {
        elemSetup.add(fragment(code -> code.addStatement("final $T scratch = new $T()", QUANT_SCRATCH,
            QUANT_SCRATCH)));
      }
      boolean elemLoop = elemStores || !bySection.get(Section.ELEM).isEmpty() || reducesIn(Section.ELEM);
      // The same element loop over whole vectors, where every value has an exact lanewise form.
      boolean vector = elemLoop && vectorizable(bySection.get(Section.ELEM));
      var vectorBody = new ArrayList<Fragment>();
      if (vector) {
        anyVector = true;
        comments.reset();
        for (var n : bySection.get(Section.ELEM)) {
          vectorBody.add(fragment(code -> {
            comments.before(n, code);
            code.addStatement("final $T $L = $L", FLOAT_VECTOR, local.get(n), lanes(n));
          }));
        }
        for (var w : phase.writes()) {
          if (kindOf(w.location()).isEntry()) {
            var name = locationName(w.location());
            var guard = guards.stores().get(name);
            vectorBody.add(fragment(code -> {
              if (guard != null) {
                code.beginControlFlow("if ($L)", condition(guard));
              }
              if (quantized(name)) {
                code.addStatement("$L.intoArray($L, (i - s.offset()) & $L)", vec(w.value()), blocks.get(name),
                    QUANT_BLOCK - 1);
              } else {
                code.addStatement("$L.intoMemorySegment($L, 4L * i, ORDER)", vec(w.value()), buffer(name));
              }
              if (guard != null) {
                code.endControlFlow();
              }
            }));
          }
        }
        // Sums over elements add lane after lane, in the scalar loop's order, so they give its bits.
        for (var r : phase.reductions()) {
          if (accumulatesIn(r) == Section.ELEM) {
            vectorBody.add(fragment(code -> {
              switch (r.op()) {
                case SUM, GLOBAL_SUM -> {
                  sumsLanes = true;
                  code.addStatement("$L = addLanes($L, $L)", acc(r), acc(r), vec(r.x()));
                }
                case MAXABS -> code.addStatement("$L.intoArray(lanes, 0)", vec(r.x()))
                    .beginControlFlow("for (int k = 0; k < lanes.length; k++)")
                    .addStatement("$L = Math.max($L, Math.abs((double) lanes[k]))", acc(r), acc(r))
                    .endControlFlow();
                case ROWSUM, COLSUM -> throw new IllegalStateException("a row or column sum has no vector loop");
              }
            }));
          }
        }
      }
      // Stores of row, column and scalar states, after every read of their old values.
      var tail = new ArrayList<Fragment>();
      boolean otherStores = false;
      for (var w : phase.writes()) {
        var name = locationName(w.location());
        var kind = kindOf(w.location());
        if (!kind.isEntry()) {
          tail.add(fragment(code -> {
            switch (kind) {
              case ROW -> code.beginControlFlow("for (int r = 0; r < s.rows(); r++)")
                  .addStatement("$L", write(name, "s.rowOffset() + r", store(name, ref(w.value(), Section.ROW))))
                  .endControlFlow();
              case COL -> code.beginControlFlow("for (int c = 0; c < s.cols(); c++)")
                  .addStatement("$L", write(name, "s.colOffset() + c", store(name, ref(w.value(), Section.COL))))
                  .endControlFlow();
              case UNIFORM, CONST -> code.addStatement("$L", write(name, "s.index()",
                  store(name, ref(w.value(), Section.TENSOR))));
              case ELEM -> { }
            }
          }));
        }
        otherStores |= !kind.isEntry();
      }
      tail.addAll(writeReductions());

      // Assembly: straight into the phase method, or through helper methods.
      var code = CodeBlock.builder();
      var all = new ArrayList<Fragment>();
      if (split) {
        var frame = precision == Precision.F32 ? "float" : "double";
        code.addStatement("final $L[] tv = new $L[$L]", frame, frame, Math.max(1, slots[0]))
            .addStatement("final $L[][] lv = new $L[$L][]", frame, frame, Math.max(1, slots[1]))
            .addStatement("final $L[] ev = new $L[$L]", frame, frame, Math.max(1, slots[2]))
            .addStatement("final double[] acc = new double[$L]", Math.max(1, plan.reductions().size()))
            .addStatement("final double[][] racc = new double[$L][]", Math.max(1, plan.reductions().size()));
      }
      addOnce(code, tensor, all);
      for (var section : lines.keySet()) {
        var index = section == Section.ROW ? "r" : "c";
        var count = section == Section.ROW ? "s.rows()" : "s.cols()";
        addOnce(code, lineSetup.get(section), all);
        code.beginControlFlow("for (int $L = 0; $L < $L; $L++)", index, index, count, index);
        addLoop(code, lines.get(section), all, section == Section.ROW ? "0, r, 0" : "0, 0, c");
        code.endControlFlow();
      }
      if (elemLoop) {
        addOnce(code, elemSetup, all);
        if (nested) {
          var loop = body;
          if (blockwise) {
            // Row by row (phases with row or column values run whole tensors): a block's old values at its first
            // element, its new values quantized at its last.
            code.addStatement("int from = lo, count = 0");
            loop = new ArrayList<>();
            loop.add(fragment(c -> c.beginControlFlow("if (((i - s.offset()) & $L) == 0)", QUANT_BLOCK - 1)
                .addStatement("from = i - s.offset()")
                .addStatement("count = Math.min(hi, (from | $L) + 1) - from", QUANT_BLOCK - 1)));
            loop.addAll(fills);
            loop.add(fragment(c -> c.endControlFlow()));
            loop.addAll(body);
            loop.add(fragment(c -> c.beginControlFlow("if (i - s.offset() + 1 == from + count)")));
            loop.addAll(flushes);
            loop.add(fragment(c -> c.endControlFlow()));
          }
          code.beginControlFlow("for (int r = 0; r < s.rows(); r++)")
              .beginControlFlow("for (int c = 0, i = s.offset() + r * s.cols(); c < s.cols(); c++, i++)");
          addLoop(code, loop, all, "i, r, c");
          code.endControlFlow().endControlFlow();
        } else if (blockwise) {
          // Block by block (256 elements, or to the range's end): old values read back, the element loop (over
          // whole vectors, then the rest), the new values quantized.
          if (vector) {
            declareLanes(code);
          }
          code.beginControlFlow("for (int from = lo, count; from < hi; from += count)")
              .addStatement("count = Math.min(hi, (from | $L) + 1) - from", QUANT_BLOCK - 1);
          addOnce(code, fills, all);
          code.addStatement("int i = s.offset() + from")
              .addStatement("final int end = i + count");
          elementLoops(code, vector ? vectorBody : null, body, all);
          addOnce(code, flushes, all);
          code.endControlFlow();
        } else if (vector) {
          code.addStatement("int i = s.offset() + lo")
              .addStatement("final int end = s.offset() + hi");
          declareLanes(code);
          elementLoops(code, vectorBody, body, all);
        } else {
          code.beginControlFlow("for (int i = s.offset() + lo, end = s.offset() + hi; i < end; i++)");
          addLoop(code, body, all, "i, 0, 0");
          code.endControlFlow();
        }
      }
      addOnce(code, tail, all);
      var method = stepParameters(MethodSpec.methodBuilder("phase" + phase.index())
          .addModifiers(Modifier.STATIC)
          .addJavadoc(describe()))
          .addCode(declareBuffers(all))
          .addCode(code.build());
      boolean chunkable = !nested && phase.reductions().isEmpty() && !otherStores
          && bySection.get(Section.ROW).isEmpty() && bySection.get(Section.COL).isEmpty();
      return new Method(method.build(), chunkable, List.copyOf(helpers));
    }

    /**
     * Whether this phase's element loop can also run over whole vectors with the same bits: every value
     * has an exact lanewise form, none is a row or column value, nothing is summed per row or column, and
     * nothing is rounded to bf16 or f16 when stored. (Sums over elements add each vector's lanes in order.)
     */
    private boolean vectorizable(List<Node> elemNodes) {
      // nested: row or column values, or row and column sums.
      if (!vectors || split || nested || elemNodes.size() > VECTOR_MAX) {
        return false;
      }
      for (var n : elemNodes) {
        if (plan.locations().containsKey(n) && plan.available(phase, n)) {
          continue; // read back from a buffer
        }
        boolean exact = switch (n) {
          case Node.Load l -> l.kind().isEntry();
          case Node.Unary u -> switch (u.op()) {
            case NEG, NOT, ABS, SIGN, SQRT, RSQRT -> true;
            // The Vector API's transcendental functions are within an ulp, not Math's bits.
            case EXP, LOG, TANH, SIN, COS, FLOOR -> false;
          };
          case Node.Binary b -> b.op() != BinaryOp.POW && b.op() != BinaryOp.MOD;
          case Node.Select x -> true;
          case Node.Const c -> false;
          case Node.Hyper h -> false;
          case Node.Step t -> false;
          case Node.Size z -> false;
          case Node.Uniform u -> false;
          case Node.Reduce r -> false;
          case Node.Product m -> false;
        };
        if (!exact || n.inputs().stream().anyMatch(x -> x.kind() == Kind.ROW || x.kind() == Kind.COL)) {
          return false;
        }
      }
      for (var w : phase.writes()) {
        if (kindOf(w.location()).isEntry()) {
          var kind = w.value().kind();
          if (!store(locationName(w.location()), "x").equals("x") || kind == Kind.ROW || kind == Kind.COL) {
            return false;
          }
        }
      }
      return true;
    }

    /** {@code n}'s value in a vector loop: a FloatVector (element values) or a float (per-tensor ones). */
    private String vec(Node n) {
      var x = ref(n, Section.ELEM);
      return n.kind().isEntry() ? x : "FloatVector.broadcast(LANES, " + x + ")";
    }

    /** The lanes of per-element buffer {@code key} at {@code i}. */
    private String load(String key) {
      if (quantized(key)) {
        return "FloatVector.fromArray(LANES, " + oldBlocks.get(key).name() + ", (i - s.offset()) & " + (QUANT_BLOCK - 1)
            + ")";
      }
      return "FloatVector.fromMemorySegment(LANES, " + buffer(key) + ", 4L * i, ORDER)";
    }

    /** The lanes of {@code key} at {@code i}, or zeros without touching it while {@code guard} (if any) is off. */
    private String guardedLoad(String key, Guards.Guard guard) {
      return guard == null ? load(key) : "(" + condition(guard) + " ? " + load(key) + " : FloatVector.zero(LANES))";
    }

    /** 1 where {@code mask} is set, 0 elsewhere: a comparison's value. */
    private static String truth(String mask) {
      return "FloatVector.zero(LANES).blend(1f, " + mask + ")";
    }

    /** {@code x.compare(OP, y)}: the lanes where the comparison holds. */
    private String compare(String x, String op, String y) {
      comparisons.add(op);
      return x + ".compare(" + op + ", " + y + ")";
    }

    /** The lanewise computation of element value {@code n}; each rounds as {@link #compute} does. */
    private String lanes(Node n) {
      if (plan.locations().containsKey(n) && plan.available(phase, n)) {
        return guardedLoad(locationName(plan.locations().get(n)), guards.loads().get(n));
      }
      return switch (n) {
        case Node.Load l -> guardedLoad(l.buffer(), guards.loads().get(l));
        case Node.Unary u -> {
          var x = vec(u.x());
          yield switch (u.op()) {
            case NEG -> x + ".neg()";
            case NOT -> truth(compare(x, "EQ", "0f"));
            case ABS -> x + ".abs()";
            // (int) Math.signum(x): 1, -1, and +0 for ±0 and NaN.
            case SIGN -> "FloatVector.zero(LANES).blend(1f, " + compare(x, "GT", "0f") + ").blend(-1f, "
                + compare(x, "LT", "0f") + ")";
            case SQRT -> x + ".sqrt()";
            case RSQRT -> "FloatVector.broadcast(LANES, 1f).div(" + x + ".sqrt())";
            case EXP, LOG, TANH, SIN, COS, FLOOR -> throw new IllegalStateException(u.op() + " has no vector form");
          };
        }
        case Node.Binary b -> {
          var x = vec(b.a());
          var y = ref(b.b(), Section.ELEM);
          yield switch (b.op()) {
            case ADD -> x + ".add(" + y + ")";
            case SUB -> x + ".sub(" + y + ")";
            case MUL -> x + ".mul(" + y + ")";
            case DIV -> x + ".div(" + y + ")";
            case MIN -> x + ".min(" + y + ")";
            case MAX -> x + ".max(" + y + ")";
            case LT, LE, GT, GE, EQ, NE -> truth(compare(x, b.op().name(), y));
            case AND -> truth(compare(x, "NE", "0f") + ".and(" + compare(vec(b.b()), "NE", "0f") + ")");
            case OR -> truth(compare(x, "NE", "0f") + ".or(" + compare(vec(b.b()), "NE", "0f") + ")");
            case POW, MOD -> throw new IllegalStateException(b.op() + " has no vector form");
          };
        }
        case Node.Select x -> x.cond().kind().isEntry()
            ? vec(x.b()) + ".blend(" + ref(x.a(), Section.ELEM) + ", " + compare(vec(x.cond()), "NE", "0f") + ")"
            : "(" + ref(x.cond(), Section.ELEM) + " != 0f ? " + vec(x.a()) + " : " + vec(x.b()) + ")";
        case Node.Const c -> throw new IllegalStateException("a constant is not an element value");
        case Node.Hyper h -> throw new IllegalStateException("hyper " + h.name() + " was not hoisted");
        case Node.Step t -> throw new IllegalStateException("t was not hoisted");
        case Node.Size z -> throw new IllegalStateException("size was not hoisted");
        case Node.Uniform u -> throw new IllegalStateException("a uniform is not an element value");
        case Node.Reduce r -> throw new IllegalStateException("a reduction is not an element value");
        case Node.Product m -> throw new IllegalStateException("a product is always read back");
      };
    }

    /** {@code final MemorySegment m = b[3];} for each buffer the fragments touch, in buffer order. */
    private CodeBlock declareBuffers(List<Fragment> fragments) {
      var used = new TreeSet<String>(Comparator.comparingInt(position::get));
      fragments.forEach(f -> used.addAll(f.buffers()));
      var code = CodeBlock.builder();
      for (var key : used) {
        code.addStatement("final $T $L = b[$L]", bufferType, bufferName.get(key), position.get(key));
      }
      return code.build();
    }

    /** Code that runs once per call: inline, or (split) as calls of helpers. */
    private void addOnce(CodeBlock.Builder code, List<Fragment> fragments, List<Fragment> inline) {
      emit(code, fragments, inline, null);
    }

    /** The body of a loop: inline, or (split) as calls of helpers given the loop's {@code i, r, c}. */
    private void addLoop(CodeBlock.Builder code, List<Fragment> fragments, List<Fragment> inline, String irc) {
      emit(code, fragments, inline, irc);
    }

    private void emit(CodeBlock.Builder code, List<Fragment> fragments, List<Fragment> inline, String irc) {
      if (!split) {
        fragments.forEach(f -> code.add(f.code()));
        inline.addAll(fragments);
        return;
      }
      var calls = fragments;
      do {
        calls = helpers(calls, irc);
      } while (calls.size() > PER_METHOD);
      calls.forEach(f -> code.add(f.code()));
    }

    /**
     * Packs fragments into helper methods of at most {@link #PER_METHOD} fragments each (well under the
     * JIT's 8,000-byte limit for compiling a method) and returns their calls.
     */
    private List<Fragment> helpers(List<Fragment> fragments, String irc) {
      var calls = new ArrayList<Fragment>();
      for (int from = 0; from < fragments.size(); from += PER_METHOD) {
        var part = fragments.subList(from, Math.min(fragments.size(), from + PER_METHOD));
        var name = "phase" + phase.index() + "_" + helpers.size();
        var frame = precision == Precision.F32 ? TypeName.FLOAT : TypeName.DOUBLE;
        var method = stepParameters(MethodSpec.methodBuilder(name)
            .addModifiers(Modifier.PRIVATE, Modifier.STATIC))
            .addParameter(ArrayTypeName.of(frame), "tv")
            .addParameter(ArrayTypeName.of(ArrayTypeName.of(frame)), "lv")
            .addParameter(ArrayTypeName.of(frame), "ev")
            .addParameter(double[].class, "acc")
            .addParameter(double[][].class, "racc");
        if (irc != null) {
          method.addParameter(int.class, "i").addParameter(int.class, "r").addParameter(int.class, "c");
        }
        method.addCode(declareBuffers(part));
        part.forEach(f -> method.addCode(f.code()));
        helpers.add(method.build());
        calls.add(new Fragment(CodeBlock.builder().addStatement("$L(s, b, u, red, lo, hi, tv, lv, ev, acc, racc$L)",
            name, irc == null ? "" : ", " + irc).build(), Set.of()));
      }
      return calls;
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

    /** The accumulator of {@code r}: a local, or in a split phase an entry of the frame. */
    private String acc(Node.Reduce r) {
      int slot = plan.reductionSlot(r);
      if (!split) {
        return "acc" + slot;
      }
      return switch (r.op()) {
        case ROWSUM, COLSUM -> "racc[" + slot + "]";
        case SUM, MAXABS, GLOBAL_SUM -> "acc[" + slot + "]";
      };
    }

    private List<Fragment> declareAccumulators(Section section) {
      var list = new ArrayList<Fragment>();
      for (var r : phase.reductions()) {
        if (accumulatesIn(r) != section) {
          continue;
        }
        list.add(fragment(code -> {
          switch (r.op()) {
            // A split phase's frame starts at zero.
            case SUM, MAXABS, GLOBAL_SUM -> {
              if (!split) {
                code.addStatement("double $L = 0", acc(r));
              }
            }
            case ROWSUM -> code.addStatement(split ? "$L = new double[s.rows()]"
                : "final double[] $L = new double[s.rows()]", acc(r));
            case COLSUM -> code.addStatement(split ? "$L = new double[s.cols()]"
                : "final double[] $L = new double[s.cols()]", acc(r));
          }
        }));
      }
      return list;
    }

    private List<Fragment> accumulate(Section section) {
      var list = new ArrayList<Fragment>();
      for (var r : phase.reductions()) {
        if (accumulatesIn(r) != section) {
          continue;
        }
        list.add(fragment(code -> {
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
        }));
      }
      return list;
    }

    private List<Fragment> writeReductions() {
      var list = new ArrayList<Fragment>();
      for (var r : phase.reductions()) {
        int slot = plan.reductionSlot(r);
        list.add(fragment(code -> {
          switch (r.op()) {
            case SUM, MAXABS, GLOBAL_SUM -> code.addStatement("red[$L][s.index()] = $L", slot, acc(r));
            case ROWSUM -> code.addStatement("$T.arraycopy($L, 0, red[$L], s.rowOffset(), s.rows())",
                System.class, acc(r), slot);
            case COLSUM -> code.addStatement("$T.arraycopy($L, 0, red[$L], s.colOffset(), s.cols())",
                System.class, acc(r), slot);
          }
        }));
      }
      return list;
    }
  }

  /** Some generated code and the buffers it touches (its method declares their locals). */
  private record Fragment(CodeBlock code, Set<String> buffers) {}

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
