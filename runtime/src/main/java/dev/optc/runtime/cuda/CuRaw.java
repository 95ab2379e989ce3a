package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.optc.runtime.device.Downcalls;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;

/**
 * Raw FFM bindings to the CUDA driver API, {@code libcuda.so.1} (installed by the NVIDIA driver, not
 * the toolkit): one {@code static final} {@link MethodHandle} per C function, called with
 * {@code invokeExact} from a static method with the exact C signature of {@code cuda.h}.
 *
 * <p>Methods are named after the symbols they bind, not the macros of {@code cuda.h}: the header maps
 * {@code cuMemAlloc} to {@code cuMemAlloc_v2}, {@code cuCtxCreate} to {@code cuCtxCreate_v4} (CUDA 13:
 * it now takes a {@code CUctxCreateParams *}) and so on, and a binding that skips the header must name
 * the versioned symbol itself. The unversioned legacy symbols are the 32-bit-pointer API of CUDA 3.1
 * and must never be called.
 *
 * <p>Type mapping (64-bit Linux only): {@code CUresult}, {@code int}, {@code unsigned int},
 * {@code CUdevice} (an {@code int} ordinal handle) and every enum ({@code CUdevice_attribute},
 * {@code CUjit_option}) → {@code JAVA_INT}; {@code CUdeviceptr} ({@code unsigned long long}) and
 * {@code size_t} → {@code JAVA_LONG}; opaque handles ({@code CUcontext}, {@code CUstream},
 * {@code CUmodule}, {@code CUfunction}, {@code CUevent}) and every pointer → {@code ADDRESS}. Nothing
 * here checks a status or owns a handle; that is the idiomatic layer's job ({@link CuContext},
 * {@link CuBuffer}, …).
 *
 * <p>The library is looked up once, when this class is first used (so merely loading the runtime never
 * touches CUDA). If it is missing, this class still initializes: every function then throws an
 * {@link dev.optc.runtime.OptcException} saying so, and {@link #loadFailure()} says the same. A function
 * the installed driver does not export (an older driver) behaves the same way; {@link #has} tells in
 * advance.
 */
public final class CuRaw {

  // ---- constants from cuda.h that this package uses ------------------------------------------------

  public static final int CUDA_SUCCESS = 0;

  /** {@code CUdevice_attribute} values. */
  public static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
  public static final int CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2;
  public static final int CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5;
  public static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8;
  public static final int CU_DEVICE_ATTRIBUTE_WARP_SIZE = 10;
  public static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
  public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
  public static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;

  /** {@code CUstream_flags}: a stream that synchronizes with the legacy default stream. */
  public static final int CU_STREAM_DEFAULT = 0x0;
  public static final int CU_STREAM_NON_BLOCKING = 0x1;

  /** {@code CUevent_flags}. */
  public static final int CU_EVENT_DEFAULT = 0x0;
  public static final int CU_EVENT_BLOCKING_SYNC = 0x1;
  public static final int CU_EVENT_DISABLE_TIMING = 0x2;

  /**
   * {@code CUjit_option} keys for {@link #cuModuleLoadDataEx}: each value slot is a {@code void *};
   * the {@code *_SIZE_BYTES} slots hold a size cast to a pointer, in (the buffer's capacity) and out
   * (the bytes the driver wrote).
   */
  public static final int CU_JIT_WALL_TIME = 2;
  public static final int CU_JIT_INFO_LOG_BUFFER = 3;
  public static final int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
  public static final int CU_JIT_ERROR_LOG_BUFFER = 5;
  public static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
  public static final int CU_JIT_OPTIMIZATION_LEVEL = 7;
  public static final int CU_JIT_LOG_VERBOSE = 12;
  public static final int CU_JIT_GENERATE_LINE_INFO = 13;

  // ---- the library ---------------------------------------------------------------------------------

  static final String LIBRARY = "libcuda.so.1";
  // size_t and CUdeviceptr are bound as JAVA_LONG below; a 32-bit JVM would pass garbage. By name, so the dynamic
  // loader's own search finds the driver's copy, which stays mapped for the life of the JVM, as it expects.
  private static final Downcalls CUDA = ADDRESS.byteSize() != 8
      ? new Downcalls(null, LIBRARY, "CUDA is not available: optc's CUDA bindings need a 64-bit JVM")
      : Downcalls.open("CUDA", List.of(LIBRARY), LIBRARY + " not found (no NVIDIA driver)");

  /** Why the driver library could not be loaded, or empty when it was. */
  public static Optional<String> loadFailure() {
    return CUDA.loadFailure();
  }

  /** Whether the loaded driver exports {@code symbol}; false when there is no driver. */
  public static boolean has(String symbol) {
    return CUDA.has(symbol);
  }

  // ---- initialization and version ------------------------------------------------------------------

  private static final MethodHandle CU_INIT = CUDA.bind("cuInit", JAVA_INT, JAVA_INT);

  /** {@code CUresult cuInit(unsigned int Flags)}: must come before any other call but the error and version ones. */
  public static int cuInit(int flags) {
    try {
      return (int) CU_INIT.invokeExact(flags);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_DRIVER_GET_VERSION = CUDA.bind("cuDriverGetVersion", JAVA_INT, ADDRESS);

  /** {@code CUresult cuDriverGetVersion(int *driverVersion)} */
  public static int cuDriverGetVersion(MemorySegment driverVersion) {
    try {
      return (int) CU_DRIVER_GET_VERSION.invokeExact(driverVersion);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- devices -------------------------------------------------------------------------------------

  private static final MethodHandle CU_DEVICE_GET_COUNT = CUDA.bind("cuDeviceGetCount", JAVA_INT, ADDRESS);

  /** {@code CUresult cuDeviceGetCount(int *count)} */
  public static int cuDeviceGetCount(MemorySegment count) {
    try {
      return (int) CU_DEVICE_GET_COUNT.invokeExact(count);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_DEVICE_GET = CUDA.bind("cuDeviceGet", JAVA_INT, ADDRESS, JAVA_INT);

  /** {@code CUresult cuDeviceGet(CUdevice *device, int ordinal)} */
  public static int cuDeviceGet(MemorySegment device, int ordinal) {
    try {
      return (int) CU_DEVICE_GET.invokeExact(device, ordinal);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_DEVICE_GET_NAME =
      CUDA.bind("cuDeviceGetName", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);

  /** {@code CUresult cuDeviceGetName(char *name, int len, CUdevice dev)} */
  public static int cuDeviceGetName(MemorySegment name, int len, int dev) {
    try {
      return (int) CU_DEVICE_GET_NAME.invokeExact(name, len, dev);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_DEVICE_GET_ATTRIBUTE =
      CUDA.bind("cuDeviceGetAttribute", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);

  /** {@code CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)} */
  public static int cuDeviceGetAttribute(MemorySegment pi, int attrib, int dev) {
    try {
      return (int) CU_DEVICE_GET_ATTRIBUTE.invokeExact(pi, attrib, dev);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_DEVICE_TOTAL_MEM_V2 =
      CUDA.bind("cuDeviceTotalMem_v2", JAVA_INT, ADDRESS, JAVA_INT);

  /** {@code CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)} */
  public static int cuDeviceTotalMem_v2(MemorySegment bytes, int dev) {
    try {
      return (int) CU_DEVICE_TOTAL_MEM_V2.invokeExact(bytes, dev);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- contexts ------------------------------------------------------------------------------------

  private static final MethodHandle CU_DEVICE_PRIMARY_CTX_RETAIN =
      CUDA.bind("cuDevicePrimaryCtxRetain", JAVA_INT, ADDRESS, JAVA_INT);

  /**
   * {@code CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)}: one reference to the
   * device's primary context, made on first retain; {@link #cuDevicePrimaryCtxRelease_v2} gives it
   * back, and the last release destroys the context and everything allocated in it.
   */
  public static int cuDevicePrimaryCtxRetain(MemorySegment pctx, int dev) {
    try {
      return (int) CU_DEVICE_PRIMARY_CTX_RETAIN.invokeExact(pctx, dev);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_DEVICE_PRIMARY_CTX_RELEASE_V2 =
      CUDA.bind("cuDevicePrimaryCtxRelease_v2", JAVA_INT, JAVA_INT);

  /** {@code CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)} */
  public static int cuDevicePrimaryCtxRelease_v2(int dev) {
    try {
      return (int) CU_DEVICE_PRIMARY_CTX_RELEASE_V2.invokeExact(dev);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_CTX_CREATE_V4 =
      CUDA.bind("cuCtxCreate_v4", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT);

  /**
   * {@code CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams, unsigned int
   * flags, CUdevice dev)}: what {@code cuCtxCreate} means from CUDA 13 on (drivers from 12.5 export it).
   * The idiomatic layer uses the primary context instead ({@link #cuDevicePrimaryCtxRetain}), which
   * every driver since CUDA 7 has and which the CUDA runtime and other libraries share.
   */
  public static int cuCtxCreate_v4(MemorySegment pctx, MemorySegment ctxCreateParams, int flags, int dev) {
    try {
      return (int) CU_CTX_CREATE_V4.invokeExact(pctx, ctxCreateParams, flags, dev);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_CTX_DESTROY_V2 = CUDA.bind("cuCtxDestroy_v2", JAVA_INT, ADDRESS);

  /** {@code CUresult cuCtxDestroy_v2(CUcontext ctx)} */
  public static int cuCtxDestroy_v2(MemorySegment ctx) {
    try {
      return (int) CU_CTX_DESTROY_V2.invokeExact(ctx);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_CTX_SET_CURRENT = CUDA.bind("cuCtxSetCurrent", JAVA_INT, ADDRESS);

  /** {@code CUresult cuCtxSetCurrent(CUcontext ctx)} */
  public static int cuCtxSetCurrent(MemorySegment ctx) {
    try {
      return (int) CU_CTX_SET_CURRENT.invokeExact(ctx);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_CTX_GET_CURRENT = CUDA.bind("cuCtxGetCurrent", JAVA_INT, ADDRESS);

  /** {@code CUresult cuCtxGetCurrent(CUcontext *pctx)} */
  public static int cuCtxGetCurrent(MemorySegment pctx) {
    try {
      return (int) CU_CTX_GET_CURRENT.invokeExact(pctx);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_CTX_SYNCHRONIZE = CUDA.bind("cuCtxSynchronize", JAVA_INT);

  /** {@code CUresult cuCtxSynchronize(void)} */
  public static int cuCtxSynchronize() {
    try {
      return (int) CU_CTX_SYNCHRONIZE.invokeExact();
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- streams -------------------------------------------------------------------------------------

  private static final MethodHandle CU_STREAM_CREATE = CUDA.bind("cuStreamCreate", JAVA_INT, ADDRESS, JAVA_INT);

  /** {@code CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)} */
  public static int cuStreamCreate(MemorySegment phStream, int flags) {
    try {
      return (int) CU_STREAM_CREATE.invokeExact(phStream, flags);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_STREAM_SYNCHRONIZE = CUDA.bind("cuStreamSynchronize", JAVA_INT, ADDRESS);

  /** {@code CUresult cuStreamSynchronize(CUstream hStream)} */
  public static int cuStreamSynchronize(MemorySegment hStream) {
    try {
      return (int) CU_STREAM_SYNCHRONIZE.invokeExact(hStream);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_STREAM_DESTROY_V2 = CUDA.bind("cuStreamDestroy_v2", JAVA_INT, ADDRESS);

  /** {@code CUresult cuStreamDestroy_v2(CUstream hStream)} */
  public static int cuStreamDestroy_v2(MemorySegment hStream) {
    try {
      return (int) CU_STREAM_DESTROY_V2.invokeExact(hStream);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- memory --------------------------------------------------------------------------------------

  private static final MethodHandle CU_MEM_ALLOC_V2 = CUDA.bind("cuMemAlloc_v2", JAVA_INT, ADDRESS, JAVA_LONG);

  /** {@code CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)} */
  public static int cuMemAlloc_v2(MemorySegment dptr, long bytesize) {
    try {
      return (int) CU_MEM_ALLOC_V2.invokeExact(dptr, bytesize);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MEM_FREE_V2 = CUDA.bind("cuMemFree_v2", JAVA_INT, JAVA_LONG);

  /** {@code CUresult cuMemFree_v2(CUdeviceptr dptr)} */
  public static int cuMemFree_v2(long dptr) {
    try {
      return (int) CU_MEM_FREE_V2.invokeExact(dptr);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MEMCPY_HTO_D_V2 =
      CUDA.bind("cuMemcpyHtoD_v2", JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG);

  /** {@code CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)} */
  public static int cuMemcpyHtoD_v2(long dstDevice, MemorySegment srcHost, long byteCount) {
    try {
      return (int) CU_MEMCPY_HTO_D_V2.invokeExact(dstDevice, srcHost, byteCount);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MEMCPY_DTO_H_V2 =
      CUDA.bind("cuMemcpyDtoH_v2", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG);

  /** {@code CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)} */
  public static int cuMemcpyDtoH_v2(MemorySegment dstHost, long srcDevice, long byteCount) {
    try {
      return (int) CU_MEMCPY_DTO_H_V2.invokeExact(dstHost, srcDevice, byteCount);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MEMCPY_DTO_D_V2 =
      CUDA.bind("cuMemcpyDtoD_v2", JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG);

  /** {@code CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)} */
  public static int cuMemcpyDtoD_v2(long dstDevice, long srcDevice, long byteCount) {
    try {
      return (int) CU_MEMCPY_DTO_D_V2.invokeExact(dstDevice, srcDevice, byteCount);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MEMSET_D32_V2 =
      CUDA.bind("cuMemsetD32_v2", JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG);

  /**
   * {@code CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)}: {@code N} 32-bit
   * words; {@code dstDevice} must be 4-byte aligned. May return before the device is done.
   */
  public static int cuMemsetD32_v2(long dstDevice, int ui, long n) {
    try {
      return (int) CU_MEMSET_D32_V2.invokeExact(dstDevice, ui, n);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- modules and kernels -------------------------------------------------------------------------

  private static final MethodHandle CU_MODULE_LOAD_DATA = CUDA.bind("cuModuleLoadData", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code CUresult cuModuleLoadData(CUmodule *module, const void *image)} */
  public static int cuModuleLoadData(MemorySegment module, MemorySegment image) {
    try {
      return (int) CU_MODULE_LOAD_DATA.invokeExact(module, image);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MODULE_LOAD_DATA_EX =
      CUDA.bind("cuModuleLoadDataEx", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);

  /**
   * {@code CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions,
   * CUjit_option *options, void **optionValues)}: {@code options} is an {@code int} array of
   * {@code CU_JIT_*} keys, {@code optionValues} a parallel array of pointer-sized values.
   */
  public static int cuModuleLoadDataEx(MemorySegment module, MemorySegment image, int numOptions,
      MemorySegment options, MemorySegment optionValues) {
    try {
      return (int) CU_MODULE_LOAD_DATA_EX.invokeExact(module, image, numOptions, options, optionValues);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MODULE_GET_FUNCTION =
      CUDA.bind("cuModuleGetFunction", JAVA_INT, ADDRESS, ADDRESS, ADDRESS);

  /** {@code CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)} */
  public static int cuModuleGetFunction(MemorySegment hfunc, MemorySegment hmod, MemorySegment name) {
    try {
      return (int) CU_MODULE_GET_FUNCTION.invokeExact(hfunc, hmod, name);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_MODULE_UNLOAD = CUDA.bind("cuModuleUnload", JAVA_INT, ADDRESS);

  /** {@code CUresult cuModuleUnload(CUmodule hmod)} */
  public static int cuModuleUnload(MemorySegment hmod) {
    try {
      return (int) CU_MODULE_UNLOAD.invokeExact(hmod);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_FUNC_GET_PARAM_INFO =
      CUDA.bind("cuFuncGetParamInfo", JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS);

  /**
   * {@code CUresult cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t *paramOffset,
   * size_t *paramSize)} (drivers from CUDA 12.4): {@code CUDA_ERROR_INVALID_VALUE} once
   * {@code paramIndex} is past the last parameter.
   */
  public static int cuFuncGetParamInfo(
      MemorySegment func, long paramIndex, MemorySegment paramOffset, MemorySegment paramSize) {
    try {
      return (int) CU_FUNC_GET_PARAM_INFO.invokeExact(func, paramIndex, paramOffset, paramSize);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_OCCUPANCY_MAX_ACTIVE_BLOCKS =
      CUDA.bind("cuOccupancyMaxActiveBlocksPerMultiprocessor", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG);

  /**
   * {@code CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func,
   * int blockSize, size_t dynamicSMemSize)}
   */
  public static int cuOccupancyMaxActiveBlocksPerMultiprocessor(
      MemorySegment numBlocks, MemorySegment func, int blockSize, long dynamicSMemSize) {
    try {
      return (int) CU_OCCUPANCY_MAX_ACTIVE_BLOCKS.invokeExact(numBlocks, func, blockSize, dynamicSMemSize);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_LAUNCH_KERNEL =
      CUDA.bind("cuLaunchKernel", JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
          JAVA_INT, ADDRESS, ADDRESS, ADDRESS);

  /**
   * {@code CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
   * unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
   * unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra)}:
   * {@code kernelParams} holds one pointer per kernel parameter, each to the parameter's value; the
   * driver copies the values before it returns, so they need not outlive the call. A NULL stream is
   * the legacy default stream.
   */
  public static int cuLaunchKernel(MemorySegment f, int gridDimX, int gridDimY, int gridDimZ, int blockDimX,
      int blockDimY, int blockDimZ, int sharedMemBytes, MemorySegment hStream, MemorySegment kernelParams,
      MemorySegment extra) {
    try {
      return (int) CU_LAUNCH_KERNEL.invokeExact(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
          sharedMemBytes, hStream, kernelParams, extra);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- events --------------------------------------------------------------------------------------

  private static final MethodHandle CU_EVENT_CREATE = CUDA.bind("cuEventCreate", JAVA_INT, ADDRESS, JAVA_INT);

  /** {@code CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)} */
  public static int cuEventCreate(MemorySegment phEvent, int flags) {
    try {
      return (int) CU_EVENT_CREATE.invokeExact(phEvent, flags);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_EVENT_RECORD = CUDA.bind("cuEventRecord", JAVA_INT, ADDRESS, ADDRESS);

  /** {@code CUresult cuEventRecord(CUevent hEvent, CUstream hStream)} */
  public static int cuEventRecord(MemorySegment hEvent, MemorySegment hStream) {
    try {
      return (int) CU_EVENT_RECORD.invokeExact(hEvent, hStream);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_EVENT_SYNCHRONIZE = CUDA.bind("cuEventSynchronize", JAVA_INT, ADDRESS);

  /** {@code CUresult cuEventSynchronize(CUevent hEvent)} */
  public static int cuEventSynchronize(MemorySegment hEvent) {
    try {
      return (int) CU_EVENT_SYNCHRONIZE.invokeExact(hEvent);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_EVENT_ELAPSED_TIME =
      CUDA.bindFirst(new String[] {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, JAVA_INT, ADDRESS, ADDRESS,
          ADDRESS);

  /**
   * {@code CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)}, bound to
   * {@code cuEventElapsedTime_v2} where the driver has it (CUDA 12.8+, what {@code cuda.h} 13 maps the
   * name to; same signature) and to the original symbol on older drivers.
   */
  public static int cuEventElapsedTime(MemorySegment pMilliseconds, MemorySegment hStart, MemorySegment hEnd) {
    try {
      return (int) CU_EVENT_ELAPSED_TIME.invokeExact(pMilliseconds, hStart, hEnd);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_EVENT_DESTROY_V2 = CUDA.bind("cuEventDestroy_v2", JAVA_INT, ADDRESS);

  /** {@code CUresult cuEventDestroy_v2(CUevent hEvent)} */
  public static int cuEventDestroy_v2(MemorySegment hEvent) {
    try {
      return (int) CU_EVENT_DESTROY_V2.invokeExact(hEvent);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- errors --------------------------------------------------------------------------------------

  private static final MethodHandle CU_GET_ERROR_NAME = CUDA.bind("cuGetErrorName", JAVA_INT, JAVA_INT, ADDRESS);

  /**
   * {@code CUresult cuGetErrorName(CUresult error, const char **pStr)}: the enum's name, e.g.
   * {@code "CUDA_ERROR_OUT_OF_MEMORY"}, in static driver memory; works before {@code cuInit}.
   */
  public static int cuGetErrorName(int error, MemorySegment pStr) {
    try {
      return (int) CU_GET_ERROR_NAME.invokeExact(error, pStr);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private static final MethodHandle CU_GET_ERROR_STRING = CUDA.bind("cuGetErrorString", JAVA_INT, JAVA_INT, ADDRESS);

  /** {@code CUresult cuGetErrorString(CUresult error, const char **pStr)} */
  public static int cuGetErrorString(int error, MemorySegment pStr) {
    try {
      return (int) CU_GET_ERROR_STRING.invokeExact(error, pStr);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private CuRaw() {}
}
