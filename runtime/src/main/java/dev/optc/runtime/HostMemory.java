package dev.optc.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Native memory for an engine's arenas, allocated at staggered start addresses and freed together on
 * {@link #close}. Closing invalidates every segment it gave out: a Java access through one (an
 * {@code Optimizer.view}, say) then throws instead of reading freed memory.
 *
 * <p>Why staggered: arenas of equal length otherwise start at the same address modulo 4 KiB (large
 * allocations are page-aligned), and then {@code w[i]}, {@code g[i]} and the states' {@code [i]} share
 * cache sets and trip the core's store-to-load alias check (4K aliasing). Measured at 64M float32
 * parameters on this project's 2-core EPYC: AdamW's Java step took 68 ms with arenas at equal offsets,
 * 36-44 ms staggered (2026-11-23, with Java arrays, which start where the collector puts them: the
 * generated code then indexed {@code w[i + 272·k]}; in native memory the engine chooses the addresses and
 * the code indexes {@code w[i]}).
 */
public final class HostMemory implements AutoCloseable {
  /** Bytes between the starts of consecutive arenas, modulo 4 KiB: 17 cache lines. */
  public static final long STAGGER = 1088;

  /**
   * How many distinct starts there are: position k starts at {@code STAGGER * (k % STAGGERED)} past a
   * page boundary. Sixteen starts 1,088 bytes apart fall on sixteen different cache lines modulo 4 KiB;
   * more arenas than that share sets anyway.
   */
  public static final int STAGGERED = 16;

  private static final long PAGE = 4096;

  private final Arena arena = Arena.ofShared();

  /**
   * Where the arena at {@code position} (w, g, then each state and temporary) starts past a page boundary,
   * rounded up to a multiple of {@code alignment} (a power of two up to 4,096).
   */
  public static long stagger(int position, long alignment) {
    long raw = STAGGER * (position % STAGGERED);
    return (raw + alignment - 1) & -alignment;
  }

  /**
   * {@code bytes} bytes (at least one) of zeroed native memory for the arena at {@code position}, starting
   * {@link #stagger} bytes past a page boundary.
   */
  public MemorySegment allocate(long bytes, int position, long alignment) {
    if (Long.bitCount(alignment) != 1 || alignment > PAGE) {
      throw new IllegalArgumentException("alignment " + alignment);
    }
    long start = stagger(position, alignment);
    return arena.allocate(start + Math.max(bytes, 1), PAGE).asSlice(start, bytes);
  }

  /** {@code bytes} bytes of zeroed native memory for an arena that needs no staggering (a row state). */
  public MemorySegment allocate(long bytes) {
    return arena.allocate(bytes, 64);
  }

  @Override
  public void close() {
    arena.close();
  }
}
