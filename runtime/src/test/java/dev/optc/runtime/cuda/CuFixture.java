package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;

/** The GPU and the compiler CUDA tests run with, or a skip that says what is missing. */
final class CuFixture {

  /** The first CUDA device; skips the test, with the reason, where there is none (no driver, no GPU). */
  static CuDevice device() {
    Assumptions.assumeTrue(Cuda.isAvailable(), Cuda.unavailableReason());
    return Cuda.devices().getFirst();
  }

  /** Skips the test, saying how to get NVRTC, where it is not found. */
  static void requireNvrtc() {
    Assumptions.assumeTrue(Nvrtc.isAvailable(), Nvrtc.unavailableReason());
  }

  /**
   * NVRTC's PTX for {@code device}: skips where there is no NVRTC or the driver is older than NVRTC
   * (PTX from NVRTC 13.0 carries ISA 9.0, which a 12.x driver cannot JIT).
   */
  static String architectureFor(CuDevice device) {
    requireNvrtc();
    var nvrtc = Nvrtc.version();
    int driver = Cuda.driverVersion();
    Assumptions.assumeTrue(driver >= nvrtc.major() * 1000 + nvrtc.minor() * 10, "NVRTC " + nvrtc
        + " makes PTX that driver " + Cuda.versionString(driver) + " cannot JIT; point OPTC_NVRTC at an older NVRTC");
    return Nvrtc.architectureOption(device);
  }

  /** Fresh random floats in [-4, 4); the seed goes into failure messages so a failure can be replayed. */
  static float[] randomFloats(long seed, int n) {
    var random = new SplittableRandom(seed);
    var out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) (random.nextDouble() * 8 - 4);
    }
    return out;
  }

  /** Bit-exact comparison (NaN poison included), naming the first differing index. */
  static void assertBitsEqual(float[] expected, float[] actual, String context) {
    if (expected.length != actual.length) {
      fail(context + ": length " + actual.length + ", expected " + expected.length);
    }
    for (int i = 0; i < expected.length; i++) {
      if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
        fail(context + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
      }
    }
  }

  private CuFixture() {}
}
