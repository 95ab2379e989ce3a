package dev.optc.compiler.ir;

import java.util.Locale;
import java.util.Optional;

/**
 * Storage type of a state (DSL.md §3, §11). Arithmetic is always f32; a bf16 or f16 state is rounded to its
 * type when stored and widened when loaded; a q8 or q4 state is block-quantized ({@link QuantMap}: codes
 * plus one float32 absmax per block), which needs a whole block of new values before anything is stored.
 */
public enum Dtype {
  F32(32),
  BF16(16),
  F16(16),
  Q8(8),
  Q4(4);

  private final int bits;

  Dtype(int bits) {
    this.bits = bits;
  }

  /** Bits per element of the values or codes (a quantized state also keeps an absmax per block). */
  public int bits() {
    return bits;
  }

  /** Whole bytes per element, rounded up (q4: 1); for traffic estimates. */
  public int bytes() {
    return (bits + 7) / 8;
  }

  /** Whether this is a block-quantized storage ({@code q8}, {@code q4}). */
  public boolean quantized() {
    return this == Q8 || this == Q4;
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

  /**
   * The value a store of {@code v} leaves in memory, widened back to float. Quantized storage rounds a whole
   * block at once ({@link QuantMap}), not one value: here it leaves {@code v} as it is.
   */
  public float round(float v) {
    return switch (this) {
      case F32, Q8, Q4 -> v;
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
