package dev.optc.compiler.ir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The bucket table that finds a code with one lookup and one comparison gives the binary search's code (the
 * nearest entry, a tie going down) for every midpoint exactly, the doubles next to each, every entry, zeros,
 * ±1, and a million random quotients spread over 40 binary orders of magnitude.
 */
class QuantMapTest {
  @Test
  void theBucketTableAgreesWithTheBinarySearch() {
    var rnd = new SplittableRandom(14);
    for (var map : QuantMap.values()) {
      for (double m : map.midpoints()) {
        for (double q : new double[] {m, Math.nextUp(m), Math.nextDown(m), -m}) {
          assertEquals(map.searchCode(q), map.codeOf(q), map + " at " + q);
        }
      }
      for (float e : map.entries()) {
        assertEquals(map.searchCode(e), map.codeOf(e), map + " at entry " + e);
      }
      for (double q : new double[] {0.0, -0.0, 1.0, -1.0, Double.MIN_VALUE, -Double.MIN_VALUE, 1e-40, -1e-12}) {
        assertEquals(map.searchCode(q), map.codeOf(q), map + " at " + q);
      }
      for (int i = 0; i < 1_000_000; i++) {
        double q = (rnd.nextBoolean() ? 1 : -1) * Math.scalb(1 + rnd.nextDouble(), -rnd.nextInt(41)) / 2;
        assertEquals(map.searchCode(q), map.codeOf(q), map + " at " + q);
      }
    }
  }

  /**
   * The division-free code ({@code x * (1 / absmax)} for the bucket, the midpoint compared exactly) equals the code of
   * the exact quotient: on every exact tie (x = midpoint × a power of two, where that is a float), the floats next to
   * each tie, subnormal and huge blocks, and two million random pairs.
   */
  @Test
  void theDivisionFreeCodeIsTheExactQuotientsCode() {
    var rnd = new SplittableRandom(41);
    int anyTies = 0;
    for (var map : QuantMap.values()) {
      int ties = 0;
      for (double m : map.midpoints()) {
        for (int e : new int[] {-149 + 30, -126, -60, -1, 0, 3, 40, 100}) {
          float a = (float) Math.scalb(1.0, e);
          double exact = m * a;
          float x = (float) exact;
          if (x != exact || a == 0 || Float.isInfinite(a)) {
            continue;
          }
          ties++;
          for (float y : new float[] {x, Math.nextUp(x), Math.nextDown(x)}) {
            assertEquals(map.searchCode((double) y / a), map.code(y, a, 1.0 / a), map + ": " + y + " / " + a);
          }
        }
      }
      assertTrue(ties > map.midpoints().length, map + ": " + ties + " ties");
      // Ties at any absmax, where x * (1 / absmax) rounds either way (a negative one rounded toward zero crosses
      // into the bucket above when the midpoint is a bucket's boundary: q8_signed's -0.4375, for one).
      for (int i = 0; i < 200_000; i++) {
        double m = map.midpoints()[rnd.nextInt(map.midpoints().length)];
        float a = (float) Math.scalb(1 + rnd.nextDouble(), rnd.nextInt(-100, 100));
        double exact = m * a;
        float x = (float) exact;
        if (x != exact) {
          continue;
        }
        anyTies++;
        assertEquals(map.searchCode((double) x / a), map.code(x, a, 1.0 / a), map + ": tie " + x + " / " + a);
      }
      for (int i = 0; i < 2_000_000; i++) {
        float a = Float.intBitsToFloat(1 + rnd.nextInt(0x7f7fffff));
        float x = (rnd.nextBoolean() ? 1 : -1) * a * (float) (i % 3 == 0 ? rnd.nextDouble()
            : Math.scalb(1 + rnd.nextDouble(), -rnd.nextInt(40)) / 2);
        assertEquals(map.searchCode((double) x / a), map.code(x, a, 1.0 / a), map + ": " + x + " / " + a);
      }
    }
    // (q4_signed's midpoints have 25 significant bits: times an absmax other than a power of two, never a float.)
    assertTrue(anyTies > 1000, anyTies + " ties at any absmax");
  }

  /** Ties go to the lower entry; the code of x / absmax with absmax 0 is the entry nearest 0. */
  @Test
  void tiesGoDownAndAZeroBlockTakesTheEntryNearestZero() {
    var linear = QuantMap.Q4_UNSIGNED;
    assertEquals(0, linear.code(3, 32), "3/32 lies halfway between 1/16 and 2/16");
    assertEquals(1, linear.code(Math.nextUp(3f), 32));
    assertEquals(0, linear.code(0, 0), "no zero entry: 1/16, which reads back 1/16 * 0 = 0");
    assertEquals(0f, linear.dequantize(linear.code(0, 0), 0));
    var signed = QuantMap.Q8_SIGNED;
    assertEquals(0f, signed.value(signed.code(0, 0)));
    assertEquals(0, signed.code(-5, 5), "no -1 in the signed map: its lowest entry");
    assertEquals(1f, signed.value(signed.code(5, 5)));
  }

  /**
   * A positive value nearest the unsigned 8-bit map's zero entry takes its first positive entry (a second moment
   * read back as 0 would step by m / eps); 0 keeps the zero entry; the other maps are unchanged.
   */
  @Test
  void aPositiveValueNeverReadsBackAsZeroInTheUnsigned8BitMap() {
    var unsigned = QuantMap.Q8_UNSIGNED;
    assertEquals(0f, unsigned.value(0));
    assertEquals(1, unsigned.lowestPositiveCode());
    for (float x : new float[] {Float.MIN_VALUE, 1e-30f, 1e-10f, 1e-7f}) {
      assertEquals(1, unsigned.code(x, 1f), "x = " + x);
      assertEquals(1, unsigned.code(x, 1f, 1.0), "x = " + x);
      assertEquals(1, unsigned.searchCode(x), "x = " + x);
      assertEquals(1, unsigned.codeOf(x), "x = " + x);
    }
    assertEquals(0, unsigned.code(0f, 1f));
    assertEquals(0, unsigned.code(0f, 0f));
    assertEquals(0, unsigned.code(-1e-10f, 1f), "a negative value (never stored in this map) keeps the nearest");
    assertEquals(2, unsigned.code(unsigned.value(2), 1f));
    for (var map : new QuantMap[] {QuantMap.Q8_SIGNED, QuantMap.Q4_SIGNED, QuantMap.Q4_UNSIGNED}) {
      assertEquals(0, map.lowestPositiveCode(), map + " has no zero lowest entry");
    }
    assertEquals(127, QuantMap.Q8_SIGNED.code(1e-10f, 1f), "the signed map keeps its zero entry for tiny values");
  }
}
