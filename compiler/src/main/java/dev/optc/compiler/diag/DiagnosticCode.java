package dev.optc.compiler.diag;

/**
 * The catalog of every problem optc reports about a program. Codes are stable: tests, documentation and
 * users refer to them, so a code is never renumbered or reused (ANTLR's ErrorType idea).
 */
public enum DiagnosticCode {
  // Syntax
  SYNTAX("E001", Severity.ERROR, "the statement does not parse"),
  BAD_CHARACTER("E002", Severity.ERROR, "a character that is not part of the language"),
  NUMBER_RANGE("E003", Severity.ERROR, "a number literal outside the float32 range"),
  CONSTANT_NOT_FINITE("E004", Severity.ERROR,
      "a constant expression that is infinite, undefined (NaN) or outside the float32 range"),

  // Names and declarations
  UNKNOWN_NAME("E010", Severity.ERROR, "a name that is not declared (yet)"),
  UNKNOWN_FUNCTION("E011", Severity.ERROR, "a call of something that is not a function"),
  DUPLICATE_DECLARATION("E012", Severity.ERROR, "a name declared twice"),
  RESERVED_NAME("E013", Severity.ERROR, "declaring a built-in name"),
  FUNCTION_AS_VALUE("E014", Severity.ERROR, "a function name used as a value"),

  // Assignments
  READ_ONLY("E020", Severity.ERROR, "assigning to a hyper, t, a size or a constant"),
  COMPOUND_UNDEFINED("E021", Severity.ERROR, "x += ... before x has a value"),
  SHAPE_MISMATCH("E022", Severity.ERROR, "a value wider than the state it is stored into"),

  // Declarations' expressions
  NOT_CONSTANT("E030", Severity.ERROR, "a hyper default that is not a constant expression"),
  BAD_STATE_INIT("E031", Severity.ERROR, "a state initializer that is neither uniform nor 'w'"),
  UNKNOWN_SHAPE("E032", Severity.ERROR, "a state shape other than elem, row, col, scalar"),
  UNKNOWN_DTYPE("E033", Severity.ERROR, "a state dtype other than f32, bf16, f16, q8, q4"),
  QUANTIZED_SHAPE("E034", Severity.ERROR, "a row, col or scalar state stored as q8 or q4"),
  BAD_EVALUATE("E035", Severity.ERROR, "'evaluate' of a name that is not an elem state, or twice"),

  // Functions
  ARITY("E040", Severity.ERROR, "a call with the wrong number of arguments"),
  RECURSIVE_DEF("E041", Severity.ERROR, "a def that calls itself"),
  DEF_CAPTURE("E042", Severity.ERROR, "a def body that reads per-element data it was not passed"),
  DUPLICATE_PARAMETER("E043", Severity.ERROR, "a def with two parameters of one name"),

  // Kinds and shapes
  REDUCE_UNIFORM("E050", Severity.ERROR, "a reduction over a value that is already one per tensor"),
  METRIC_NOT_UNIFORM("E051", Severity.ERROR, "a metric that is not one value per tensor or group"),
  MODULO_NOT_UNIFORM("E052", Severity.ERROR, "'%' of a per-element, row or col value"),
  MODULO_BY_ZERO("E053", Severity.ERROR, "'%' by a constant zero"),
  PRODUCT_SHAPE("E060", Severity.ERROR, "a matrix product whose shapes do not fit, or of a value that is not a matrix"),
  KIND_MIX("E061", Severity.ERROR, "elementwise arithmetic between a Gram matrix and a value of another shape"),
  TRANSPOSE_ALONE("E062", Severity.ERROR, "tr(x) anywhere but as an argument of mm"),
  GRAM_REDUCTION("E063", Severity.ERROR, "a row, column or group reduction of a Gram matrix"),

  // Warnings
  UNUSED_HYPER("W101", Severity.WARNING, "a hyper that is never used"),
  STATE_NEVER_WRITTEN("W102", Severity.WARNING, "a state that is never written"),
  LOCAL_NEVER_READ("W103", Severity.WARNING, "a local that is assigned but never read"),
  PARAM_NEVER_WRITTEN("W104", Severity.WARNING, "a program that never updates w"),
  UNUSED_DEF("W105", Severity.WARNING, "a def that is never called"),
  DIVISION_BY_ZERO("W106", Severity.WARNING, "a division by a constant zero"),
  LERP_WEIGHT_INVERTED("W107", Severity.WARNING, "a lerp toward the gradient with a decay-like weight");

  private final String id;
  private final Severity severity;
  private final String summary;

  DiagnosticCode(String id, Severity severity, String summary) {
    this.id = id;
    this.severity = severity;
    this.summary = summary;
  }

  public String id() {
    return id;
  }

  public Severity severity() {
    return severity;
  }

  public String summary() {
    return summary;
  }

  public static DiagnosticCode byId(String id) {
    for (var c : values()) {
      if (c.id.equals(id)) {
        return c;
      }
    }
    throw new IllegalArgumentException("no diagnostic code " + id);
  }
}
