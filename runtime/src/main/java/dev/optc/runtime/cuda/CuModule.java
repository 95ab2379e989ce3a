package dev.optc.runtime.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

/**
 * Code loaded into a context: PTX (JIT-compiled by the driver for the context's device) or a cubin or
 * fatbin. A load that fails throws a {@link CuException} carrying the JIT's error log, which is where
 * the reason is ({@code ptxas application ptx input, line 12; error : ...}); a successful one keeps the
 * JIT's info log ({@link #jitInfoLog()}). Unloading frees the module's functions too.
 */
public final class CuModule extends CuResource {

  /** Room for each JIT log; the driver truncates beyond it. */
  private static final int LOG_BYTES = 64 * 1024;

  private final MemorySegment handle;
  private final String jitInfoLog;
  private final Map<String, CuFunction> functions = new HashMap<>();

  private CuModule(CuContext context, MemorySegment handle, String jitInfoLog) {
    super(context);
    this.handle = handle;
    this.jitInfoLog = jitInfoLog;
  }

  /** {@code image}: owned by this call; {@code what} names it in messages ("PTX", "image"). */
  static CuModule load(CuContext context, byte[] image, String what) {
    if (image.length == 0) {
      throw new IllegalArgumentException("an empty module " + what);
    }
    var device = context.device();
    try (var arena = Arena.ofConfined()) {
      // NUL-terminated: PTX is read as a C string; a cubin or fatbin carries its own size and ignores it.
      var bytes = arena.allocate(image.length + 1L);
      MemorySegment.copy(image, 0, bytes, JAVA_BYTE, 0, image.length);
      var errorLog = arena.allocate(LOG_BYTES + 1L);
      var infoLog = arena.allocate(LOG_BYTES + 1L);
      var keys = arena.allocateFrom(JAVA_INT, CuRaw.CU_JIT_ERROR_LOG_BUFFER, CuRaw.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
          CuRaw.CU_JIT_INFO_LOG_BUFFER, CuRaw.CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
      var values = arena.allocate(ADDRESS, 4);
      values.setAtIndex(ADDRESS, 0, errorLog);
      values.setAtIndex(JAVA_LONG, 1, LOG_BYTES); // a size in a void* slot, as the driver wants it
      values.setAtIndex(ADDRESS, 2, infoLog);
      values.setAtIndex(JAVA_LONG, 3, LOG_BYTES);
      var out = arena.allocate(ADDRESS);
      int rc = CuRaw.cuModuleLoadDataEx(out, bytes, 4, keys, values);
      if (rc != CuRaw.CUDA_SUCCESS) {
        throw new CuException("cuModuleLoadDataEx", rc, "loading a module from " + image.length + " bytes of " + what
            + " on " + device.name() + " (" + device.arch() + ")" + hint(rc), errorLog.getString(0));
      }
      return new CuModule(context, out.get(ADDRESS, 0), infoLog.getString(0).strip());
    }
  }

  private static String hint(int rc) {
    if (rc == CuStatus.CUDA_ERROR_UNSUPPORTED_PTX_VERSION.code()) {
      String driver;
      try {
        driver = Cuda.versionString(Cuda.driverVersion());
      } catch (RuntimeException e) {
        driver = "?";
      }
      return "; the PTX is newer than driver " + driver + " can JIT: update the driver or compile with an older"
          + " NVRTC";
    }
    return "";
  }

  /** The raw {@code CUmodule}; throws once closed. */
  public MemorySegment handle() {
    if (isClosed()) {
      throw new IllegalStateException("CuModule is already closed");
    }
    return handle;
  }

  /** The JIT's info log of the load (register use, spills where verbose), possibly empty. */
  public String jitInfoLog() {
    return jitInfoLog;
  }

  /**
   * The kernel called {@code name}: an {@code extern "C"} function's plain name, else its mangled one.
   * Valid until this module is closed.
   */
  public CuFunction function(String name) {
    var cached = functions.get(name);
    if (cached != null) {
      return cached;
    }
    enter();
    try (var arena = Arena.ofConfined()) {
      var out = arena.allocate(ADDRESS);
      CuStatus.check(CuRaw.cuModuleGetFunction(out, handle, arena.allocateFrom(name)), "cuModuleGetFunction",
          () -> "looking up kernel '" + name + "' (a kernel must be extern \"C\" to be found by its plain name)");
      var function = new CuFunction(this, name, out.get(ADDRESS, 0));
      functions.put(name, function);
      return function;
    }
  }

  @Override
  int release() {
    return CuRaw.cuModuleUnload(handle);
  }

  @Override
  String releaseCall() {
    return "cuModuleUnload";
  }

  @Override
  public String toString() {
    return "CuModule[" + context().device().name() + (isClosed() ? ", closed]" : "]");
  }
}
