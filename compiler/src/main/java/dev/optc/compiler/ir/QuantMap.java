package dev.optc.compiler.ir;

import java.util.Arrays;

/**
 * The code books of quantized state storage ({@code as q8}, {@code as q4}; DSL.md §11): blockwise
 * quantization as bitsandbytes' 8-bit optimizers define it. A block of {@link #block()} consecutive elements
 * of a tensor keeps one float32 {@code absmax} (its largest magnitude) and one code per element, the index
 * of the map entry nearest to {@code value / absmax}; the value read back is {@code map[code] * absmax}
 * (one float32 product).
 *
 * <ul>
 *   <li>{@link #Q8_SIGNED}, {@link #Q8_UNSIGNED}: blocks of 256, one byte per element; bitsandbytes'
 *       {@code create_dynamic_map(signed=True)} and {@code (signed=False)}.
 *   <li>{@link #Q4_SIGNED}: blocks of 128, two codes per byte; {@code create_dynamic_map(signed=True,
 *       max_exponent_bits=3, total_bits=4)}.
 *   <li>{@link #Q4_UNSIGNED}: blocks of 128; the linear map without zero, {@code k/16} for {@code k = 1..16}
 *       (Li et al. 2023; torchao's 4-bit AdamW).
 * </ul>
 *
 * <p>The entries are the float32 values bitsandbytes computes (through {@code torch.linspace}, whose last-ulp
 * rounding a plain float32 formula does not reproduce), written here as bit patterns; {@code QuantGoldenTest}
 * checks them against the maps {@code tools/golden/make_quant_golden.py} builds independently.
 *
 * <p>Rules every backend follows (the golden vectors' rules): the absmax of a block is the float32 maximum of
 * its magnitudes; an all-zero block keeps absmax 0 and reads back 0; the code is the nearest entry to the
 * quotient taken exactly ({@code (double) x / absmax}), a value exactly halfway taking the lower index, a positive
 * value never the unsigned 8-bit map's zero entry ({@link #lowestPositiveCode}). A
 * q4 byte holds element {@code 2k} of a block in its low nibble and element {@code 2k + 1} in its high one.
 */
public enum QuantMap {
  Q8_SIGNED(256, 8, new int[] {
      0xbf7e3333, 0xbf7a9999, 0xbf770000, 0xbf736666, 0xbf6fcccc, 0xbf6c3333, 0xbf68999a, 0xbf650000,
      0xbf616666, 0xbf5dcccc, 0xbf5a3333, 0xbf569999, 0xbf530000, 0xbf4f6666, 0xbf4bcccc, 0xbf483333,
      0xbf44999a, 0xbf410000, 0xbf3d6667, 0xbf39cccd, 0xbf363334, 0xbf32999a, 0xbf2f0000, 0xbf2b6667,
      0xbf27cccd, 0xbf243333, 0xbf20999a, 0xbf1d0000, 0xbf196666, 0xbf15cccd, 0xbf123334, 0xbf0e999a,
      0xbf0b0000, 0xbf076666, 0xbf03cccd, 0xbf003333, 0xbef93334, 0xbef20000, 0xbeeacccc, 0xbee3999a,
      0xbedc6666, 0xbed53332, 0xbece0000, 0xbec6cccc, 0xbebf999a, 0xbeb86666, 0xbeb13332, 0xbeaa0000,
      0xbea2cccc, 0xbe9b999a, 0xbe946666, 0xbe8d3334, 0xbe860000, 0xbe7d999a, 0xbe6f3334, 0xbe60cccd,
      0xbe526666, 0xbe440000, 0xbe359999, 0xbe273333, 0xbe18cccd, 0xbe0a6666, 0xbdf80000, 0xbddb3334,
      0xbdc9eb85, 0xbdc428f5, 0xbdbe6667, 0xbdb8a3d7, 0xbdb2e148, 0xbdad1eb8, 0xbda75c28, 0xbda1999a,
      0xbd9bd70a, 0xbd96147b, 0xbd9051eb, 0xbd8a8f5d, 0xbd84cccd, 0xbd7e147a, 0xbd728f5d, 0xbd670a3d,
      0xbd5b851f, 0xbd500000, 0xbd447ae1, 0xbd38f5c3, 0xbd2d70a3, 0xbd21eb85, 0xbd166667, 0xbd0ae147,
      0xbcfeb852, 0xbce7ae13, 0xbcd0a3d7, 0xbcb9999a, 0xbca28f5c, 0xbc8b851f, 0xbc68f5c3, 0xbc3ae148,
      0xbc1f3b64, 0xbc160418, 0xbc0ccccd, 0xbc039581, 0xbbf4bc6a, 0xbbe24dd3, 0xbbcfdf3b, 0xbbbd70a4,
      0xbbab020d, 0xbb989374, 0xbb8624dd, 0xbb676c8a, 0xbb428f5c, 0xbb1db22d, 0xbaf1a9fc, 0xbaa7ef9d,
      0xba7765ff, 0xba59e83e, 0xba3c6a80, 0xba1eecc1, 0xba016f01, 0xb9c7e283, 0xb98ce705, 0xb923d70b,
      0xb8ba1f4b, 0xb88aefb3, 0xb8378034, 0xb7b24206, 0xb70205ff, 0xb65a1a94, 0xb513a3b7, 0x00000000,
      0x3513a3b7, 0x365a1a94, 0x370205ff, 0x37b24206, 0x38378034, 0x388aefb3, 0x38ba1f4b, 0x3923d70b,
      0x398ce705, 0x39c7e283, 0x3a016f01, 0x3a1eecc1, 0x3a3c6a80, 0x3a59e83e, 0x3a7765ff, 0x3aa7ef9d,
      0x3af1a9fc, 0x3b1db22d, 0x3b428f5c, 0x3b676c8a, 0x3b8624dd, 0x3b989374, 0x3bab020d, 0x3bbd70a4,
      0x3bcfdf3b, 0x3be24dd3, 0x3bf4bc6a, 0x3c039581, 0x3c0ccccd, 0x3c160418, 0x3c1f3b64, 0x3c3ae148,
      0x3c68f5c3, 0x3c8b851f, 0x3ca28f5c, 0x3cb9999a, 0x3cd0a3d7, 0x3ce7ae13, 0x3cfeb852, 0x3d0ae147,
      0x3d166667, 0x3d21eb85, 0x3d2d70a3, 0x3d38f5c3, 0x3d447ae1, 0x3d500000, 0x3d5b851f, 0x3d670a3d,
      0x3d728f5d, 0x3d7e147a, 0x3d84cccd, 0x3d8a8f5d, 0x3d9051eb, 0x3d96147b, 0x3d9bd70a, 0x3da1999a,
      0x3da75c28, 0x3dad1eb8, 0x3db2e148, 0x3db8a3d7, 0x3dbe6667, 0x3dc428f5, 0x3dc9eb85, 0x3ddb3334,
      0x3df80000, 0x3e0a6666, 0x3e18cccd, 0x3e273333, 0x3e359999, 0x3e440000, 0x3e526666, 0x3e60cccd,
      0x3e6f3334, 0x3e7d999a, 0x3e860000, 0x3e8d3334, 0x3e946666, 0x3e9b999a, 0x3ea2cccc, 0x3eaa0000,
      0x3eb13332, 0x3eb86666, 0x3ebf999a, 0x3ec6cccc, 0x3ece0000, 0x3ed53332, 0x3edc6666, 0x3ee3999a,
      0x3eeacccc, 0x3ef20000, 0x3ef93334, 0x3f003333, 0x3f03cccd, 0x3f076666, 0x3f0b0000, 0x3f0e999a,
      0x3f123334, 0x3f15cccd, 0x3f196666, 0x3f1d0000, 0x3f20999a, 0x3f243333, 0x3f27cccd, 0x3f2b6667,
      0x3f2f0000, 0x3f32999a, 0x3f363334, 0x3f39cccd, 0x3f3d6667, 0x3f410000, 0x3f44999a, 0x3f483333,
      0x3f4bcccc, 0x3f4f6666, 0x3f530000, 0x3f569999, 0x3f5a3333, 0x3f5dcccc, 0x3f616666, 0x3f650000,
      0x3f68999a, 0x3f6c3333, 0x3f6fcccc, 0x3f736666, 0x3f770000, 0x3f7a9999, 0x3f7e3333, 0x3f800000
  }),
  Q8_UNSIGNED(256, 8, new int[] {
      0x00000000, 0x34ae7baa, 0x35500998, 0x360e9b38, 0x3692ccf6, 0x36de4c51, 0x3714e5d5, 0x3783126e,
      0x37e171a0, 0x381fe868, 0x384f1800, 0x387e479a, 0x3896bb99, 0x38ae5364, 0x38c5eb31, 0x3906594b,
      0x394154ca, 0x397c5048, 0x399ba5e4, 0x39b923a2, 0x39d6a162, 0x39f41f22, 0x3a08ce71, 0x3a178d50,
      0x3a264c30, 0x3a350b10, 0x3a43c9ef, 0x3a5288d0, 0x3a6147af, 0x3a70068e, 0x3a7ec56e, 0x3a958106,
      0x3aba5e35, 0x3adf3b64, 0x3b020c49, 0x3b147ae1, 0x3b26e978, 0x3b39580f, 0x3b4bc6a7, 0x3b5e353e,
      0x3b70a3d7, 0x3b818937, 0x3b8ac082, 0x3b93f7cf, 0x3b9d2f1a, 0x3ba66666, 0x3baf9db2, 0x3bb8d4fd,
      0x3bc20c4a, 0x3bcb4394, 0x3bd47ae1, 0x3bddb22e, 0x3be6e978, 0x3bf020c5, 0x3bf9580f, 0x3c0147ae,
      0x3c05e353, 0x3c0a7ef9, 0x3c0f1aa0, 0x3c13b645, 0x3c1851eb, 0x3c1ced90, 0x3c218937, 0x3c2f5c2a,
      0x3c466667, 0x3c5d70a3, 0x3c747ae2, 0x3c85c28f, 0x3c9147ae, 0x3c9ccccd, 0x3ca851eb, 0x3cb3d70b,
      0x3cbf5c2a, 0x3ccae148, 0x3cd66667, 0x3ce1eb87, 0x3ced70a3, 0x3cf8f5c3, 0x3d023d70, 0x3d080000,
      0x3d0dc28f, 0x3d13851f, 0x3d1947af, 0x3d1f0a3d, 0x3d24cccd, 0x3d2a8f5b, 0x3d3051eb, 0x3d36147b,
      0x3d3bd70a, 0x3d41999a, 0x3d475c2a, 0x3d4d1eb8, 0x3d52e148, 0x3d58a3d7, 0x3d5e6667, 0x3d6428f7,
      0x3d69eb87, 0x3d6fae15, 0x3d7570a3, 0x3d7b3333, 0x3d807ae2, 0x3d835c29, 0x3d863d71, 0x3d891eb9,
      0x3d8c0000, 0x3d8ee148, 0x3d91c290, 0x3d94a3d7, 0x3d97851f, 0x3d9a6667, 0x3d9d47af, 0x3da028f6,
      0x3da30a3d, 0x3da5eb85, 0x3da8cccd, 0x3dabae14, 0x3dae8f5c, 0x3db170a3, 0x3db451eb, 0x3db73333,
      0x3dba147b, 0x3dbcf5c3, 0x3dbfd70a, 0x3dc2b852, 0x3dc5999a, 0x3dc87ae1, 0x3dcb5c29, 0x3dd40000,
      0x3de26666, 0x3df0cccd, 0x3dff3333, 0x3e06cccc, 0x3e0e0000, 0x3e153334, 0x3e1c6666, 0x3e23999a,
      0x3e2acccc, 0x3e320000, 0x3e393334, 0x3e406666, 0x3e47999a, 0x3e4ecccc, 0x3e560000, 0x3e5d3334,
      0x3e646666, 0x3e6b999a, 0x3e72ccce, 0x3e7a0000, 0x3e80999a, 0x3e843333, 0x3e87cccd, 0x3e8b6667,
      0x3e8f0000, 0x3e92999a, 0x3e963334, 0x3e99cccd, 0x3e9d6667, 0x3ea10000, 0x3ea4999a, 0x3ea83333,
      0x3eabcccc, 0x3eaf6666, 0x3eb30000, 0x3eb69999, 0x3eba3333, 0x3ebdcccc, 0x3ec16666, 0x3ec50000,
      0x3ec8999a, 0x3ecc3333, 0x3ecfcccc, 0x3ed36666, 0x3ed70000, 0x3eda9999, 0x3ede3333, 0x3ee1cccd,
      0x3ee56666, 0x3ee90000, 0x3eec999a, 0x3ef03333, 0x3ef3cccd, 0x3ef76666, 0x3efb0000, 0x3efe9999,
      0x3f01199a, 0x3f02e666, 0x3f04b332, 0x3f068000, 0x3f084ccc, 0x3f0a199a, 0x3f0be666, 0x3f0db334,
      0x3f0f8000, 0x3f114ccd, 0x3f13199a, 0x3f14e666, 0x3f16b334, 0x3f188000, 0x3f1a4ccd, 0x3f1c199a,
      0x3f1de666, 0x3f1fb333, 0x3f218000, 0x3f234ccc, 0x3f25199a, 0x3f26e666, 0x3f28b334, 0x3f2a8000,
      0x3f2c4cce, 0x3f2e199a, 0x3f2fe666, 0x3f31b334, 0x3f338000, 0x3f354cce, 0x3f37199a, 0x3f38e666,
      0x3f3ab334, 0x3f3c8000, 0x3f3e4ccc, 0x3f40199a, 0x3f41e666, 0x3f43b334, 0x3f458000, 0x3f474ccc,
      0x3f49199a, 0x3f4ae666, 0x3f4cb332, 0x3f4e8000, 0x3f504ccc, 0x3f52199a, 0x3f53e666, 0x3f55b334,
      0x3f578000, 0x3f594ccd, 0x3f5b199a, 0x3f5ce666, 0x3f5eb334, 0x3f608000, 0x3f624ccd, 0x3f64199a,
      0x3f65e666, 0x3f67b333, 0x3f698000, 0x3f6b4ccc, 0x3f6d199a, 0x3f6ee666, 0x3f70b334, 0x3f728000,
      0x3f744cce, 0x3f76199a, 0x3f77e666, 0x3f79b334, 0x3f7b8000, 0x3f7d4cce, 0x3f7f199a, 0x3f800000
  }),
  Q4_SIGNED(128, 4, new int[] {
      0xbf633333, 0xbf29999a, 0xbee00000, 0xbe599999, 0xbd9eb852, 0xbd051eb9, 0xbbb43958, 0x00000000,
      0x3bb43958, 0x3d051eb9, 0x3d9eb852, 0x3e599999, 0x3ee00000, 0x3f29999a, 0x3f633333, 0x3f800000
  }),
  Q4_UNSIGNED(128, 4, new int[] {
      0x3d800000, 0x3e000000, 0x3e400000, 0x3e800000, 0x3ea00000, 0x3ec00000, 0x3ee00000, 0x3f000000,
      0x3f100000, 0x3f200000, 0x3f300000, 0x3f400000, 0x3f500000, 0x3f600000, 0x3f700000, 0x3f800000
  });

  private final int block;
  private final int bits;
  private final float[] values;
  /** Midpoints between consecutive entries, exact in double: a quotient above {@code mid[k]} is past entry k. */
  private final double[] mid;

  QuantMap(int block, int bits, int[] entries) {
    this.block = block;
    this.bits = bits;
    this.values = new float[entries.length];
    for (int i = 0; i < entries.length; i++) {
      values[i] = Float.intBitsToFloat(entries[i]);
    }
    this.mid = new double[values.length - 1];
    for (int i = 0; i < mid.length; i++) {
      mid[i] = ((double) values[i] + values[i + 1]) / 2;
    }
    this.lowestPositive = values[0] == 0 ? 1 : 0;
    this.bounded = new double[mid.length + 2];
    bounded[0] = Double.NEGATIVE_INFINITY;
    System.arraycopy(mid, 0, bounded, 1, mid.length);
    bounded[mid.length + 1] = Double.POSITIVE_INFINITY;
    buildBuckets();
  }

  /** The map for storage {@code dtype} ({@link Dtype#Q8} or {@link Dtype#Q4}) of a state of this sign. */
  public static QuantMap of(Dtype dtype, boolean nonNegative) {
    return switch (dtype) {
      case Q8 -> nonNegative ? Q8_UNSIGNED : Q8_SIGNED;
      case Q4 -> nonNegative ? Q4_UNSIGNED : Q4_SIGNED;
      case F32, BF16, F16 -> throw new IllegalArgumentException(dtype + " is not quantized");
    };
  }

  /** Elements per block (one absmax each). */
  public int block() {
    return block;
  }

  /** log2 of {@link #block()}: element {@code q}'s block is {@code q >> blockShift()} (no division per element). */
  public int blockShift() {
    return Integer.numberOfTrailingZeros(block);
  }

  /** Bits per code: 8 or 4. */
  public int bits() {
    return bits;
  }

  public boolean signed() {
    return values[0] < 0;
  }

  /** The entries, ascending. */
  public float[] entries() {
    return values.clone();
  }

  /**
   * The midpoints between consecutive entries, exact in double ({@code (map[k] + map[k+1]) / 2}): the code of
   * a quotient {@code q} is the number of midpoints strictly below it.
   */
  public double[] midpoints() {
    return mid.clone();
  }

  /** Entry {@code code}. */
  public float value(int code) {
    return values[code];
  }

  /** The value a code reads back as: {@code map[code] * absmax}, one float32 product. */
  public float dequantize(int code, float absmax) {
    return values[code] * absmax;
  }

  /**
   * The code of {@code x} in a block of largest magnitude {@code absmax}: the entry nearest to the exact
   * quotient (ties to the lower index); the entry nearest 0 when {@code absmax} is 0.
   */
  public int code(float x, float absmax) {
    if (absmax > 0 && absmax < Float.POSITIVE_INFINITY) {
      return code(x, absmax, 1.0 / absmax);
    }
    // 0 for an all-zero (or NaN) block; an infinite block's quotients are 0 or NaN (no midpoint is below NaN).
    return codeOf(absmax > 0 ? (double) x / absmax : 0.0);
  }

  /**
   * The lowest code a positive value takes: 1 in the unsigned 8-bit map, whose entry 0 is zero, else 0. A positive
   * second moment read back as 0 would divide its step by eps alone, and it stays 0: the next value, (1 - beta2)
   * g^2, is again below the first midpoint of its block (on digits, 20 elements a step, for the whole run). So a
   * positive value nearest to 0 takes the first positive entry instead, as Li et al. 2023 (4-bit states) keep zero
   * out of the second moment's map; 0 itself keeps code 0.
   */
  public int lowestPositiveCode() {
    return lowestPositive;
  }

  private final int lowestPositive;

  /** {@code code}, raised to {@link #lowestPositiveCode} for a positive value. */
  private int positive(int code, boolean positive) {
    // code < lowestPositive first: a predictable branch (almost never taken), where the sign of x is not (a test
    // of it first cost a signed block's codes twice their time).
    return code < lowestPositive && positive ? lowestPositive : code;
  }

  /**
   * {@link #code(float, float)} for a finite {@code absmax > 0} without a division per element: {@code inv} is {@code 1.0 /
   * absmax} (double), {@code x * inv} picks the bucket and the bucket's midpoint is compared exactly, as {@code
   * mid * absmax < x} (a midpoint has at most 25 significant bits and absmax 24, so the product is exact in double).
   * The bucket is right: {@code x * inv} is within 2^-52 (relative) of the exact quotient, while a midpoint that is
   * not the quotient itself is at least 2^-49 from it ({@code x - mid * absmax} is a multiple of the product's unit,
   * {@code >= |x| 2^-49}), and a bucket boundary (9 significant bits) that is not a midpoint at least 2^-24; only an
   * exact tie on a boundary can land one bucket off, and the comparisons with the midpoints on either side of the
   * bucket's code settle it. Tested against the division on ties (at powers of two and at any absmax), subnormal
   * blocks and random values ({@code QuantMapTest}).
   */
  public int code(float x, float absmax, double inv) {
    int base = bucketBase[bucket(x * inv)] & 0xff;
    // A negative tie (x = midpoint × absmax at the top of its bucket, (-hi, -lo]) whose x * inv rounds toward zero
    // lands one bucket up, whose code counts that midpoint as below: the midpoint under the base is checked too.
    return positive(base - (bounded[base] * absmax >= x ? 1 : 0) + (bounded[base + 1] * absmax < x ? 1 : 0), x > 0);
  }

  /**
   * The code of quotient {@code q}: the number of midpoints strictly below it (the nearest entry, a tie going
   * down), found through {@link #bucketBase}: one table lookup and at most one comparison, where a binary
   * search over 255 midpoints mispredicts about half its 8 branches on real data.
   */
  int codeOf(double q) {
    int base = bucketBase[bucket(q)] & 0xff;
    return positive(base + (bounded[base + 1] < q ? 1 : 0), q > 0);
  }

  /** The code by binary search over the midpoints: what {@link #codeOf} must equal (tests). */
  int searchCode(double q) {
    int lo = 0;
    int hi = mid.length;
    while (lo < hi) {
      int m = (lo + hi) >>> 1;
      if (mid[m] < q) {
        lo = m + 1;
      } else {
        hi = m;
      }
    }
    if (q > 0 && lo < lowestPositive) {
      return lowestPositive;
    }
    return lo;
  }

  /** Magnitudes below 2^LOW share one bucket per sign (no midpoint of any map is that close to 0). */
  private static final int LOW = -30;
  /** Mantissa bits per bucket: buckets of relative width 2^-8, narrower than any two midpoints' gap. */
  private static final int FRACTION_BITS = 8;
  private static final int PER_SIGN = 1 + (1 - LOW) * (1 << FRACTION_BITS);

  /**
   * The bucket of {@code q}: by sign, then binary exponent (clamped to {@code [LOW, 0]}: a quotient lies in
   * [-1, 1]) and the top {@link #FRACTION_BITS} bits of the mantissa.
   */
  private static int bucket(double q) {
    long bits = Double.doubleToRawLongBits(q);
    int e = (int) ((bits >>> 52) & 0x7ff) - 1023;
    int inSign = e < LOW ? 0 : 1 + (Math.min(e, 0) - LOW) * (1 << FRACTION_BITS)
        + (int) ((bits >>> (52 - FRACTION_BITS)) & ((1 << FRACTION_BITS) - 1));
    return (int) (bits >>> 63) * PER_SIGN + inSign;
  }

  /** Buckets per sign. */
  public static final int BUCKETS_PER_SIGN = PER_SIGN;
  /** A float32's magnitude bits shifted right by this keep its exponent and top {@link #FRACTION_BITS} bits. */
  public static final int BUCKET_SHIFT = 23 - FRACTION_BITS;
  /** Subtracted from the shifted magnitude bits: exponent {@link #LOW} with fraction 0 is bucket 1. */
  public static final int BUCKET_BIAS = ((127 + LOW) << FRACTION_BITS) - 1;

  /**
   * The bucket of a float32 quotient {@code q} of magnitude below 2 (a block's quotient within a few ulps): the
   * bucket {@link #bucket(double)} gives the same value (a float's exponent and top mantissa bits are its
   * double's; subnormal floats lie in bucket 0).
   */
  public static int bucket(float q) {
    int bits = Float.floatToRawIntBits(q);
    int in = Math.min(Math.max(((bits & 0x7fffffff) >>> BUCKET_SHIFT) - BUCKET_BIAS, 0), PER_SIGN - 1);
    return (bits >>> 31) * PER_SIGN + in;
  }

  /** Per bucket, the code of its lowest quotient ({@link #bucketBase} as ints, for table lookups by lanes). */
  public int[] bucketCodes() {
    int[] codes = new int[bucketBase.length];
    for (int i = 0; i < codes.length; i++) {
      codes[i] = bucketBase[i] & 0xff;
    }
    return codes;
  }

  /**
   * Per bucket, the code of its lowest quotient (in q order): the number of midpoints below the bucket. The one
   * midpoint that may lie inside it is then the next one, {@code bounded[base + 1]}; if that lies past the bucket, the
   * comparison with it is false for every quotient in the bucket, as it should be. A byte per bucket (16 KB) and
   * 256 doubles: both stay in the first-level cache.
   */
  private final byte[] bucketBase = new byte[2 * PER_SIGN];
  /**
   * -inf, the midpoints, +inf: {@code bounded[c]} is the midpoint under code c and {@code bounded[c + 1]} the one
   * above it, so every code has both.
   */
  private final double[] bounded;

  /** The midpoints between -inf and +inf: code c lies between entries {@code [c]} and {@code [c + 1]}. */
  public double[] boundedMidpoints() {
    return bounded.clone();
  }

  private void buildBuckets() {
    for (int sign = 0; sign < 2; sign++) {
      for (int i = 0; i < PER_SIGN; i++) {
        // The bucket's magnitudes [lo, hi).
        double lo;
        double hi;
        if (i == 0) {
          lo = 0;
          hi = Math.scalb(1.0, LOW);
        } else {
          int e = LOW + (i - 1) / (1 << FRACTION_BITS);
          int f = (i - 1) % (1 << FRACTION_BITS);
          lo = Math.scalb(1.0 + (double) f / (1 << FRACTION_BITS), e);
          hi = Math.scalb(1.0 + (double) (f + 1) / (1 << FRACTION_BITS), e);
        }
        // In q order: [lo, hi) for positive q, (-hi, -lo] for negative q.
        int b = sign * PER_SIGN + i;
        int inside = 0;
        double only = Double.POSITIVE_INFINITY;
        int below = 0;
        for (double m : mid) {
          boolean in = sign == 0 ? m >= lo && m < hi : m > -hi && m <= -lo;
          if (in) {
            inside++;
            only = m;
          } else if (sign == 0 ? m < lo : m <= -hi) {
            below++;
          }
        }
        if (inside > 1) {
          throw new ExceptionInInitializerError(this + ": " + inside + " midpoints in one bucket");
        }
        // A midpoint equal to the bucket's lowest quotient is not below it; the comparison then decides.
        bucketBase[b] = (byte) below;
        if (inside == 1 && mid[below] != only) {
          throw new ExceptionInInitializerError(this + ": the midpoint inside a bucket is not the next one");
        }
      }
    }
  }

  /** The byte that holds quantized element {@code q}'s code ({@code q} at a block start: a whole byte). */
  public long codeByte(long q) {
    return bits == 8 ? q : q >> 1;
  }

  /** Bytes of codes for {@code n} elements. */
  public long codeBytes(long n) {
    return bits == 8 ? n : (n + 1) / 2;
  }

  /** Blocks (absmax values) for {@code n} elements. */
  public long blocks(long n) {
    return (n + block - 1) / block;
  }

  /** Bytes per element of a large tensor: the code plus its share of the block's float32 absmax. */
  public double bytesPerElement() {
    return bits / 8.0 + (double) Float.BYTES / block;
  }

  @Override
  public String toString() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  static {
    for (var m : values()) {
      if (m.values.length != 1 << m.bits || !Arrays.equals(m.values, sortedCopy(m.values))) {
        throw new ExceptionInInitializerError(m + ": not " + (1 << m.bits) + " ascending entries");
      }
    }
  }

  private static float[] sortedCopy(float[] v) {
    var c = v.clone();
    Arrays.sort(c);
    return c;
  }
}
