package dev.optc.runtime;

import java.lang.foreign.MemorySegment;

/**
 * Where one tensor's weights and gradient live inside an optimizer's arenas, so that a training framework
 * can view them instead of copying: create its tensors over {@link #weightsAddress()} and
 * {@link #gradAddress()} with {@link #shape()} (libtorch: {@code torch::from_blob(address, shape)}),
 * compute gradients straight into the gradient arena, and call {@code Optimizer.step()}; the step updates
 * the weights in place. Values are float32, C order, contiguous. Valid until the optimizer is closed
 * (then Java accesses through the segments throw; native code must stop using the addresses).
 *
 * @param name the tensor's name
 * @param shape its shape
 * @param offset the element offset of its first value in both arenas (the sum of the element counts of the
 *     tensors bound before it)
 * @param weightArena the whole arena of {@code w} (every tensor's weights)
 * @param gradArena the whole arena of {@code g}
 */
public record TensorView(String name, long[] shape, long offset, MemorySegment weightArena,
    MemorySegment gradArena) {

  public TensorView {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The number of elements. */
  public long numel() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** This tensor's weights: a slice of the weight arena. */
  public MemorySegment weights() {
    return weightArena.asSlice(Float.BYTES * offset, Float.BYTES * numel());
  }

  /** This tensor's gradient: a slice of the gradient arena, read by the next step. */
  public MemorySegment grad() {
    return gradArena.asSlice(Float.BYTES * offset, Float.BYTES * numel());
  }

  /** The address of this tensor's first weight, for native code. */
  public long weightsAddress() {
    return address(weightArena, "weight") + Float.BYTES * offset;
  }

  /** The address of this tensor's first gradient value, for native code. */
  public long gradAddress() {
    return address(gradArena, "gradient") + Float.BYTES * offset;
  }

  private long address(MemorySegment arena, String what) {
    if (!arena.isNative()) {
      throw new OptcException("the " + what + " arena of '" + name + "' is on the Java heap, where it has no "
          + "fixed address to share with native code");
    }
    return arena.address();
  }
}
