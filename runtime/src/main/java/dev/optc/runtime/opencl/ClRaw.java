package dev.optc.runtime.opencl;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.optc.runtime.OptcException;
import dev.optc.runtime.device.Downcalls;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Raw FFM bindings to the OpenCL ICD loader, {@code libOpenCL.so.1}: one {@code static final}
 * {@link MethodHandle} per C function, called with {@code invokeExact} from a static method of the same
 * name and the exact C signature of Khronos' {@code cl.h}.
 *
 * <p>Type mapping (64-bit Linux only, which is all the ICD loader ships for here): {@code cl_int},
 * {@code cl_uint}, {@code cl_bool} and the {@code cl_*_info} enums → {@code JAVA_INT}; {@code size_t},
 * {@code cl_ulong} and every {@code cl_bitfield} ({@code cl_mem_flags}, {@code cl_device_type},
 * {@code cl_command_queue_properties}) → {@code JAVA_LONG}; handles ({@code cl_mem}, {@code cl_kernel},
 * …), pointers and callbacks → {@code ADDRESS}. Nothing here checks a status or owns a handle; that is
 * the idiomatic layer's job ({@link ClContext}, {@link ClBuffer}, …).
 *
 * <p>The library is looked up once, when this class is first used (so merely loading the runtime never
 * touches OpenCL). If it is missing, this class still initializes: every function then throws an
 * {@link OptcException} saying how to install a driver, and {@link #loadFailure()} says the same. A
 * function the loader does not export (an old loader) behaves the same way; {@link #has} tells in
 * advance.
 */
public final class ClRaw {

  // ---- constants from cl.h that this package uses --------------------------------------------------

  public static final int CL_SUCCESS = 0;
  public static final int CL_TRUE = 1;
  public static final int CL_FALSE = 0;

  public static final int CL_PLATFORM_PROFILE = 0x0900;
  public static final int CL_PLATFORM_VERSION = 0x0901;
  public static final int CL_PLATFORM_NAME = 0x0902;
  public static final int CL_PLATFORM_VENDOR = 0x0903;
  public static final int CL_PLATFORM_EXTENSIONS = 0x0904;

  public static final long CL_DEVICE_TYPE_DEFAULT = 1L << 0;
  public static final long CL_DEVICE_TYPE_CPU = 1L << 1;
  public static final long CL_DEVICE_TYPE_GPU = 1L << 2;
  public static final long CL_DEVICE_TYPE_ACCELERATOR = 1L << 3;
  public static final long CL_DEVICE_TYPE_CUSTOM = 1L << 4;
  public static final long CL_DEVICE_TYPE_ALL = 0xFFFFFFFFL;

  public static final int CL_DEVICE_TYPE = 0x1000;
  public static final int CL_DEVICE_MAX_COMPUTE_UNITS = 0x1002;
  public static final int CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004;
  public static final int CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT = 0x100A;
  public static final int CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010;
  public static final int CL_DEVICE_MAX_PARAMETER_SIZE = 0x1017;
  public static final int CL_DEVICE_MEM_BASE_ADDR_ALIGN = 0x1019;
  public static final int CL_DEVICE_GLOBAL_MEM_SIZE = 0x101F;
  public static final int CL_DEVICE_LOCAL_MEM_SIZE = 0x1023;
  public static final int CL_DEVICE_NAME = 0x102B;
  public static final int CL_DEVICE_VENDOR = 0x102C;
  public static final int CL_DRIVER_VERSION = 0x102D;
  public static final int CL_DEVICE_VERSION = 0x102F;
  public static final int CL_DEVICE_EXTENSIONS = 0x1030;
  public static final int CL_DEVICE_OPENCL_C_VERSION = 0x103D;

  public static final long CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE = 1L << 0;
  public static final long CL_QUEUE_PROFILING_ENABLE = 1L << 1;
  /** A key of the zero-terminated {@code cl_queue_properties} list. */
  public static final long CL_QUEUE_PROPERTIES = 0x1093;
  public static final int CL_QUEUE_REFERENCE_COUNT = 0x1092;

  public static final int CL_CONTEXT_REFERENCE_COUNT = 0x1080;
  /** A key of the zero-terminated {@code cl_context_properties} list. */
  public static final long CL_CONTEXT_PLATFORM = 0x1084;

  public static final long CL_MEM_READ_WRITE = 1L << 0;
  public static final long CL_MEM_WRITE_ONLY = 1L << 1;
  public static final long CL_MEM_READ_ONLY = 1L << 2;
  public static final long CL_MEM_USE_HOST_PTR = 1L << 3;

  public static final int CL_MEM_OBJECT_BUFFER = 0x10F0;
  public static final int CL_MEM_TYPE = 0x1100;
  public static final int CL_MEM_SIZE = 0x1102;
  public static final int CL_MEM_HOST_PTR = 0x1103;
  public static final int CL_MEM_REFERENCE_COUNT = 0x1105;
  public static final int CL_MEM_CONTEXT = 0x1106;

  public static final int CL_PROGRAM_NUM_DEVICES = 0x1162;
  public static final int CL_PROGRAM_BINARY_SIZES = 0x1165;
  public static final int CL_PROGRAM_BINARIES = 0x1166;
  public static final int CL_PROGRAM_BUILD_STATUS = 0x1181;
  public static final int CL_PROGRAM_BUILD_LOG = 0x1183;

  public static final int CL_KERNEL_WORK_GROUP_SIZE = 0x11B0;
  public static final int CL_KERNEL_LOCAL_MEM_SIZE = 0x11B2;
  public static final int CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE = 0x11B3;

  public static final int CL_PROFILING_COMMAND_QUEUED = 0x1280;
  public static final int CL_PROFILING_COMMAND_SUBMIT = 0x1281;
  public static final int CL_PROFILING_COMMAND_START = 0x1282;
  public static final int CL_PROFILING_COMMAND_END = 0x1283;

  // ---- the library ---------------------------------------------------------------------------------

  static final String LIBRARY = "libOpenCL.so.1";
  static final String INSTALL_HINT =
      "install an OpenCL driver, e.g. 'apt-get install pocl-opencl-icd ocl-icd-libopencl1' for the CPU";

  private static final String NATIVE_ACCESS_DENIED =
      "OpenCL is not available: native access is disabled; run java with --enable-native-access=ALL-UNNAMED";

  private static final Linker LINKER = Linker.nativeLinker();
  /** Null when the library could not be loaded; {@link #LOAD_FAILURE} says why. */
  private static final SymbolLookup LIB;

  private static final String LOAD_FAILURE;

  static {
    String failure = null;
    SymbolLookup lib = null;
    if (ADDRESS.byteSize() != 8) {
      // size_t is bound as JAVA_LONG below; a 32-bit JVM would pass garbage, so refuse up front.
      failure = "OpenCL is not available: optc's OpenCL bindings need a 64-bit JVM";
    } else {
      try {
        lib = loadLibrary();
      } catch (IllegalArgumentException e) {
        failure = "OpenCL is not available: " + LIBRARY + " not found; " + INSTALL_HINT;
      } catch (IllegalCallerException e) {
        failure = NATIVE_ACCESS_DENIED;
      }
    }
    LIB = lib;
    LOAD_FAILURE = failure;
  }

  // The restricted-method lint: binding a C library is this class's purpose; the JVM flag that allows
  // it is documented in package-info and passed by the launcher and Surefire.
  @SuppressWarnings("restricted")
  private static SymbolLookup loadLibrary() {
    // Arena.global(): the loader stays mapped for the life of the JVM, as drivers expect.
    return SymbolLookup.libraryLookup(LIBRARY, Arena.global());
  }

  /** Why the library could not be loaded, or empty when it was. */
  public static Optional<String> loadFailure() {
    return Optional.ofNullable(LOAD_FAILURE);
  }

  /** Whether the loaded library exports {@code symbol}; false when there is no library. */
  public static boolean has(String symbol) {
    return LIB != null && LIB.find(symbol).isPresent();
  }

  @SuppressWarnings("restricted")
  private static MethodHandle bind(String name, MemoryLayout result, MemoryLayout... args) {
    var descriptor = FunctionDescriptor.of(result, args);
    if (LIB != null) {
      var symbol = LIB.find(name);
      if (symbol.isPresent()) {
        try {
          return LINKER.downcallHandle(symbol.get(), descriptor);
        } catch (IllegalCallerException e) {
          return Downcalls.thrower(descriptor, NATIVE_ACCESS_DENIED);
        }
      }
      return Downcalls.thrower(descriptor,
          "OpenCL function " + name + " is not exported by " + LIBRARY + "; the ICD loader is too old");
    }
    return Downcalls.thrower(descriptor, LOAD_FAILURE);
  }

  // ---- platforms and devices -----------------------------------------------------------------------

  private static final MethodHandle CL_GET_PLATFORM_IDS =
      bind("clGetPlatformIDs", JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle CL_GET_PLATFORM_INFO =
      bind("clGetPlatformInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_GET_DEVICE_IDS =
      bind("clGetDeviceIDs", JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle CL_GET_DEVICE_INFO =
      bind("clGetDeviceInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);

  /** {@code cl_int clGetPlatformIDs(cl_uint num_entries, cl_platform_id *platforms, cl_uint *num_platforms)} */
  public static int clGetPlatformIDs(int numEntries, MemorySegment platforms, MemorySegment numPlatforms) {
    try {
      return (int) CL_GET_PLATFORM_IDS.invokeExact(numEntries, platforms, numPlatforms);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetPlatformInfo(cl_platform_id, cl_platform_info, size_t, void *, size_t *)} */
  public static int clGetPlatformInfo(
      MemorySegment platform, int param, long size, MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_PLATFORM_INFO.invokeExact(platform, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetDeviceIDs(cl_platform_id, cl_device_type, cl_uint num_entries, cl_device_id *, cl_uint *)} */
  public static int clGetDeviceIDs(
      MemorySegment platform, long deviceType, int numEntries, MemorySegment devices, MemorySegment numDevices) {
    try {
      return (int) CL_GET_DEVICE_IDS.invokeExact(platform, deviceType, numEntries, devices, numDevices);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetDeviceInfo(cl_device_id, cl_device_info, size_t, void *, size_t *)} */
  public static int clGetDeviceInfo(
      MemorySegment device, int param, long size, MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_DEVICE_INFO.invokeExact(device, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- contexts and queues -------------------------------------------------------------------------

  private static final MethodHandle CL_CREATE_CONTEXT =
      bind("clCreateContext", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final MethodHandle CL_RELEASE_CONTEXT = bind("clReleaseContext", JAVA_INT, ADDRESS);
  private static final MethodHandle CL_GET_CONTEXT_INFO =
      bind("clGetContextInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_CREATE_COMMAND_QUEUE_WITH_PROPERTIES =
      bind("clCreateCommandQueueWithProperties", ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final MethodHandle CL_CREATE_COMMAND_QUEUE =
      bind("clCreateCommandQueue", ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS);
  private static final MethodHandle CL_RELEASE_COMMAND_QUEUE = bind("clReleaseCommandQueue", JAVA_INT, ADDRESS);
  private static final MethodHandle CL_GET_COMMAND_QUEUE_INFO =
      bind("clGetCommandQueueInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_FINISH = bind("clFinish", JAVA_INT, ADDRESS);
  private static final MethodHandle CL_FLUSH = bind("clFlush", JAVA_INT, ADDRESS);

  /**
   * {@code cl_context clCreateContext(const cl_context_properties *, cl_uint num_devices,
   * const cl_device_id *devices, void (*pfn_notify)(const char *, const void *, size_t, void *),
   * void *user_data, cl_int *errcode_ret)}
   */
  public static MemorySegment clCreateContext(MemorySegment properties, int numDevices, MemorySegment devices,
      MemorySegment pfnNotify, MemorySegment userData, MemorySegment errcodeRet) {
    try {
      return (MemorySegment) CL_CREATE_CONTEXT.invokeExact(
          properties, numDevices, devices, pfnNotify, userData, errcodeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clReleaseContext(cl_context)} */
  public static int clReleaseContext(MemorySegment context) {
    try {
      return (int) CL_RELEASE_CONTEXT.invokeExact(context);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetContextInfo(cl_context, cl_context_info, size_t, void *, size_t *)} */
  public static int clGetContextInfo(
      MemorySegment context, int param, long size, MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_CONTEXT_INFO.invokeExact(context, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * OpenCL 2.0+: {@code cl_command_queue clCreateCommandQueueWithProperties(cl_context, cl_device_id,
   * const cl_queue_properties *properties, cl_int *errcode_ret)}; the properties are a zero-terminated
   * list of {@code cl_ulong} key/value pairs.
   */
  public static MemorySegment clCreateCommandQueueWithProperties(
      MemorySegment context, MemorySegment device, MemorySegment properties, MemorySegment errcodeRet) {
    try {
      return (MemorySegment) CL_CREATE_COMMAND_QUEUE_WITH_PROPERTIES.invokeExact(
          context, device, properties, errcodeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * OpenCL 1.x (deprecated in 2.0): {@code cl_command_queue clCreateCommandQueue(cl_context,
   * cl_device_id, cl_command_queue_properties, cl_int *errcode_ret)}.
   */
  public static MemorySegment clCreateCommandQueue(
      MemorySegment context, MemorySegment device, long properties, MemorySegment errcodeRet) {
    try {
      return (MemorySegment) CL_CREATE_COMMAND_QUEUE.invokeExact(context, device, properties, errcodeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clReleaseCommandQueue(cl_command_queue)} */
  public static int clReleaseCommandQueue(MemorySegment queue) {
    try {
      return (int) CL_RELEASE_COMMAND_QUEUE.invokeExact(queue);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetCommandQueueInfo(cl_command_queue, cl_command_queue_info, size_t, void *, size_t *)} */
  public static int clGetCommandQueueInfo(
      MemorySegment queue, int param, long size, MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_COMMAND_QUEUE_INFO.invokeExact(queue, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clFinish(cl_command_queue)} */
  public static int clFinish(MemorySegment queue) {
    try {
      return (int) CL_FINISH.invokeExact(queue);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clFlush(cl_command_queue)} */
  public static int clFlush(MemorySegment queue) {
    try {
      return (int) CL_FLUSH.invokeExact(queue);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- memory objects ------------------------------------------------------------------------------

  private static final MethodHandle CL_CREATE_BUFFER =
      bind("clCreateBuffer", ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_RETAIN_MEM_OBJECT = bind("clRetainMemObject", JAVA_INT, ADDRESS);
  private static final MethodHandle CL_RELEASE_MEM_OBJECT = bind("clReleaseMemObject", JAVA_INT, ADDRESS);
  private static final MethodHandle CL_GET_MEM_OBJECT_INFO =
      bind("clGetMemObjectInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_ENQUEUE_WRITE_BUFFER = bind("clEnqueueWriteBuffer", JAVA_INT,
      ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle CL_ENQUEUE_READ_BUFFER = bind("clEnqueueReadBuffer", JAVA_INT,
      ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle CL_ENQUEUE_COPY_BUFFER = bind("clEnqueueCopyBuffer", JAVA_INT,
      ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle CL_ENQUEUE_FILL_BUFFER = bind("clEnqueueFillBuffer", JAVA_INT,
      ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, ADDRESS, ADDRESS);

  /** {@code cl_mem clCreateBuffer(cl_context, cl_mem_flags, size_t size, void *host_ptr, cl_int *errcode_ret)} */
  public static MemorySegment clCreateBuffer(
      MemorySegment context, long flags, long size, MemorySegment hostPtr, MemorySegment errcodeRet) {
    try {
      return (MemorySegment) CL_CREATE_BUFFER.invokeExact(context, flags, size, hostPtr, errcodeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clRetainMemObject(cl_mem)} */
  public static int clRetainMemObject(MemorySegment mem) {
    try {
      return (int) CL_RETAIN_MEM_OBJECT.invokeExact(mem);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clReleaseMemObject(cl_mem)} */
  public static int clReleaseMemObject(MemorySegment mem) {
    try {
      return (int) CL_RELEASE_MEM_OBJECT.invokeExact(mem);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetMemObjectInfo(cl_mem, cl_mem_info, size_t, void *, size_t *)} */
  public static int clGetMemObjectInfo(
      MemorySegment mem, int param, long size, MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_MEM_OBJECT_INFO.invokeExact(mem, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * {@code cl_int clEnqueueWriteBuffer(cl_command_queue, cl_mem, cl_bool blocking_write, size_t offset,
   * size_t size, const void *ptr, cl_uint num_events_in_wait_list, const cl_event *event_wait_list,
   * cl_event *event)}
   */
  public static int clEnqueueWriteBuffer(MemorySegment queue, MemorySegment buffer, int blocking, long offset,
      long size, MemorySegment ptr, int numEvents, MemorySegment waitList, MemorySegment event) {
    try {
      return (int) CL_ENQUEUE_WRITE_BUFFER.invokeExact(
          queue, buffer, blocking, offset, size, ptr, numEvents, waitList, event);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clEnqueueReadBuffer(...)}: the same parameters as {@link #clEnqueueWriteBuffer}. */
  public static int clEnqueueReadBuffer(MemorySegment queue, MemorySegment buffer, int blocking, long offset,
      long size, MemorySegment ptr, int numEvents, MemorySegment waitList, MemorySegment event) {
    try {
      return (int) CL_ENQUEUE_READ_BUFFER.invokeExact(
          queue, buffer, blocking, offset, size, ptr, numEvents, waitList, event);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * {@code cl_int clEnqueueCopyBuffer(cl_command_queue, cl_mem src, cl_mem dst, size_t src_offset,
   * size_t dst_offset, size_t size, cl_uint num_events_in_wait_list, const cl_event *, cl_event *)}
   */
  public static int clEnqueueCopyBuffer(MemorySegment queue, MemorySegment src, MemorySegment dst,
      long srcOffset, long dstOffset, long size, int numEvents, MemorySegment waitList, MemorySegment event) {
    try {
      return (int) CL_ENQUEUE_COPY_BUFFER.invokeExact(
          queue, src, dst, srcOffset, dstOffset, size, numEvents, waitList, event);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * {@code cl_int clEnqueueFillBuffer(cl_command_queue, cl_mem, const void *pattern, size_t pattern_size,
   * size_t offset, size_t size, cl_uint num_events_in_wait_list, const cl_event *, cl_event *)}
   */
  public static int clEnqueueFillBuffer(MemorySegment queue, MemorySegment buffer, MemorySegment pattern,
      long patternSize, long offset, long size, int numEvents, MemorySegment waitList, MemorySegment event) {
    try {
      return (int) CL_ENQUEUE_FILL_BUFFER.invokeExact(
          queue, buffer, pattern, patternSize, offset, size, numEvents, waitList, event);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- programs ------------------------------------------------------------------------------------

  private static final MethodHandle CL_CREATE_PROGRAM_WITH_SOURCE =
      bind("clCreateProgramWithSource", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
  private static final MethodHandle CL_CREATE_PROGRAM_WITH_BINARY = bind("clCreateProgramWithBinary",
      ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final MethodHandle CL_BUILD_PROGRAM =
      bind("clBuildProgram", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final MethodHandle CL_GET_PROGRAM_BUILD_INFO =
      bind("clGetProgramBuildInfo", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_GET_PROGRAM_INFO =
      bind("clGetProgramInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_RELEASE_PROGRAM = bind("clReleaseProgram", JAVA_INT, ADDRESS);

  /**
   * {@code cl_program clCreateProgramWithSource(cl_context, cl_uint count, const char **strings,
   * const size_t *lengths, cl_int *errcode_ret)}; {@code lengths} may be NULL for NUL-terminated strings.
   */
  public static MemorySegment clCreateProgramWithSource(MemorySegment context, int count, MemorySegment strings,
      MemorySegment lengths, MemorySegment errcodeRet) {
    try {
      return (MemorySegment) CL_CREATE_PROGRAM_WITH_SOURCE.invokeExact(
          context, count, strings, lengths, errcodeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * {@code cl_program clCreateProgramWithBinary(cl_context, cl_uint num_devices, const cl_device_id *,
   * const size_t *lengths, const unsigned char **binaries, cl_int *binary_status, cl_int *errcode_ret)}
   */
  public static MemorySegment clCreateProgramWithBinary(MemorySegment context, int numDevices,
      MemorySegment devices, MemorySegment lengths, MemorySegment binaries, MemorySegment binaryStatus,
      MemorySegment errcodeRet) {
    try {
      return (MemorySegment) CL_CREATE_PROGRAM_WITH_BINARY.invokeExact(
          context, numDevices, devices, lengths, binaries, binaryStatus, errcodeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * {@code cl_int clBuildProgram(cl_program, cl_uint num_devices, const cl_device_id *,
   * const char *options, void (*pfn_notify)(cl_program, void *), void *user_data)}
   */
  public static int clBuildProgram(MemorySegment program, int numDevices, MemorySegment devices,
      MemorySegment options, MemorySegment pfnNotify, MemorySegment userData) {
    try {
      return (int) CL_BUILD_PROGRAM.invokeExact(program, numDevices, devices, options, pfnNotify, userData);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetProgramBuildInfo(cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *)} */
  public static int clGetProgramBuildInfo(MemorySegment program, MemorySegment device, int param, long size,
      MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_PROGRAM_BUILD_INFO.invokeExact(program, device, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetProgramInfo(cl_program, cl_program_info, size_t, void *, size_t *)} */
  public static int clGetProgramInfo(
      MemorySegment program, int param, long size, MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_PROGRAM_INFO.invokeExact(program, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clReleaseProgram(cl_program)} */
  public static int clReleaseProgram(MemorySegment program) {
    try {
      return (int) CL_RELEASE_PROGRAM.invokeExact(program);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- kernels -------------------------------------------------------------------------------------

  private static final MethodHandle CL_CREATE_KERNEL = bind("clCreateKernel", ADDRESS, ADDRESS, ADDRESS, ADDRESS);
  private static final MethodHandle CL_RELEASE_KERNEL = bind("clReleaseKernel", JAVA_INT, ADDRESS);
  private static final MethodHandle CL_SET_KERNEL_ARG =
      bind("clSetKernelArg", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS);
  private static final MethodHandle CL_GET_KERNEL_WORK_GROUP_INFO =
      bind("clGetKernelWorkGroupInfo", JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_ENQUEUE_ND_RANGE_KERNEL = bind("clEnqueueNDRangeKernel", JAVA_INT,
      ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);

  /** {@code cl_kernel clCreateKernel(cl_program, const char *kernel_name, cl_int *errcode_ret)} */
  public static MemorySegment clCreateKernel(MemorySegment program, MemorySegment name, MemorySegment errcodeRet) {
    try {
      return (MemorySegment) CL_CREATE_KERNEL.invokeExact(program, name, errcodeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clReleaseKernel(cl_kernel)} */
  public static int clReleaseKernel(MemorySegment kernel) {
    try {
      return (int) CL_RELEASE_KERNEL.invokeExact(kernel);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * {@code cl_int clSetKernelArg(cl_kernel, cl_uint arg_index, size_t arg_size, const void *arg_value)};
   * a NULL value with a non-zero size declares {@code __local} memory of that size.
   */
  public static int clSetKernelArg(MemorySegment kernel, int index, long size, MemorySegment value) {
    try {
      return (int) CL_SET_KERNEL_ARG.invokeExact(kernel, index, size, value);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetKernelWorkGroupInfo(cl_kernel, cl_device_id, cl_kernel_work_group_info, size_t, void *, size_t *)} */
  public static int clGetKernelWorkGroupInfo(MemorySegment kernel, MemorySegment device, int param, long size,
      MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_KERNEL_WORK_GROUP_INFO.invokeExact(kernel, device, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /**
   * {@code cl_int clEnqueueNDRangeKernel(cl_command_queue, cl_kernel, cl_uint work_dim,
   * const size_t *global_work_offset, const size_t *global_work_size, const size_t *local_work_size,
   * cl_uint num_events_in_wait_list, const cl_event *event_wait_list, cl_event *event)}; a NULL
   * {@code local_work_size} lets the driver choose.
   */
  public static int clEnqueueNDRangeKernel(MemorySegment queue, MemorySegment kernel, int workDim,
      MemorySegment globalOffset, MemorySegment globalSize, MemorySegment localSize, int numEvents,
      MemorySegment waitList, MemorySegment event) {
    try {
      return (int) CL_ENQUEUE_ND_RANGE_KERNEL.invokeExact(
          queue, kernel, workDim, globalOffset, globalSize, localSize, numEvents, waitList, event);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  // ---- events --------------------------------------------------------------------------------------

  private static final MethodHandle CL_WAIT_FOR_EVENTS = bind("clWaitForEvents", JAVA_INT, JAVA_INT, ADDRESS);
  private static final MethodHandle CL_GET_EVENT_PROFILING_INFO =
      bind("clGetEventProfilingInfo", JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS);
  private static final MethodHandle CL_RELEASE_EVENT = bind("clReleaseEvent", JAVA_INT, ADDRESS);

  /** {@code cl_int clWaitForEvents(cl_uint num_events, const cl_event *event_list)} */
  public static int clWaitForEvents(int numEvents, MemorySegment events) {
    try {
      return (int) CL_WAIT_FOR_EVENTS.invokeExact(numEvents, events);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clGetEventProfilingInfo(cl_event, cl_profiling_info, size_t, void *, size_t *)} */
  public static int clGetEventProfilingInfo(
      MemorySegment event, int param, long size, MemorySegment value, MemorySegment sizeRet) {
    try {
      return (int) CL_GET_EVENT_PROFILING_INFO.invokeExact(event, param, size, value, sizeRet);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  /** {@code cl_int clReleaseEvent(cl_event)} */
  public static int clReleaseEvent(MemorySegment event) {
    try {
      return (int) CL_RELEASE_EVENT.invokeExact(event);
    } catch (Throwable t) {
      throw Downcalls.unexpected(t);
    }
  }

  private ClRaw() {}
}
