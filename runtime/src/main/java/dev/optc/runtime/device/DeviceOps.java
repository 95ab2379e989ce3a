package dev.optc.runtime.device;

import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.runtime.OptcException;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * What a {@link KernelEngine} needs from a device API (OpenCL, CUDA): buffers, a program built from the
 * generated source, kernels and launches. {@code B} is the API's buffer type, {@code K} its kernel type.
 */
public interface DeviceOps<B, K> {

  /**
   * What this device's kernels look like: the engine emits the plan with it, and the backend's
   * {@code source} (what {@code optc emit --backend} prints) uses the same config.
   */
  KernelConfig config();

  /** Elements per work-group (one chunk of a tensor); a multiple of the config's local size. */
  int chunkSize();

  /**
   * How many work-groups a chunk kernel launches for {@code chunks} chunks: each group strides over the
   * chunk list, so any count from 1 to {@code chunks} is correct; devices pick what fills them.
   */
  default int chunkGroups(K kernel, int chunks) {
    return chunks;
  }

  /**
   * The most bytes of arguments one kernel may take (pointers count 8, ints 4): CUDA's 4 KiB,
   * OpenCL's {@code CL_DEVICE_MAX_PARAMETER_SIZE}; unlimited where the driver passes them in memory.
   */
  default long maxParameterBytes() {
    return Long.MAX_VALUE;
  }

  /** Whether kernels may compute in double (OpenCL: {@code cl_khr_fp64}; every CUDA device can). */
  default boolean fp64() {
    return true;
  }

  /** Whether {@code buffer} starts at a 16-byte boundary (quad kernels then use 16-byte accesses). */
  default boolean aligned16(B buffer) {
    return true;
  }

  B allocate(long bytes);

  /**
   * A buffer that kernels use in place over native host memory ({@code host}, which the engine keeps alive
   * until it releases the buffer): native arenas, shared with the host without copies. Only a device that
   * works in the host's memory can (OpenCL on a CPU); the others say what to do instead.
   */
  default B useHost(MemorySegment host) {
    throw new OptcException("this device keeps its arenas in its own memory: native host arenas need the java "
        + "backend or OpenCL on a CPU; a framework's device buffers are adopted instead (adopt on the engine)");
  }

  /** How host memory for {@link #useHost} is aligned, in bytes (a power of two). */
  default long hostAlignment() {
    return 64;
  }

  void release(B buffer);

  void write(B buffer, long byteOffset, MemorySegment src);

  void read(B buffer, long byteOffset, MemorySegment dst);

  void fill(B buffer, float value);

  /** Builds the generated source; failures are one {@code OptcException} naming statement and line. */
  void build(String source);

  K kernel(String name);

  void releaseKernel(K kernel);

  /**
   * Launches {@code workItems} work-items in groups of {@code localSize} (0: any size; then the count is
   * rounded up and the kernel checks bounds). Arguments are buffers ({@code B}) and {@code Integer}s.
   */
  void launch(K kernel, long workItems, int localSize, List<Object> args);

  /** Waits for everything queued. */
  void finish();

  /**
   * {@code C = op(A)·op(B)} on row-major float32 matrices that start {@code aOffset}, {@code bOffset} and
   * {@code cOffset} floats into their buffers, queued in order with the kernels (a matrix program's products:
   * CLBlast on OpenCL, cuBLAS on CUDA).
   */
  default void sgemm(dev.optc.runtime.blas.Gemm gemm, B a, long aOffset, B b, long bOffset, B c, long cOffset) {
    throw new OptcException("this device has no BLAS bound; a program with matrix products needs one");
  }

  /** Why {@link #sgemm} cannot run here (what to install), or empty where it can. */
  default java.util.Optional<String> blasUnavailable() {
    return java.util.Optional.of("this device has no BLAS bound");
  }

  /** Releases what the ops hold themselves (a module, a stream); called last by the engine. */
  default void close() {}
}
