package dev.optc.compiler.codegen.java;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.ir.QuantMap;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The Vector API block loops give the scalar rule's bytes ({@link Ops#quantize}): codes and
 * absmax of blocks whose values sit exactly on a threshold (x = midpoint × absmax where that is a float), one ulp
 * either side, on bucket boundaries, spread over 60 binary orders of magnitude, negative values in unsigned maps,
 * zero, NaN, infinite, subnormal and huge blocks, partial and odd-length blocks.
 */
class QuantLanesTest {
  private static final SplittableRandom RND = new SplittableRandom(2026_12_06L);

  @Test
  void codesAndAbsmaxAreTheScalarRulesOnEveryKindOfBlock() {
    int checked = 0;
    for (var map : QuantMap.values()) {
      for (float[] block : blocks(map)) {
        compare(map, block);
        checked++;
      }
    }
    assertTrue(checked > 4 * 400, "blocks checked: " + checked);
  }

  private static void compare(QuantMap map, float[] v) {
    try (var arena = Arena.ofConfined()) {
      int n = v.length;
      long bytes = map.codeBytes(n) + 8;
      long blocks = map.blocks(n) + 1;
      var c1 = arena.allocate(bytes);
      var c2 = arena.allocate(bytes);
      var a1 = arena.allocate(4 * blocks);
      var a2 = arena.allocate(4 * blocks);
      c2.fill((byte) 0x5a);
      c1.fill((byte) 0x5a);
      a2.fill((byte) 0x7f);
      a1.fill((byte) 0x7f);
      Ops.quantize(map, v, 0, n, c1, a1, 0);
      QuantLanes.quantize(map, v, 0, n, c2, a2, 0, new QuantLanes.Scratch());
      long at = c1.mismatch(c2);
      assertEquals(-1, at, () -> map + ": code byte " + at + " differs on " + describe(v, at));
      assertEquals(-1, a1.mismatch(a2), () -> map + ": absmax differs on " + describe(v, 0));
    }
  }

  private static String describe(float[] v, long at) {
    int e = (int) Math.min(at, v.length - 1);
    return v.length + " values, element " + e + " = " + v[Math.max(0, e)];
  }

  /** Blocks of one map's length (and some partial ones) of every kind the scalar rule distinguishes. */
  private static List<float[]> blocks(QuantMap map) {
    var out = new ArrayList<float[]>();
    int len = map.block();
    double[] mid = map.midpoints();
    for (int r = 0; r < 400; r++) {
      // A block with its absmax at a random scale; its other values on thresholds, one ulp off them, on bucket
      // boundaries, or random, with either sign.
      float a = (float) Math.scalb(1 + RND.nextDouble(), RND.nextInt(-98, 98));
      if (r % 4 == 0) {
        a = (float) Math.scalb(1.0, RND.nextInt(-90, 90));
      }
      int n = r % 5 == 0 ? 1 + RND.nextInt(len) : len;
      var v = new float[n];
      for (int j = 0; j < n; j++) {
        double q = switch (RND.nextInt(4)) {
          case 0 -> mid[RND.nextInt(mid.length)];
          case 1 -> Math.scalb(1 + RND.nextInt(256) / 256.0, -RND.nextInt(31));
          case 2 -> RND.nextDouble() * 2 - 1;
          default -> Math.scalb(RND.nextDouble(), -RND.nextInt(40));
        };
        float x = (float) (q * a);
        x = switch (RND.nextInt(3)) {
          case 0 -> Math.nextUp(x);
          case 1 -> Math.nextDown(x);
          default -> x;
        };
        if (Math.abs(x) > a) {
          x = Math.copySign(a, x);
        }
        v[j] = RND.nextInt(5) == 0 ? -x : x;
      }
      v[RND.nextInt(n)] = RND.nextBoolean() ? a : -a;
      out.add(v);
    }
    // Exact ties at powers of two (where midpoint × absmax is a float), and their neighbours.
    for (int e : new int[] {-100, -60, -1, 0, 3, 40, 99}) {
      float a = (float) Math.scalb(1.0, e);
      var v = new float[len];
      for (int j = 0; j < len; j++) {
        double m = mid[j % mid.length];
        float x = (float) (m * a);
        v[j] = j % 3 == 0 ? x : j % 3 == 1 ? Math.nextUp(x) : Math.nextDown(x);
      }
      v[len - 1] = a;
      out.add(v);
    }
    // Blocks the scalar rule keeps: zero, NaN, infinite, subnormal and huge absmax; a tail of three.
    out.add(new float[len]);
    out.add(filled(len, 1e-40f));
    out.add(filled(len, 3e38f));
    out.add(filled(len, 0x1p-101f));
    out.add(filled(len, 0x1p101f));
    var nan = filled(len, 0.5f);
    nan[17] = Float.NaN;
    out.add(nan);
    var inf = filled(len, 0.5f);
    inf[3] = Float.NEGATIVE_INFINITY;
    out.add(inf);
    out.add(new float[] {0.25f, -1f, 0.125f});
    // Several blocks in one call, the last partial.
    var several = new float[3 * len + 5];
    for (int j = 0; j < several.length; j++) {
      several[j] = (float) (RND.nextGaussian() * Math.exp(RND.nextGaussian() * 4));
    }
    out.add(several);
    return out;
  }

  private static float[] filled(int n, float x) {
    var v = new float[n];
    for (int j = 0; j < n; j++) {
      v[j] = j % 2 == 0 ? x : x / 3;
    }
    return v;
  }
}
