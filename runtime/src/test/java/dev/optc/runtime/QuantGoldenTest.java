package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.runtime.io.Npy;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The golden vectors of issue 14 (`as q8` / `as q4` states), written by tools/golden/make_quant_golden.py, read
 * with the project's Npy reader and checked against an independent float32 re-implementation of blockwise
 * quantization that lives in this test only: the files are consistent, and a float32 kernel following the
 * documented rules (README "Quantized optimizer states") reproduces the golden codes and absmax bit for bit.
 */
class QuantGoldenTest {
  static final Path DIR = Path.of("src/test/resources/quant");

  /** scheme name, map file, block size, bits per code. */
  record Scheme(String name, String map, int block, int bits) {
    boolean signed() {
      return name.endsWith("_signed");
    }
  }

  static final List<Scheme> SCHEMES =
      List.of(
          new Scheme("q8_signed", "dynamic8_signed", 256, 8),
          new Scheme("q8_unsigned", "dynamic8_unsigned", 256, 8),
          new Scheme("q4_signed", "dynamic4_signed", 128, 4),
          new Scheme("q4_unsigned", "linear4_unsigned", 128, 4));

  static float[] map(String name) throws IOException {
    return Npy.readFloat32(DIR.resolve("map_" + name + ".npy")).data();
  }

  @Test
  void mapsHaveTheirDocumentedShape() throws IOException {
    for (var s : SCHEMES) {
      float[] m = map(s.map());
      assertEquals(1 << s.bits(), m.length, s.map());
      for (int i = 1; i < m.length; i++) {
        assertTrue(m[i - 1] < m[i], s.map() + " sorted at " + i);
      }
      assertEquals(1.0f, m[m.length - 1], s.map());
      boolean hasZero = Arrays.binarySearch(m, 0.0f) >= 0;
      assertEquals(!s.map().equals("linear4_unsigned"), hasZero, s.map() + " zero entry");
      assertTrue(s.signed() ? m[0] < 0 && m[0] > -1 : m[0] >= 0, s.map() + " sign");
    }
    float[] linear = map("linear4_unsigned");
    for (int k = 1; k <= 16; k++) {
      assertEquals(k / 16.0f, linear[k - 1]);
    }
  }

  /**
   * Index of the entry nearest to x (compared in double); a tie takes the lower index; a positive x never takes a
   * zero lowest entry (the unsigned 8-bit map's; {@code QuantMap.lowestPositiveCode}).
   */
  static int nearest(float[] map, float x) {
    int hi = 1;
    while (hi < map.length - 1 && map[hi] < x) {
      hi++;
    }
    int lo = hi - 1;
    int code = Math.abs((double) map[hi] - x) < Math.abs((double) x - map[lo]) ? hi : lo;
    return code == 0 && map[0] == 0 && x > 0 ? 1 : code;
  }

  /** Blockwise quantization in float32: absmax per block, code = nearest(x / absmax); 0 when absmax is 0. */
  static int[] quantize(float[] x, float[] map, int block, float[] absmaxOut) {
    int[] codes = new int[x.length];
    for (int b = 0; b * block < x.length; b++) {
      int from = b * block;
      int to = Math.min(x.length, from + block);
      float absmax = 0;
      for (int i = from; i < to; i++) {
        absmax = Math.max(absmax, Math.abs(x[i]));
      }
      absmaxOut[b] = absmax;
      for (int i = from; i < to; i++) {
        codes[i] = nearest(map, absmax > 0 ? x[i] / absmax : 0.0f);
      }
    }
    return codes;
  }

  /** The stored codes: one byte per element (q8), or element 2k in the low nibble of byte k (q4). */
  static int[] unpack(float[] stored, int n, int bits) {
    int[] codes = new int[n];
    for (int i = 0; i < n; i++) {
      int b = (int) (bits == 8 ? stored[i] : stored[i / 2]);
      codes[i] = bits == 8 ? b : (b >> (4 * (i % 2))) & 15;
    }
    return codes;
  }

  static float[] read(Path dir, String file) throws IOException {
    return Npy.readFloat32(dir.resolve(file)).data();
  }

  @TestFactory
  Stream<DynamicTest> blockwiseCasesReproduceBitForBit() throws IOException {
    List<DynamicTest> tests = new ArrayList<>();
    try (var dirs = Files.list(DIR.resolve("blockwise"))) {
      for (Path dir : dirs.sorted().toList()) {
        for (var s : SCHEMES) {
          tests.add(
              DynamicTest.dynamicTest(
                  dir.getFileName() + "/" + s.name(), () -> checkBlockwise(dir, s)));
        }
      }
    }
    assertEquals(5 * SCHEMES.size(), tests.size(), "blockwise cases");
    return tests.stream();
  }

  static void checkBlockwise(Path dir, Scheme s) throws IOException {
    float[] input = read(dir, "input.npy");
    float[] x = input.clone();
    if (!s.signed()) {
      for (int i = 0; i < x.length; i++) {
        x[i] = Math.abs(x[i]); // the non-negative maps quantize |input|
      }
    }
    float[] map = map(s.map());
    int n = x.length;
    int blocks = (n + s.block() - 1) / s.block();
    float[] stored = read(dir, s.name() + "_codes.npy");
    assertEquals(s.bits() == 8 ? n : (n + 1) / 2, stored.length, "stored code count");
    for (float v : stored) {
      assertTrue(v >= 0 && v <= 255 && v == Math.rint(v), "a byte value: " + v);
    }
    if (s.bits() == 4 && n % 2 == 1) {
      assertEquals(0, ((int) stored[n / 2]) >> 4, "the unused high nibble of an odd count is 0");
    }
    float[] golden = read(dir, s.name() + "_absmax.npy");
    float[] absmax = new float[blocks];
    int[] codes = quantize(x, map, s.block(), absmax);
    assertEquals(blocks, golden.length, "absmax count");
    for (int b = 0; b < blocks; b++) {
      assertEquals(
          Float.floatToRawIntBits(golden[b]), Float.floatToRawIntBits(absmax[b]), "absmax of block " + b);
    }
    int[] goldenCodes = unpack(stored, n, s.bits());
    float[] dequant = read(dir, s.name() + "_dequant.npy");
    for (int i = 0; i < n; i++) {
      assertEquals(goldenCodes[i], codes[i], "code of element " + i + " (x = " + x[i] + ")");
      float d = map[codes[i]] * absmax[i / s.block()];
      assertEquals(Float.floatToRawIntBits(dequant[i]), Float.floatToRawIntBits(d), "dequant " + i);
    }
  }

  /** The AdamW trajectories: every file the properties promise is there, sized as documented. */
  @Test
  void adamwFilesAreConsistent() throws IOException {
    Path dir = DIR.resolve("adamw");
    var props = new Properties();
    try (Reader r = Files.newBufferedReader(dir.resolve("case.properties"))) {
      props.load(r);
    }
    int steps = Integer.parseInt(props.getProperty("steps"));
    int saved = props.getProperty("saved_steps").split(",").length;
    int minSize = Integer.parseInt(props.getProperty("min_size"));
    int tensors = Integer.parseInt(props.getProperty("tensors"));
    assertEquals(3, tensors);
    for (int t = 0; t < tensors; t++) {
      long[] shape =
          Arrays.stream(props.getProperty("shape." + t).split(",")).mapToLong(Long::parseLong).toArray();
      int n = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
      assertEquals(n, read(dir, "params_" + t + ".npy").length);
      assertEquals((long) steps * n, read(dir, "grads_" + t + ".npy").length);
      assertEquals(n, read(dir, "f32_params_" + t + ".npy").length);
      for (var mode : List.of("q8", "q4")) {
        assertEquals((long) saved * n, read(dir, mode + "_params_" + t + ".npy").length);
        for (var state : List.of("exp_avg", "exp_avg_sq")) {
          String scheme = props.getProperty(mode + "." + state + "." + t);
          if (n < minSize) {
            assertEquals(null, scheme, "a small tensor keeps float32 states");
            assertEquals(n, read(dir, mode + "_" + state + "_" + t + ".npy").length);
            continue;
          }
          var s = SCHEMES.stream().filter(x -> x.name().equals(scheme)).findFirst().orElseThrow();
          assertEquals(state.equals("exp_avg"), s.signed(), scheme);
          float[] stored = read(dir, mode + "_" + state + "_codes_" + t + ".npy");
          assertEquals(s.bits() == 8 ? n : (n + 1) / 2, stored.length);
          float[] absmax = read(dir, mode + "_" + state + "_absmax_" + t + ".npy");
          assertEquals((n + s.block() - 1) / s.block(), absmax.length);
          if (state.equals("exp_avg_sq")) {
            // a dequantized second moment is never negative
            float[] map = map(s.map());
            for (int c : unpack(stored, n, s.bits())) {
              assertTrue(map[c] >= 0);
            }
          }
        }
      }
    }
  }
}
