package dev.optc.bench;

import java.util.Arrays;

/**
 * Wall-clock times of the timed repeats of one measurement, in seconds, and their summary. The median is
 * the headline (robust to a stray slow repeat on a shared machine); min and max are the spread, and the
 * quartiles the spread without the outliers.
 */
public record Stats(double[] seconds) {

  public Stats {
    if (seconds.length == 0) {
      throw new IllegalArgumentException("no timed repeats");
    }
    seconds = seconds.clone();
  }

  /** Takes a sorted copy, so callers may pass the times in the order they were taken. */
  public static Stats of(double... seconds) {
    return new Stats(seconds);
  }

  private double[] sorted() {
    var s = seconds.clone();
    Arrays.sort(s);
    return s;
  }

  public int repeats() {
    return seconds.length;
  }

  public double median() {
    return quantile(0.5);
  }

  public double min() {
    return sorted()[0];
  }

  public double max() {
    var s = sorted();
    return s[s.length - 1];
  }

  /** The lower quartile, linearly interpolated (numpy's default). */
  public double q1() {
    return quantile(0.25);
  }

  public double q3() {
    return quantile(0.75);
  }

  /** The {@code q}-quantile, linearly interpolated between order statistics (numpy's default method). */
  public double quantile(double q) {
    var s = sorted();
    double pos = q * (s.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(lo + 1, s.length - 1);
    return s[lo] + (s[hi] - s[lo]) * (pos - lo);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Stats other && Arrays.equals(seconds, other.seconds);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(seconds);
  }

  @Override
  public String toString() {
    return "Stats" + Arrays.toString(seconds);
  }
}
