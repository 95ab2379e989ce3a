package dev.optc.runtime.blas;

import dev.optc.runtime.opencl.ClBuffer;

/**
 * A matrix in an OpenCL buffer: its floats start {@code offset} floats in. OpenCL has no pointer
 * arithmetic and sub-buffers must start on the device's base alignment, so a tensor inside an arena
 * (see docs/arenas.md) is named by its buffer and an offset, which CLBlast takes as it is.
 */
public record ClMatrix(ClBuffer buffer, long offset) {

  public ClMatrix {
    if (offset < 0) {
      throw new IllegalArgumentException("a matrix's offset is at least 0, not " + offset);
    }
  }

  /** The matrix at the start of {@code buffer}. */
  public static ClMatrix of(ClBuffer buffer) {
    return new ClMatrix(buffer, 0);
  }
}
