package dev.optc.compiler.codegen.c;

import java.util.Objects;

/**
 * What a device decides about the text of its kernels: the dialect, the work-group size reductions'
 * trees are written for, the type reductions accumulate in, and how many elements a work-item of an
 * elementwise phase takes per access. What else a device decides (elements per chunk, work-groups per
 * launch) reaches the kernels as arguments or launch sizes and leaves the text alone. A device supplies
 * its config, the engine builds {@code CEmitter.emit(plan, config)}, and {@code optc emit --backend}
 * prints the same text from the same config.
 *
 * @param localSize the work-group size of chunk kernels, a power of two (the size of the reduction tree)
 * @param vectorWidth 1 (one element per access) or 4 (quads: 16-byte accesses in elementwise float32
 *     phases)
 */
public record KernelConfig(Dialect dialect, int localSize, Accumulation accumulation, int vectorWidth) {

  /** The type reductions accumulate in. */
  public enum Accumulation {
    /** A tree of float partials and compensated sums: what devices without fp64 can do. */
    FLOAT("float", 4),
    /** Double, as the Java reference does: sums match it to float32 rounding even where terms cancel. */
    DOUBLE("double", 8);

    private final String type;
    private final int bytes;

    Accumulation(String type, int bytes) {
      this.type = type;
      this.bytes = bytes;
    }

    /** The C type. */
    public String type() {
      return type;
    }

    /** Bytes of one accumulator (one per-chunk partial). */
    public int bytes() {
      return bytes;
    }
  }

  public KernelConfig {
    Objects.requireNonNull(dialect);
    Objects.requireNonNull(accumulation);
    if (Integer.bitCount(localSize) != 1) {
      throw new IllegalArgumentException("local size must be a power of two, not " + localSize);
    }
    checkVectorWidth(vectorWidth);
  }

  /** The dialect's policy (its accumulation and vector width) at work-groups of {@code localSize}. */
  public static KernelConfig of(Dialect dialect, int localSize) {
    return new KernelConfig(dialect, localSize, dialect.accumulation(), dialect.vectorWidth());
  }

  public KernelConfig withLocalSize(int size) {
    return new KernelConfig(dialect, size, accumulation, vectorWidth);
  }

  public KernelConfig withAccumulation(Accumulation a) {
    return new KernelConfig(dialect, localSize, a, vectorWidth);
  }

  public KernelConfig withVectorWidth(int width) {
    return new KernelConfig(dialect, localSize, accumulation, width);
  }

  /** Whether elementwise float32 phases work in quads. */
  public boolean quads() {
    return vectorWidth == 4;
  }

  static void checkVectorWidth(int width) {
    if (width != 1 && width != 4) {
      throw new IllegalArgumentException("vector width must be 1 (one element per access) or 4 (quads), not "
          + width);
    }
  }
}
