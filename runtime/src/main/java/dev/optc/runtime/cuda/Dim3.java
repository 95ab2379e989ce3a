package dev.optc.runtime.cuda;

/** Grid or block dimensions of a launch, each at least 1. */
public record Dim3(int x, int y, int z) {

  public Dim3 {
    if (x < 1 || y < 1 || z < 1) {
      throw new IllegalArgumentException("launch dimensions must be positive, not " + x + " x " + y + " x " + z);
    }
  }

  public static Dim3 of(int x) {
    return new Dim3(x, 1, 1);
  }

  public static Dim3 of(int x, int y) {
    return new Dim3(x, y, 1);
  }

  /** {@code x * y * z}, as a long: a grid's may pass {@code Integer.MAX_VALUE}. */
  public long volume() {
    return (long) x * y * z;
  }

  @Override
  public String toString() {
    return "(" + x + ", " + y + ", " + z + ")";
  }
}
