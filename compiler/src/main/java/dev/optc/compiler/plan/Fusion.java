package dev.optc.compiler.plan;

import java.util.Locale;

/**
 * How much of the program one kernel does (DSL.md §8). All levels compute the same result; the lower
 * ones exist so that benchmarks can compare fused code with what eager frameworks do.
 */
public enum Fusion {
  /** One kernel per phase: the fewest passes over memory. */
  FULL,
  /** One kernel per DSL statement, each statement's value written to memory (foreach-style). */
  STATEMENT,
  /** One kernel per IR operation, every intermediate written to memory (naive eager). */
  NONE;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
