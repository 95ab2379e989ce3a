package dev.optc.runtime.opencl;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.Assumptions;

/** The device OpenCL tests run on, or a skip that says what to install. */
final class ClFixture {

  /** The first device of the first platform that has one; skips the test where there is none. */
  static ClDevice device() {
    Assumptions.assumeTrue(!OpenCl.platforms().isEmpty(), OpenCl.unavailableReason());
    var device = OpenCl.platforms().stream().flatMap(p -> p.devices().stream()).findFirst();
    Assumptions.assumeTrue(device.isPresent(), "OpenCL platforms " + OpenCl.platforms() + " have no device");
    return device.orElseThrow();
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

  /**
   * Waits (up to 10 s) for a driver reference count to reach {@code expected}. Drivers may drop the
   * references held by completed commands a little after {@code clFinish} returns (PoCL frees them on
   * its own thread, within milliseconds), so a count is compared once it settles: a leak never does.
   */
  static void assertReferenceCountSettles(int expected, IntSupplier count, String what) {
    long deadline = System.nanoTime() + 10_000_000_000L;
    int now;
    while ((now = count.getAsInt()) != expected && System.nanoTime() < deadline) {
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
    if (now != expected) {
      fail(what + ": reference count " + now + ", expected " + expected + " (still, after 10 s)");
    }
  }

  private ClFixture() {}
}
