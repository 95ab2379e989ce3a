package dev.optc.training;

import dev.optc.runtime.OptcException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * A libtorch module's parameters and gradients as views ({@code from_blob}) of two flat native float32 buffers,
 * one for the weights and one for the gradients, each tensor at the same offset in both. This is the memory
 * optc's arenas will own (the zero-copy binding of issue 12): today the buffers are allocated here, or adopted
 * from a caller through {@link #bind(Module, MemorySegment, MemorySegment, long[])}.
 *
 * <p>The rules that keep the views valid:
 *
 * <ul>
 *   <li>{@code from_blob} tensors have no deleter: the buffers must outlive every view. {@link #close()} first
 *       points each parameter at an empty tensor and drops its gradient, then frees buffers it owns, so a module
 *       that lives on holds no dangling pointer.
 *   <li>Backward adds into the gradient views ({@code grad += new}): call {@link #zeroGrads()} before each
 *       backward. Never let libtorch reset a gradient ({@code zero_grad(set_to_none)}): it would allocate a
 *       new one outside the buffer on the next backward; {@link #checkViews()} reports that.
 *   <li>One thread: the one that bound the parameters; every method checks it.
 * </ul>
 */
public final class FlatParameters implements AutoCloseable {
  /** Floats between tensor starts are rounded up to this (64 bytes: a cache line, an AVX-512 vector). */
  public static final int ALIGN = 16;

  /**
   * One parameter tensor.
   *
   * @param offset its first element in both buffers, in floats
   * @param decay whether its group takes weight decay: matrices and embeddings do; biases, norm gains and other
   *     vectors do not (the parameter groups users write for AdamW)
   */
  public record Param(String name, long[] shape, long offset, long numel, boolean decay) {
    public Param {
      shape = shape.clone();
    }

    @Override
    public long[] shape() {
      return shape.clone();
    }

    @Override
    public String toString() {
      return name + Arrays.toString(shape);
    }
  }

  private final Arena arena;
  private final MemorySegment weights;
  private final MemorySegment grads;
  private final List<Param> params;
  private final List<Tensor> variables;
  private final Thread owner = Thread.currentThread();
  private boolean closed;

  private FlatParameters(Arena arena, MemorySegment weights, MemorySegment grads, List<Param> params,
      List<Tensor> variables) {
    this.arena = arena;
    this.weights = weights;
    this.grads = grads;
    this.params = List.copyOf(params);
    this.variables = List.copyOf(variables);
  }

  /**
   * The module's parameters in {@code named_parameters()} order, laid out at {@link #ALIGN}ed offsets: what
   * {@link #bind(Module)} allocates and what a caller who supplies the buffers should lay out.
   */
  public static List<Param> layout(Module module) {
    Natives.load();
    var named = module.named_parameters(true);
    var result = new ArrayList<Param>();
    long offset = 0;
    for (long i = 0; i < named.size(); i++) {
      var item = named.get(i);
      var name = item.key().getString();
      var p = item.value();
      var shape = p.sizes().vec().get();
      long numel = p.numel();
      result.add(new Param(name, shape, offset, numel, shape.length >= 2));
      offset += (numel + ALIGN - 1) / ALIGN * ALIGN;
    }
    return result;
  }

  /** The floats a buffer for {@code layout} needs. */
  public static long floats(List<Param> layout) {
    return layout.isEmpty() ? 0 : layout.getLast().offset() + layout.getLast().numel();
  }

  /** Allocates both buffers (zero-filled, 64-byte aligned) and binds the module's parameters to them. */
  public static FlatParameters bind(Module module) {
    var layout = layout(module);
    long bytes = Math.max(1, floats(layout)) * Float.BYTES;
    var arena = Arena.ofShared();
    try {
      var w = arena.allocate(bytes, 64);
      var g = arena.allocate(bytes, 64);
      return bind(module, layout, arena, w, g);
    } catch (RuntimeException | Error e) {
      arena.close();
      throw e;
    }
  }

  /**
   * Binds the module's parameters to buffers the caller owns, which must outlive this object and every tensor of
   * the module (the zero-copy binding passes optc's arenas here).
   *
   * @param offsets each parameter's first element, in floats, in {@link #layout} order
   */
  public static FlatParameters bind(Module module, MemorySegment weights, MemorySegment grads, long[] offsets) {
    var layout = layout(module);
    if (offsets.length != layout.size()) {
      throw new OptcException("the module has " + layout.size() + " parameters but " + offsets.length + " offsets");
    }
    var placed = new ArrayList<Param>();
    for (int i = 0; i < offsets.length; i++) {
      var p = layout.get(i);
      placed.add(new Param(p.name(), p.shape(), offsets[i], p.numel(), p.decay()));
    }
    return bind(module, placed, null, weights, grads);
  }

  private static FlatParameters bind(Module module, List<Param> layout, Arena arena, MemorySegment w,
      MemorySegment g) {
    var named = module.named_parameters(true);
    var variables = new ArrayList<Tensor>();
    var options = new TensorOptions(torch.ScalarType.Float);
    for (int i = 0; i < layout.size(); i++) {
      var p = layout.get(i);
      // A copy of the handle (same TensorImpl): the dict's items are references into the dict, freed with it.
      var variable = new Tensor(named.get(i).value());
      if (!named.get(i).key().getString().equals(p.name())) {
        throw new IllegalStateException("the module's parameters changed while binding: " + p.name());
      }
      // By value: JavaCPP's enums from native calls are not always the Java constants.
      if (variable.scalar_type().value != torch.ScalarType.Float.value) {
        throw new OptcException("parameter " + p.name() + " is " + variable.scalar_type() + "; optc steps float32");
      }
      long end = (p.offset() + p.numel()) * Float.BYTES;
      if (p.offset() < 0 || end > w.byteSize() || end > g.byteSize()) {
        throw new OptcException("parameter " + p.name() + " at offset " + p.offset() + " (" + p.numel()
            + " floats) lies outside the buffers (" + w.byteSize() / Float.BYTES + " and " + g.byteSize() / Float.BYTES
            + " floats)");
      }
      var wView = torch.from_blob(new Address(w, p.offset(), p.numel()), p.shape(), options);
      wView.copy_(variable.detach());
      variable.set_data(wView);
      var gView = torch.from_blob(new Address(g, p.offset(), p.numel()), p.shape(), options);
      gView.zero_();
      variable.mutable_grad().put(gView);
      variables.add(variable);
    }
    var bound = new FlatParameters(arena, w, g, layout, variables);
    bound.checkViews();
    return bound;
  }

  /** The parameters, in {@code named_parameters()} order. */
  public List<Param> params() {
    return params;
  }

  /** The module's parameter tensors (libtorch variables whose data and grad are the views), in order. */
  public List<Tensor> variables() {
    checkThread();
    return variables;
  }

  /** The weight buffer. */
  public MemorySegment weights() {
    return weights;
  }

  /** The gradient buffer. */
  public MemorySegment grads() {
    return grads;
  }

  /** Sets every gradient to zero: before each backward, which adds into them. */
  public void zeroGrads() {
    checkThread();
    grads.fill((byte) 0);
  }

  /** Copies tensor {@code i}'s weights out. */
  public float[] weights(int i) {
    return read(weights, i);
  }

  /** Copies tensor {@code i}'s gradient out. */
  public float[] grad(int i) {
    return read(grads, i);
  }

  /** Overwrites tensor {@code i}'s weights. */
  public void setWeights(int i, float[] values) {
    var p = params.get(i);
    if (values.length != p.numel()) {
      throw new OptcException(p.name() + ": " + values.length + " values for " + p.numel() + " weights");
    }
    MemorySegment.copy(values, 0, weights, ValueLayout.JAVA_FLOAT, p.offset() * Float.BYTES, values.length);
  }

  private float[] read(MemorySegment segment, int i) {
    var p = params.get(i);
    var out = new float[Math.toIntExact(p.numel())];
    MemorySegment.copy(segment, ValueLayout.JAVA_FLOAT, p.offset() * Float.BYTES, out, 0, out.length);
    return out;
  }

  /**
   * Checks that every parameter's data and gradient still start at their offsets in the buffers (libtorch has
   * neither replaced nor reallocated one).
   *
   * @throws IllegalStateException naming the first tensor that moved
   */
  public void checkViews() {
    checkThread();
    for (int i = 0; i < params.size(); i++) {
      var p = params.get(i);
      var v = variables.get(i);
      long w = v.data_ptr().address();
      var grad = v.grad();
      long g = grad.defined() ? grad.data_ptr().address() : 0;
      long wantW = weights.address() + p.offset() * Float.BYTES;
      long wantG = grads.address() + p.offset() * Float.BYTES;
      if (w != wantW || g != wantG) {
        throw new IllegalStateException(p.name() + " is no longer a view of the buffers: data at 0x"
            + Long.toHexString(w) + " (want 0x" + Long.toHexString(wantW) + "), grad at 0x" + Long.toHexString(g)
            + " (want 0x" + Long.toHexString(wantG) + ")");
      }
    }
  }

  void checkThread() {
    if (Thread.currentThread() != owner) {
      throw new IllegalStateException("libtorch parameters bound on thread '" + owner.getName() + "' used from '"
          + Thread.currentThread().getName() + "': make every torch call of a run from one thread");
    }
    if (closed) {
      throw new IllegalStateException("the parameters' buffers are closed");
    }
  }

  /** Detaches every parameter from the buffers (empty data, no gradient), then frees buffers this object owns. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    checkThread();
    for (var v : variables) {
      v.set_data(torch.empty(0));
      v.mutable_grad().put(new Tensor());
    }
    closed = true;
    if (arena != null) {
      arena.close();
    }
  }

  /** A JavaCPP pointer to a range of a native segment, for {@code from_blob}. */
  private static final class Address extends Pointer {
    Address(MemorySegment segment, long offsetFloats, long floats) {
      if (!segment.isNative()) {
        throw new OptcException("parameter buffers must be native memory");
      }
      this.address = segment.address() + offsetFloats * Float.BYTES;
      this.limit = floats * Float.BYTES;
      this.capacity = this.limit;
    }
  }
}
