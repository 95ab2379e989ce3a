package dev.optc.compiler.codegen.c;

import dev.optc.compiler.codegen.Literals;
import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Dtype;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.UnaryOp;

/**
 * The C text of the IR's operations, loads and stores in one {@link Dialect}: the one place an operation
 * becomes an expression (tinygrad's {@code code_for_op}). Operands arrive as C text already.
 */
final class Expressions {
  private final Dialect d;

  Expressions(Dialect dialect) {
    this.d = dialect;
  }

  /** A float32 literal, bit-exact. */
  static String literal(double v) {
    return Literals.C_FLOAT.f32(v);
  }

  String unary(UnaryOp op, String x) {
    return switch (op) {
      case NEG -> "-(" + x + ")";
      case NOT -> "optc_bool(" + x + " == 0.0f)";
      case ABS -> call("fabs", x);
      case SIGN -> "optc_sign(" + x + ")";
      case SQRT -> call("sqrt", x);
      case RSQRT -> "1.0f / " + call("sqrt", x);
      case EXP -> call("exp", x);
      case LOG -> call("log", x);
      case TANH -> call("tanh", x);
      case SIN -> call("sin", x);
      case COS -> call("cos", x);
      case FLOOR -> call("floor", x);
    };
  }

  String binary(BinaryOp op, String x, String y) {
    return switch (op) {
      case ADD, SUB, MUL, DIV -> x + " " + op.symbol() + " " + y;
      case POW -> d.math("pow") + "(" + x + ", " + y + ")";
      case MOD -> "optc_mod(" + x + ", " + y + ")";
      case MIN -> "optc_min(" + x + ", " + y + ")";
      case MAX -> "optc_max(" + x + ", " + y + ")";
      case LT, LE, GT, GE, EQ, NE -> "optc_bool(" + x + " " + op.symbol() + " " + y + ")";
      case AND -> "optc_bool(" + x + " != 0.0f && " + y + " != 0.0f)";
      case OR -> "optc_bool(" + x + " != 0.0f || " + y + " != 0.0f)";
    };
  }

  static String select(String cond, String a, String b) {
    return "(" + cond + " != 0.0f ? " + a + " : " + b + ")";
  }

  /** A flag's test: {@code f != 0.0f}, or {@code f == 0.0f} when the guard holds while it is zero. */
  static String condition(String flag, boolean whenNonZero) {
    return flag + (whenNonZero ? " != 0.0f" : " == 0.0f");
  }

  /** {@code read} where {@code condition} holds, else 0 without touching memory. */
  static String guarded(String condition, String read) {
    return "(" + condition + " ? " + read + " : 0.0f)";
  }

  /** The index of the current element's entry in a buffer of {@code kind}, inside a chunk or line loop. */
  static String index(Kind kind) {
    return switch (kind) {
      case ELEM, RR, CC -> "i"; // a Gram phase runs over its matrix as over elements
      case ROW -> "optc_row_off + r";
      case COL -> "optc_col_off + c";
      case UNIFORM, CONST -> "optc_seg";
    };
  }

  /** The C type of a buffer's elements. */
  String storage(Dtype dtype) {
    return switch (dtype) {
      case F32 -> "float";
      case BF16 -> d.ushort();
      case F16 -> d.halfType();
      case Q8, Q4 -> d.ubyte();
    };
  }

  /** Element {@code index} of {@code pointer}, as a float. */
  String load(Dtype dtype, String pointer, String index) {
    return switch (dtype) {
      case F32 -> pointer + "[" + index + "]";
      case BF16 -> "optc_from_bf16(" + pointer + "[" + index + "])";
      case F16 -> String.format(d.loadHalf(), pointer, index);
      case Q8, Q4 -> throw new IllegalStateException("a quantized state is read and written by whole blocks "
          + "(PhaseEmitter), not element by element");
    };
  }

  /** A statement storing float {@code value} into element {@code index} of {@code pointer}, rounded to its type. */
  String store(Dtype dtype, String pointer, String index, String value) {
    return switch (dtype) {
      case F32 -> pointer + "[" + index + "] = " + value + ";";
      case BF16 -> pointer + "[" + index + "] = optc_to_bf16(" + value + ");";
      case F16 -> String.format(d.storeHalf(), pointer, index, value) + ";";
      case Q8, Q4 -> throw new IllegalStateException("a quantized state is read and written by whole blocks "
          + "(PhaseEmitter), not element by element");
    };
  }

  private String call(String fn, String x) {
    return d.math(fn) + "(" + x + ")";
  }
}
