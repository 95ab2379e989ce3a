package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * A kernel of a {@link CuModule}, valid while the module is open (the module owns it). Launch it with
 * grid and block dimensions and its arguments, in order, as Java values:
 * <ul>
 *   <li>a {@link CuBuffer}: its {@code CUdeviceptr} (a {@code T*} parameter);
 *   <li>an {@link Integer} or {@link Float}: 4 bytes ({@code int}, {@code unsigned}, {@code float});
 *   <li>a {@link Long} or {@link Double}: 8 bytes ({@code long long}, {@code size_t}, a raw pointer
 *       such as {@link CuBuffer#pointer(long)}, {@code double});
 *   <li>a {@link Short} or {@link Byte}: 2 or 1 bytes ({@code __half} bits, {@code char});
 *   <li>a {@link MemorySegment}: its bytes, for a struct passed by value.
 * </ul>
 * Where the driver can describe the kernel's parameters ({@code cuFuncGetParamInfo}, CUDA 12.4+), the
 * count and each size are checked before the launch, since a mismatch would otherwise read garbage.
 */
public final class CuFunction {

  /** More parameters than any kernel can have (their total is limited to 32 KiB). */
  private static final int MAX_PARAMETERS = 8192;

  private final CuModule module;
  private final String name;
  private final MemorySegment handle;
  private Optional<List<Long>> parameterSizes;

  CuFunction(CuModule module, String name, MemorySegment handle) {
    this.module = module;
    this.name = name;
    this.handle = handle;
  }

  public CuModule module() {
    return module;
  }

  public String name() {
    return name;
  }

  /** The raw {@code CUfunction}; throws once the module is closed. */
  public MemorySegment handle() {
    if (module.isClosed()) {
      throw new IllegalStateException("the module of kernel '" + name + "' is already closed");
    }
    return handle;
  }

  /**
   * The byte size of each parameter, as the driver lays them out; empty where the driver cannot tell
   * (before CUDA 12.4, or a function it has not loaded yet). Asked once.
   */
  public Optional<List<Long>> parameterSizes() {
    if (parameterSizes == null) {
      parameterSizes = queryParameterSizes();
    }
    return parameterSizes;
  }

  private Optional<List<Long>> queryParameterSizes() {
    if (!CuRaw.has("cuFuncGetParamInfo")) {
      return Optional.empty();
    }
    module.enter();
    var h = handle();
    try (var arena = Arena.ofConfined()) {
      var offset = arena.allocate(JAVA_LONG);
      var size = arena.allocate(JAVA_LONG);
      var sizes = new ArrayList<Long>();
      for (int i = 0; i < MAX_PARAMETERS; i++) {
        int rc = CuRaw.cuFuncGetParamInfo(h, i, offset, size);
        if (rc == CuStatus.CUDA_ERROR_INVALID_VALUE.code()) {
          // Past the last parameter. Zero parameters reported is also what a function the driver cannot
          // describe would look like, so only a non-empty answer is trusted.
          return sizes.isEmpty() ? Optional.empty() : Optional.of(List.copyOf(sizes));
        }
        if (rc != CuRaw.CUDA_SUCCESS) {
          return Optional.empty(); // e.g. not loaded yet under lazy loading: no check, not an error
        }
        sizes.add(size.get(JAVA_LONG, 0));
      }
      return Optional.empty();
    }
  }

  /**
   * How many blocks of {@code blockSize} threads can be resident on one multiprocessor at once, given
   * this kernel's registers and shared memory (the driver's occupancy calculator).
   */
  public int maxActiveBlocksPerMultiprocessor(int blockSize) {
    module.enter();
    try (var arena = Arena.ofConfined()) {
      var n = arena.allocate(JAVA_INT);
      CuStatus.check(CuRaw.cuOccupancyMaxActiveBlocksPerMultiprocessor(n, handle(), blockSize, 0),
          "cuOccupancyMaxActiveBlocksPerMultiprocessor", () -> "occupancy of kernel '" + name + "'");
      return n.get(JAVA_INT, 0);
    }
  }

  /** Launches on {@code stream} (null: the legacy default stream) with no dynamic shared memory. */
  public void launch(CuStream stream, Dim3 grid, Dim3 block, Object... args) {
    launch(stream, grid, block, 0, Arrays.asList(args));
  }

  /**
   * Launches a one-dimensional grid of {@code ceil(n / blockSize)} blocks of {@code blockSize} threads;
   * the kernel must check its index against {@code n} itself.
   */
  public void launch1d(CuStream stream, long n, int blockSize, Object... args) {
    if (n < 1) {
      throw new IllegalArgumentException("a launch over " + n + " elements");
    }
    long blocks = (n + blockSize - 1) / blockSize;
    if (blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException(n + " elements need " + blocks + " blocks of " + blockSize
          + " threads, more than a grid's 2^31 - 1");
    }
    launch(stream, Dim3.of((int) blocks), Dim3.of(blockSize), 0, Arrays.asList(args));
  }

  /**
   * Launches on {@code stream} (null: the legacy default stream) with {@code sharedMemBytes} of dynamic
   * shared memory per block. Returns once enqueued; a fault in the kernel shows at the next
   * synchronizing call.
   */
  public void launch(CuStream stream, Dim3 grid, Dim3 block, int sharedMemBytes, List<?> args) {
    var device = module.context().device();
    if (block.volume() > device.maxThreadsPerBlock()) {
      throw new IllegalArgumentException("a block of " + block + " = " + block.volume() + " threads is more than "
          + device.name() + " allows (" + device.maxThreadsPerBlock() + ")");
    }
    if (grid.y() > 65535 || grid.z() > 65535) {
      throw new IllegalArgumentException("grid " + grid + ": y and z may be at most 65535");
    }
    if (sharedMemBytes < 0) {
      throw new IllegalArgumentException("negative shared memory: " + sharedMemBytes);
    }
    var expected = parameterSizes();
    try (var arena = Arena.ofConfined()) {
      var params = arena.allocate(ADDRESS, Math.max(1, args.size()));
      for (int i = 0; i < args.size(); i++) {
        var value = argument(arena, i, args.get(i));
        if (expected.isPresent() && i < expected.get().size() && expected.get().get(i) != value.byteSize()) {
          throw new IllegalArgumentException("argument " + i + " of kernel '" + name + "' is " + describe(args.get(i))
              + " (" + value.byteSize() + " bytes) but the parameter has " + expected.get().get(i) + " bytes");
        }
        params.setAtIndex(ADDRESS, i, value);
      }
      if (expected.isPresent() && expected.get().size() != args.size()) {
        throw new IllegalArgumentException("kernel '" + name + "' takes " + expected.get().size() + " arguments, not "
            + args.size());
      }
      module.enter();
      int rc = CuRaw.cuLaunchKernel(handle(), grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
          sharedMemBytes, CuStream.handleOf(stream), params, MemorySegment.NULL);
      CuStatus.check(rc, "cuLaunchKernel", () -> "launching kernel '" + name + "' with grid " + grid + " and block "
          + block + " on " + device.name());
    }
  }

  /** One argument's value in native memory; the driver copies it during cuLaunchKernel. */
  private MemorySegment argument(Arena arena, int index, Object arg) {
    return switch (arg) {
      case CuBuffer b -> arena.allocateFrom(JAVA_LONG, b.pointer());
      case Integer v -> arena.allocateFrom(JAVA_INT, v);
      case Float v -> arena.allocateFrom(JAVA_FLOAT, v);
      case Long v -> arena.allocateFrom(JAVA_LONG, v);
      case Double v -> arena.allocateFrom(JAVA_DOUBLE, v);
      case Short v -> arena.allocateFrom(JAVA_SHORT, v);
      case Byte v -> arena.allocateFrom(JAVA_BYTE, v);
      case MemorySegment s -> arena.allocate(s.byteSize(), 16).copyFrom(s);
      case null -> throw new IllegalArgumentException("argument " + index + " of kernel '" + name + "' is null");
      default -> throw new IllegalArgumentException("argument " + index + " of kernel '" + name + "' is a "
          + arg.getClass().getName() + "; pass a CuBuffer, Integer, Float, Long, Double, Short, Byte or MemorySegment");
    };
  }

  private static String describe(Object arg) {
    return arg instanceof CuBuffer ? "a CuBuffer" : "a " + arg.getClass().getSimpleName() + " " + arg;
  }

  @Override
  public String toString() {
    return "CuFunction[" + name + "]";
  }
}
