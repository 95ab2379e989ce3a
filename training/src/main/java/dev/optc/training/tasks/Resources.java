package dev.optc.training.tasks;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.zip.GZIPInputStream;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LongVector;

/** The data files under {@code dev/optc/training/data} (see the README there for what they are and whence). */
final class Resources {
  private Resources() {}

  /** The uncompressed bytes of {@code name}, a gzip file of the data folder. */
  static byte[] gunzip(String name) {
    try (InputStream in = Resources.class.getResourceAsStream("/dev/optc/training/data/" + name)) {
      if (in == null) {
        throw new IllegalStateException("the training data file " + name + " is missing from the class path");
      }
      try (var gz = new GZIPInputStream(in)) {
        return gz.readAllBytes();
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the training data file " + name, e);
    }
  }

  /**
   * A LayerNorm over the last dimension of size {@code width}. ({@code new LongVector(width)} would be a vector of
   * {@code width} zeros: JavaCPP's constructor from one long is std::vector's size constructor.)
   */
  static LayerNormImpl layerNorm(long width) {
    return new LayerNormImpl(new LongVector(new long[] {width}));
  }

  /** A stable 64-bit mix of a seed and a counter (SplitMix64's finalizer), for per-epoch random streams. */
  static long mix(long seed, long counter) {
    long z = seed + 0x9E3779B97F4A7C15L * (counter + 1);
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
