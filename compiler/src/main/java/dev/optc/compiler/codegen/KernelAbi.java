package dev.optc.compiler.codegen;

import java.util.List;

/**
 * The contract between generated kernels and the engines that launch them, written once: the fields of
 * the segment table, each kernel argument and how a kernel is launched. {@code CEmitter} writes kernels
 * that read these, {@code KernelEngine} fills and binds them; a new field or argument is one line here,
 * and every {@code switch} over them on both sides stops compiling until it is handled.
 */
public final class KernelAbi {
  private KernelAbi() {}

  /** One segment (a tensor's place in its group's arenas) in the segment table, field by field. */
  public enum SegmentField {
    /** First element of the tensor in the group's per-element arenas. */
    OFFSET,
    /** Its elements. */
    NUMEL,
    /** Rows of its matrix view. */
    ROWS,
    /** Columns of its matrix view. */
    COLS,
    /** First entry of the tensor in the group's row arenas. */
    ROW_OFFSET,
    /** First entry of the tensor in the group's column arenas. */
    COL_OFFSET;

    /** Fields per segment: the table's stride ({@code OPTC_SEG} in the kernels). */
    public static final int COUNT = values().length;

    /** C for this field of segment {@code segment} in table {@code table}: {@code optc_segs[OPTC_SEG * s + 1]}. */
    public String read(String table, String segment) {
      return table + "[OPTC_SEG * " + segment + (ordinal() == 0 ? "" : " + " + ordinal()) + "]";
    }

    /** Where this field of segment {@code index} sits in the table. */
    public int at(int index) {
      return COUNT * index + ordinal();
    }
  }

  /** What a kernel argument is; the host binds arguments by these. */
  public sealed interface Arg {
    /** {@code int[2 * chunks]}: (segment, first element) per work-group. */
    record Chunks() implements Arg {}

    /** {@code int[SegmentField.COUNT * segments]}: the {@link SegmentField}s of each segment, in order. */
    record Segments() implements Arg {}

    /** {@code float[segments * uniformCount]}: the hoisted uniforms of each tensor. */
    record Uniforms() implements Arg {}

    /** {@code int}: the number of uniforms per tensor. */
    record UniformCount() implements Arg {}

    /** {@code int}: elements per chunk. */
    record ChunkSize() implements Arg {}

    /** {@code int}: the number of chunks (entries of the chunk table). */
    record ChunkCount() implements Arg {}

    /** {@code int}: 1 where every buffer of the kernel allows 16-byte accesses at multiples of 4 elements. */
    record VectorAccess() implements Arg {}

    /** {@code int}: the number of segments. */
    record SegmentCount() implements Arg {}

    /** {@code int}: the number of parameter groups. */
    record GroupCount() implements Arg {}

    /** {@code int[2 * segments]}: first chunk and chunk count of each segment. */
    record SegmentChunks() implements Arg {}

    /** {@code int[2 * groups]}: first segment and segment count of each group. */
    record GroupSegments() implements Arg {}

    /**
     * {@code int[2 * segments]}: where each segment keeps its quantized states ({@code as q8}, {@code as q4}):
     * its first quantized element ({@code -1} below the threshold: float32) and its first float32 element.
     */
    record QuantSegments() implements Arg {}

    /** {@code int}: total rows (row kernels) or columns (column kernels) of the group. */
    record LineCount() implements Arg {}

    /**
     * A program buffer ({@code w}, {@code g}, a state) or a temporary. {@code next} is the second copy
     * of a row/col/scalar buffer that this phase both reads (old values) and writes: the host swaps
     * the two copies after the phase.
     */
    record Buffer(String name, boolean readOnly, boolean next) implements Arg {}

    /** {@code float[]}: results of reduction {@code slot} (per tensor, row or column). */
    record Reduced(int slot, boolean readOnly) implements Arg {}

    /** {@code float[chunks]}: per-chunk partial results of reduction {@code slot}. */
    record Partials(int slot, boolean readOnly) implements Arg {}
  }

  /** How a kernel is launched. */
  public enum Launch {
    /** Work-groups of exactly the local size, each taking every n-th chunk (any n ≤ the chunk count). */
    CHUNKS,
    /** One work-item per segment and per group (whichever is more), any local size. */
    COMBINE,
    /** One work-item per row of the group. */
    ROWS,
    /** One work-item per column of the group. */
    COLS
  }

  /** One kernel of the program: its name, phase, launch shape and arguments in order. */
  public record Kernel(String name, int phase, Launch launch, List<Arg> args) {}
}
