package dev.optc.compiler.codegen.java;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import dev.optc.compiler.ir.QuantMap;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Ops#qstore} with the same results, for classes generated with vector loops (where the JVM has the Vector
 * API): a block's absmax and its quotients' buckets over vectors, then per element
 * the code as {@link QuantMap#code(float, float, double)} finds it, from a bucket of the float32 quotient
 * {@code x * (1f / a)}: within a few ulps of the exact one, its bucket's code is at most one off (a bucket is
 * narrower than the gap between two midpoints), so the code is {@code b - 1 + [m[b-1] * a < x] + [m[b] * a < x]},
 * both products exact in double. Blocks with a zero, NaN, infinite or extreme absmax (outside [2^-100, 2^100]) take
 * {@link Ops#quantize}'s rule. Table lookups stay scalar: this CPU's (AMD EPYC, AVX2) gathers through the Vector API
 * cost about 10 ns each, more than eight scalar loads (measured 2026-12-06).
 */
public final class QuantLanes {
  private QuantLanes() {}

  private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Integer> INTS = IntVector.SPECIES_PREFERRED;
  private static final float SMALLEST = 0x1p-100f;
  private static final float LARGEST = 0x1p100f;

  /** Per phase call: a block's code bytes, buckets and codes, so no block allocates. */
  public static final class Scratch {
    private final byte[] bytes = new byte[256];
    private final int[] buckets = new int[256];
    private final int[] codes = new int[256];
  }

  /** {@link Ops#qstore}: the same codes and absmax values. */
  public static void qstore(QuantMap map, MemorySegment codes, MemorySegment absmax, MemorySegment raw,
      JavaStep.Segment s, int from, int n, float[] v, Scratch t) {
    if (!Ops.storedUnquantized(map, raw, s, from, n, v)) {
      quantize(map, v, from % v.length, n, codes, absmax, (long) s.qOffset() + from, t);
    }
  }

  /** {@link Ops#quantize}: the same codes and absmax values. */
  public static void quantize(QuantMap map, float[] v, int off, int n, MemorySegment codes, MemorySegment absmax,
      long q, Scratch t) {
    int block = map.block();
    for (int k = 0; k < n; k += block) {
      int m = Math.min(block, n - k);
      int o = off + k;
      FloatVector most = FloatVector.zero(FLOATS);
      int j = 0;
      for (int bound = FLOATS.loopBound(m); j < bound; j += FLOATS.length()) {
        most = most.max(FloatVector.fromArray(FLOATS, v, o + j).abs());
      }
      // Math.max semantics (NaN spreads), as Ops.quantize: the maximum does not depend on the order.
      float a = most.reduceLanes(VectorOperators.MAX);
      for (; j < m; j++) {
        a = Math.max(a, Math.abs(v[o + j]));
      }
      long first = q + k;
      if (!(a >= SMALLEST && a <= LARGEST)) {
        Ops.quantize(map, v, o, m, codes, absmax, first);
        continue;
      }
      absmax.setAtIndex(JAVA_FLOAT, first >> map.blockShift(), a);
      buckets(v, o, m, 1f / a, t.buckets);
      codes(v, o, m, a, TABLES[map.ordinal()], t);
      byte[] bytes = t.bytes;
      int[] c = t.codes;
      if (map.bits() == 8) {
        for (j = 0; j < m; j++) {
          bytes[j] = (byte) c[j];
        }
        MemorySegment.copy(bytes, 0, codes, JAVA_BYTE, first, m);
      } else {
        for (j = 0; j < m; j += 2) {
          bytes[j >> 1] = (byte) (c[j] | (j + 1 < m ? c[j + 1] << 4 : 0));
        }
        MemorySegment.copy(bytes, 0, codes, JAVA_BYTE, first >> 1, (m + 1) / 2);
      }
    }
  }

  /**
   * The codes of {@code v[o..o+m)} into {@code t.codes}: from each bucket's code {@code b} (at most one off),
   * {@code b - 1 + [m[b-1] * a < x] + [m[b] * a < x]} (-inf below code 0, +inf past the last), a positive
   * value's at least {@link QuantMap#lowestPositiveCode}.
   */
  private static void codes(float[] v, int o, int m, double a, Tables tables, Scratch t) {
    int[] buckets = t.buckets;
    int[] c = t.codes;
    int[] bases = tables.bases;
    double[] mid = tables.bounded;
    int lowest = tables.lowestPositive;
    for (int j = 0; j < m; j++) {
      double x = v[o + j];
      int b = bases[buckets[j]];
      int code = b - 1 + (mid[b] * a < x ? 1 : 0) + (mid[b + 1] * a < x ? 1 : 0);
      // code < lowest first: predictable (almost never, or never), where x's sign is not.
      c[j] = code < lowest && x > 0 ? lowest : code;
    }
  }

  /** A map's bucket codes and midpoints on either side of each code ({@link QuantMap#boundedMidpoints}). */
  private record Tables(int[] bases, double[] bounded, int lowestPositive) {
    static Tables of(QuantMap map) {
      return new Tables(map.bucketCodes(), map.boundedMidpoints(), map.lowestPositiveCode());
    }
  }

  private static final Tables[] TABLES = java.util.Arrays.stream(QuantMap.values()).map(Tables::of)
      .toArray(Tables[]::new);

  /** The bucket ({@link QuantMap#bucket(float)}) of each quotient {@code v[o + j] * inv}. */
  private static void buckets(float[] v, int o, int m, float inv, int[] out) {
    int j = 0;
    for (int bound = FLOATS.loopBound(m); j < bound; j += FLOATS.length()) {
      IntVector bits = FloatVector.fromArray(FLOATS, v, o + j).mul(inv).reinterpretAsInts();
      IntVector magnitude = bits.and(0x7fffffff).lanewise(VectorOperators.LSHR, QuantMap.BUCKET_SHIFT)
          .sub(QuantMap.BUCKET_BIAS).max(0).min(QuantMap.BUCKETS_PER_SIGN - 1);
      magnitude.add(IntVector.zero(INTS).blend(QuantMap.BUCKETS_PER_SIGN, bits.compare(VectorOperators.LT, 0)))
          .intoArray(out, j);
    }
    for (; j < m; j++) {
      out[j] = QuantMap.bucket(v[o + j] * inv);
    }
  }
}
