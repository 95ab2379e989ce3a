package dev.optc.training;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** For tests that need libtorch: they skip, saying why, where its natives cannot load. */
final class Torch {
  private Torch() {}

  static void assumeLoaded() {
    var why = Natives.unavailable();
    assumeTrue(why == null, () -> "skipped: " + why);
  }
}
