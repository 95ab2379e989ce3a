package dev.optc.runtime;

import java.util.Arrays;

/**
 * The matrix view of a tensor (DSL.md §5): shape (d0, …, dk) is {@code rows = d0·…·d(k-1)} by
 * {@code cols = dk}; a 1-D tensor is 1 × n and a scalar 1 × 1.
 */
public record MatrixView(int rows, int cols) {

  public static MatrixView of(long[] shape) {
    long numel = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new OptcException("shape " + Arrays.toString(shape) + " has a negative dimension");
      }
      numel = Math.multiplyExact(numel, d);
    }
    if (numel > Integer.MAX_VALUE - 8) {
      throw new OptcException("shape " + Arrays.toString(shape) + " has " + numel
          + " elements; one tensor holds at most 2^31 - 9");
    }
    if (shape.length == 0) {
      return new MatrixView(1, 1);
    }
    long cols = shape[shape.length - 1];
    long rows = 1;
    for (int i = 0; i < shape.length - 1; i++) {
      rows *= shape[i];
    }
    return new MatrixView((int) rows, (int) cols);
  }

  public int numel() {
    return rows * cols;
  }
}
