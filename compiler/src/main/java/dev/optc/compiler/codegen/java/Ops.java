package dev.optc.compiler.codegen.java;

import dev.optc.compiler.ir.Dtype;

/** Helpers that generated Java code calls where Java has no single operator with the DSL's meaning. */
public final class Ops {
  private Ops() {}

  /** sign(NaN) = 0 (OpenCL and torch), sign(±0) = ±0. */
  public static float sign(float x) {
    return x > 0 ? 1f : x < 0 ? -1f : (x == x ? x : 0f);
  }

  public static double sign(double x) {
    return x > 0 ? 1 : x < 0 ? -1 : (x == x ? x : 0);
  }

  /** The value a bf16 state keeps: rounded to nearest even. */
  public static float bf16(float x) {
    return Dtype.BF16.round(x);
  }

  public static float f16(float x) {
    return Dtype.F16.round(x);
  }
}
