package dev.optc.compiler.ir;

import java.util.Locale;
import java.util.Optional;

/**
 * Storage type of a state (DSL.md §3). Arithmetic is always f32; a bf16 or f16 state is rounded to its
 * type when stored and widened when loaded.
 */
public enum Dtype {
  F32(4),
  BF16(2),
  F16(2);

  private final int bytes;

  Dtype(int bytes) {
    this.bytes = bytes;
  }

  public int bytes() {
    return bytes;
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Optional<Dtype> parse(String name) {
    for (var d : values()) {
      if (d.label().equals(name)) {
        return Optional.of(d);
      }
    }
    return Optional.empty();
  }

  /** The value a store of {@code v} leaves in memory, widened back to float. */
  public float round(float v) {
    return switch (this) {
      case F32 -> v;
      case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
      case BF16 -> bf16ToFloat(floatToBf16(v));
    };
  }

  /** Round to nearest even, NaN kept quiet (the conversion CUDA's __float2bfloat16 does). */
  public static short floatToBf16(float v) {
    int bits = Float.floatToRawIntBits(v);
    if (Float.isNaN(v)) {
      return (short) ((bits >>> 16) | 0x40);
    }
    int rounding = 0x7FFF + ((bits >>> 16) & 1);
    return (short) ((bits + rounding) >>> 16);
  }

  public static float bf16ToFloat(short b) {
    return Float.intBitsToFloat((b & 0xFFFF) << 16);
  }
}
