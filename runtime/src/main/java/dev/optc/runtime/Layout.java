package dev.optc.runtime;

import dev.optc.compiler.codegen.java.JavaStep.Segment;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.ir.Quantization;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where every tensor of an optimizer lives in the flat buffers (one arena per buffer kind, DSL.md §8):
 * element buffers ({@code w}, {@code g}, elem states) are concatenated tensor after tensor, row states
 * row vector after row vector, col states likewise, scalar states one value per tensor; and in which
 * memory the engine keeps those arenas ({@link Arenas}).
 */
public final class Layout {

  /** One bound tensor. */
  public record Tensor(String name, long[] shape, int group, MatrixView view) {}

  private final List<Tensor> tensors;
  private final List<Segment> segments;
  private final int groups;
  private final int elems;
  private final int rows;
  private final int cols;
  private final Arenas arenas;
  private final int quantizeFrom;
  private final long quantized;
  private final int raw;
  private final Map<String, Integer> byName = new HashMap<>();

  /** Tensors in the arenas the backend chooses. */
  public Layout(List<Tensor> tensors, int groups) {
    this(tensors, groups, Arenas.BACKEND);
  }

  public Layout(List<Tensor> tensors, int groups, Arenas arenas) {
    this(tensors, groups, arenas, Quantization.DEFAULT_MIN_ELEMENTS, Set.of());
  }

  /**
   * @param quantizeFrom the fewest elements a tensor has for its quantized states ({@code as q8}, {@code as
   *     q4}) to be stored as codes; smaller tensors keep them in float32 ({@link Segment})
   * @param unquantized tensors whose quantized states stay float32 whatever their size (bitsandbytes'
   *     per-parameter {@code optim_bits=32}, which it recommends for embeddings)
   */
  public Layout(List<Tensor> tensors, int groups, Arenas arenas, int quantizeFrom, Set<String> unquantized) {
    if (quantizeFrom < 1) {
      throw new OptcException("the quantization threshold is " + quantizeFrom + " elements; give 1 or more");
    }
    this.tensors = List.copyOf(tensors);
    this.groups = groups;
    this.arenas = arenas;
    this.quantizeFrom = quantizeFrom;
    long q = 0;
    long f = 0;
    var segs = new ArrayList<Segment>();
    long e = 0;
    long r = 0;
    long c = 0;
    for (int i = 0; i < tensors.size(); i++) {
      var t = tensors.get(i);
      if (byName.put(t.name(), i) != null) {
        throw new OptcException("two tensors are named '" + t.name() + "'; tensor names must be unique");
      }
      var v = t.view();
      if (e + v.numel() > Integer.MAX_VALUE - 8 || r + v.rows() > Integer.MAX_VALUE - 8
          || c + v.cols() > Integer.MAX_VALUE - 8) {
        throw new OptcException("the tensors hold more than 2^31 - 9 elements (or rows, or columns) in "
            + "all; split them into several optimizers");
      }
      boolean quantize = v.numel() >= quantizeFrom && !unquantized.contains(t.name());
      if (quantize && q + v.numel() + 256 > Integer.MAX_VALUE - 8) {
        throw new OptcException("the tensors hold more than 2^31 - 9 quantized elements in all; split them into "
            + "several optimizers");
      }
      segs.add(new Segment(i, (int) e, v.numel(), v.rows(), v.cols(), (int) r, (int) c, quantize ? (int) q : -1,
          quantize ? 0 : (int) f));
      if (quantize) {
        q += (v.numel() + 255L) / 256 * 256;
      } else {
        f += v.numel();
      }
      e += v.numel();
      r += v.rows();
      c += v.cols();
    }
    for (var name : unquantized) {
      if (!byName.containsKey(name)) {
        throw new OptcException("no tensor named '" + name + "' to keep unquantized");
      }
    }
    this.segments = List.copyOf(segs);
    this.quantized = q;
    this.raw = (int) f;
    this.elems = (int) e;
    this.rows = (int) r;
    this.cols = (int) c;
    arenas.adopted().forEach((buffer, segment) -> {
      if (segment.byteSize() < (long) Float.BYTES * elems) {
        throw new OptcException("the segment adopted for " + buffer + " has " + segment.byteSize() + " bytes; "
            + "the tensors need " + (long) Float.BYTES * elems + " (" + elems + " floats)");
      }
    });
  }

  /** The fewest elements a tensor has for its quantized states to be stored as codes. */
  public int quantizeFrom() {
    return quantizeFrom;
  }

  /**
   * Length in elements of the code arena of a quantized state: every tensor at or above the threshold, each
   * rounded up to 256 elements ({@link Segment#qOffset}).
   */
  public int quantizedLength() {
    return (int) quantized;
  }

  /**
   * Bytes of one buffer of a quantized state stored with {@code map} ({@link
   * dev.optc.compiler.codegen.java.JavaEmitter#quantizedBuffers}): its codes, its block absmax values or its
   * float32 values.
   */
  public long quantizedBytes(dev.optc.compiler.ir.QuantMap map, String buffer) {
    var state = dev.optc.compiler.codegen.java.JavaEmitter.stateOf(buffer);
    if (buffer.equals(dev.optc.compiler.codegen.java.JavaEmitter.absmaxName(state))) {
      return (long) Float.BYTES * map.blocks(quantized);
    }
    if (buffer.equals(dev.optc.compiler.codegen.java.JavaEmitter.rawName(state))) {
      return (long) Float.BYTES * raw;
    }
    return map.codeBytes(quantized);
  }

  /** Length of the float32 arena of a quantized state: the tensors below the threshold. */
  public int rawLength() {
    return raw;
  }

  /** Where the engine keeps the arenas. */
  public Arenas arenas() {
    return arenas;
  }

  public List<Tensor> tensors() {
    return tensors;
  }

  public List<Segment> segments() {
    return segments;
  }

  public int groups() {
    return groups;
  }

  public int index(String tensor) {
    var i = byName.get(tensor);
    if (i == null) {
      throw new OptcException("no tensor named '" + tensor + "'");
    }
    return i;
  }

  /** Length of the whole arena of a buffer of this kind. */
  public int arenaLength(Kind kind) {
    return switch (kind) {
      case ELEM -> elems;
      case ROW -> rows;
      case COL -> cols;
      case UNIFORM, CONST -> tensors.size();
      case RR, CC -> throw new IllegalArgumentException("Gram arenas are laid out by GramLayout");
    };
  }

  /** Offset of tensor {@code i} in an arena of this kind. */
  public int offset(Kind kind, int i) {
    var s = segments.get(i);
    return switch (kind) {
      case ELEM -> s.offset();
      case ROW -> s.rowOffset();
      case COL -> s.colOffset();
      case UNIFORM, CONST -> i;
      case RR, CC -> throw new IllegalArgumentException("Gram arenas are laid out by GramLayout");
    };
  }

  /** Number of values tensor {@code i} has in an arena of this kind. */
  public int length(Kind kind, int i) {
    var s = segments.get(i);
    return switch (kind) {
      case ELEM -> s.numel();
      case ROW -> s.rows();
      case COL -> s.cols();
      case UNIFORM, CONST -> 1;
      case RR, CC -> throw new IllegalArgumentException("Gram arenas are laid out by GramLayout");
    };
  }
}
