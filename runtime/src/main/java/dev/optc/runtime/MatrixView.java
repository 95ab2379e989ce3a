package dev.optc.runtime;

import java.util.Arrays;

/**
 * The matrix view of a tensor (DSL.md §5): shape (d0, …, dk) is {@code rows = d0·…·d(k-1)} by
 * {@code cols = dk}; a 1-D tensor is 1 × n and a scalar 1 × 1.
 */
public record MatrixView(int rows, int cols) {

  public static MatrixView of(long[] shape) {
    for (long d : shape) {
      if (d < 0) {
        throw new OptcException("shape " + Arrays.toString(shape) + " has a negative dimension");
      }
    }
    // Saturating products: an empty tensor may have huge dimensions, and huge ones must not wrap around.
    long cols = shape.length == 0 ? 1 : shape[shape.length - 1];
    long rows = 1;
    for (int i = 0; i < shape.length - 1; i++) {
      rows = saturatingMultiply(rows, shape[i]);
    }
    long numel = saturatingMultiply(rows, cols);
    if (numel > Integer.MAX_VALUE - 8) {
      throw new OptcException("shape " + Arrays.toString(shape) + " has " + (numel == Long.MAX_VALUE
          ? "more than 2^63" : String.valueOf(numel)) + " elements; one tensor holds at most 2^31 - 9");
    }
    if (rows > Integer.MAX_VALUE - 8 || cols > Integer.MAX_VALUE - 8) {
      throw new OptcException("shape " + Arrays.toString(shape) + " is viewed as a matrix of " + rows + " x "
          + cols + "; each side holds at most 2^31 - 9");
    }
    return new MatrixView((int) rows, (int) cols);
  }

  private static long saturatingMultiply(long a, long b) {
    if (a == 0 || b == 0) {
      return 0;
    }
    return a > Long.MAX_VALUE / b ? Long.MAX_VALUE : a * b;
  }

  public int numel() {
    return rows * cols;
  }
}
