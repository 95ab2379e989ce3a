package dev.optc.runtime;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Where an optimizer's arenas live: the flat buffers of {@code w}, {@code g} and each state (DSL.md §8,
 * {@link Layout}).
 *
 * <ul>
 *   <li>{@link Kind#BACKEND}: where the backend keeps them. The float32 Java engine: native memory it
 *       allocates (Java arrays cannot be placed: see {@link HostMemory}), so views work; {@code java64}:
 *       double arrays; OpenCL and CUDA: the device's own buffers.
 *   <li>{@link Kind#NATIVE}: native host memory a caller views in place ({@code Optimizer.view}): allocated
 *       by the engine at staggered addresses and freed when the optimizer closes, or, for {@code w} and
 *       {@code g}, {@link #adopt adopted} from the caller. The Java engine (the same memory as BACKEND), and
 *       OpenCL on a CPU device, which runs its kernels on that memory; CUDA, OpenCL GPUs and {@code java64}
 *       refuse, saying what to do instead.
 * </ul>
 *
 * @param adopted the caller's segments for whole arenas, by buffer ({@code w} or {@code g})
 */
public record Arenas(Kind kind, Map<String, MemorySegment> adopted) {

  /** Where the arenas are. */
  public enum Kind {
    BACKEND,
    NATIVE
  }

  /** A thread that is not the caller's (never started): what a confined segment refuses. */
  private static final Thread ENGINE_THREAD = Thread.ofPlatform().unstarted(() -> { });

  /** Where the backend keeps them: what {@code Optimizer} uses unless told otherwise. */
  public static final Arenas BACKEND = new Arenas(Kind.BACKEND, Map.of());

  /** Native host memory the engine allocates, viewable in place. */
  public static final Arenas NATIVE = new Arenas(Kind.NATIVE, Map.of());

  public Arenas {
    adopted = Map.copyOf(adopted);
    if (kind != Kind.NATIVE && !adopted.isEmpty()) {
      throw new OptcException("adopted arenas are native host memory: give Arenas.NATIVE, not " + kind);
    }
    adopted.forEach(Arenas::checkAdoptable);
  }

  /**
   * These arenas, native, with the caller's {@code segment} as the whole arena of {@code buffer} ({@code w}
   * or {@code g}): tensors lie in it in the order they were bound, without gaps, from its start (a tensor's
   * offset is the sum of the element counts before it; {@code Optimizer.view} says it too). The segment
   * must be native, 4-byte aligned (OpenCL: the device's base address alignment), usable from other
   * threads (not a confined arena's) and alive until the optimizer is closed; optc never frees it.
   */
  public Arenas adopt(String buffer, MemorySegment segment) {
    var map = new LinkedHashMap<>(adopted);
    if (map.put(buffer, segment) != null) {
      throw new OptcException("arena '" + buffer + "' is adopted twice");
    }
    return new Arenas(Kind.NATIVE, map);
  }

  private static void checkAdoptable(String buffer, MemorySegment segment) {
    if (!buffer.equals("w") && !buffer.equals("g")) {
      throw new OptcException("only the arenas of w and g can be adopted, not '" + buffer + "'");
    }
    if (!segment.isNative()) {
      throw new OptcException("the segment adopted for " + buffer + " is on the Java heap; adopt native memory "
          + "(a heap segment has no fixed address a framework or device could share)");
    }
    if (!segment.isAccessibleBy(ENGINE_THREAD)) {
      // The Java engine steps on a pool of threads, and a device driver from its own.
      throw new OptcException("the segment adopted for " + buffer + " belongs to a confined arena, which other "
          + "threads cannot use; allocate it from Arena.ofShared(), ofAuto() or global()");
    }
    if (segment.address() % Float.BYTES != 0) {
      throw new OptcException("the segment adopted for " + buffer + " starts at 0x"
          + Long.toHexString(segment.address()) + ", not on a 4-byte (float) boundary");
    }
  }

  /** The segment a caller gave for {@code buffer}'s arena, or null. */
  public MemorySegment adopted(String buffer) {
    return adopted.get(buffer);
  }
}
