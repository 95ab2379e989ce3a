package dev.optc.compiler.ir;

import java.util.Locale;

/**
 * The reductions the IR keeps; the language's others are built from them by the frontend
 * ({@code mean = sum/n}, {@code norm = sqrt(sum(x*x))}, {@code rms}, {@code rowmean}, {@code colmean},
 * {@code global_norm}), so a backend implements only these five.
 *
 * <p>{@code SUM} and {@code MAXABS} reduce their argument's own entries: all elements of an elem value,
 * the {@code rows} entries of a row value, the {@code cols} entries of a col value. {@code ROWSUM} and
 * {@code COLSUM} sum the broadcast matrix view along a row or a column. {@code GLOBAL_SUM} is {@code SUM}
 * added over every tensor of the parameter group.
 */
public enum ReduceOp {
  SUM(Kind.UNIFORM),
  MAXABS(Kind.UNIFORM),
  ROWSUM(Kind.ROW),
  COLSUM(Kind.COL),
  GLOBAL_SUM(Kind.UNIFORM);

  private final Kind resultKind;

  ReduceOp(Kind resultKind) {
    this.resultKind = resultKind;
  }

  public Kind resultKind() {
    return resultKind;
  }

  public String symbol() {
    return name().toLowerCase(Locale.ROOT);
  }
}
