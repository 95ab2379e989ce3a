package dev.optc.runtime.opencl;

import static dev.optc.runtime.opencl.ClFixture.assertBitsEqual;
import static dev.optc.runtime.opencl.ClFixture.randomFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Kernels against the Java reference: fresh random inputs, an odd (prime) size, poisoned outputs. */
class ClKernelTest {

  /** Prime, so no work-group size divides it. */
  private static final int N = 1_000_003;

  // FP_CONTRACT OFF: OpenCL C may fuse a*x+y into one fma by default, which rounds once instead of
  // twice and would differ from Java's a * x[i] + y[i] in the last bit.
  private static final String SOURCE = """
      #pragma OPENCL FP_CONTRACT OFF
      __kernel void add(const int n, __global const float* a, __global const float* b, __global float* out) {
        const int i = get_global_id(0);
        if (i >= n) return;
        out[i] = a[i] + b[i];
      }
      __kernel void saxpy(const int n, const float alpha, __global const float* x, __global const float* y,
                          __global float* out) {
        const int i = get_global_id(0);
        if (i >= n) return;
        out[i] = alpha * x[i] + y[i];
      }
      __kernel void fused(const int n, const float alpha, __global const float* x, __global const float* y,
                          __global float* out) {
        const int i = get_global_id(0);
        if (i >= n) return;
        out[i] = fma(alpha, x[i], y[i]);
      }
      __kernel void scalars(__global long* out, const int i, const long l, const float f, __local float* scratch) {
        const size_t lid = get_local_id(0);
        scratch[lid] = f * (float) (lid + 1);
        barrier(CLK_LOCAL_MEM_FENCE);
        if (get_global_id(0) == 0) {
          out[0] = i;
          out[1] = l;
          out[2] = as_int(f);
          out[3] = as_int(scratch[get_local_size(0) - 1]);
          out[4] = get_local_size(0);
        }
      }
      """;

  private static ClDevice device;
  private static ClContext context;
  private static ClQueue queue;
  private static ClProgram program;

  @BeforeAll
  static void open() {
    device = ClFixture.device();
    context = ClContext.create(device);
    queue = context.createQueue();
    program = context.buildProgram(SOURCE, "");
  }

  @AfterAll
  static void close() {
    for (AutoCloseable c : new AutoCloseable[] {program, queue, context}) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception e) {
          throw new AssertionError(e);
        }
      }
    }
  }

  /** Runs a (n, alpha, x, y, out) or (n, x, y, out) kernel over {@code N} with the output poisoned. */
  private static float[] run(ClProgram program, String name, Float alpha, float[] x, float[] y, long global, long local) {
    long bytes = (long) N * Float.BYTES;
    try (var kernel = program.createKernel(name);
         var bx = context.createBuffer(bytes);
         var by = context.createBuffer(bytes);
         var out = context.createBuffer(bytes)) {
      bx.write(queue, 0, x);
      by.write(queue, 0, y);
      out.fill(queue, Float.NaN);
      int arg = 0;
      kernel.setArg(arg++, N);
      if (alpha != null) {
        kernel.setArg(arg++, alpha.floatValue());
      }
      kernel.setArg(arg++, bx).setArg(arg++, by).setArg(arg, out);
      try (var event = queue.launch(kernel, global, local)) {
        event.waitFor();
      }
      return out.readFloats(queue);
    }
  }

  @Test
  void vectorAddOverAPrimeSizeLettingTheDriverChooseTheGroup() {
    long seed = System.nanoTime();
    var a = randomFloats(seed, N);
    var b = randomFloats(seed + 1, N);
    var expected = new float[N];
    for (int i = 0; i < N; i++) {
      expected[i] = a[i] + b[i];
    }
    assertBitsEqual(expected, run(program, "add", null, a, b, N, 0), "add, seed " + seed);
  }

  @Test
  void saxpyMatchesJavaExactlyWithContractionOff() {
    long seed = System.nanoTime();
    var x = randomFloats(seed, N);
    var y = randomFloats(seed + 1, N);
    float alpha = 0.37f;
    var expected = new float[N];
    var fused = new float[N];
    for (int i = 0; i < N; i++) {
      expected[i] = alpha * x[i] + y[i];
      fused[i] = Math.fma(alpha, x[i], y[i]);
    }
    assertBitsEqual(expected, run(program, "saxpy", alpha, x, y, N, 0), "saxpy, seed " + seed);
    assertBitsEqual(fused, run(program, "fused", alpha, x, y, N, 0), "fma, seed " + seed);
  }

  @Test
  void callerRoundsTheGlobalSizeUpAndTheKernelChecksBounds() {
    long seed = System.nanoTime();
    var x = randomFloats(seed, N);
    var y = randomFloats(seed + 1, N);
    float alpha = -1.5f;
    long local = Math.min(64, device.maxWorkGroupSize());
    long global = ClQueue.roundUp(N, local);
    assertTrue(global > N && global % local == 0);
    var expected = new float[N];
    for (int i = 0; i < N; i++) {
      expected[i] = alpha * x[i] + y[i];
    }
    // The output has a tail past N that the extra work-items must leave alone.
    int padded = (int) global + 16;
    try (var kernel = program.createKernel("saxpy");
         var bx = context.createBuffer((long) N * Float.BYTES);
         var by = context.createBuffer((long) N * Float.BYTES);
         var out = context.createBuffer((long) padded * Float.BYTES)) {
      assertTrue(kernel.maxWorkGroupSize(device) >= local);
      bx.write(queue, 0, x);
      by.write(queue, 0, y);
      out.fill(queue, Float.NaN);
      kernel.setArg(0, N).setArg(1, alpha).setArg(2, bx).setArg(3, by).setArg(4, out);
      queue.dispatch(kernel, global, local);
      queue.finish();
      var all = out.readFloats(queue);
      assertBitsEqual(expected, Arrays.copyOf(all, N), "rounded-up saxpy, seed " + seed);
      for (int i = N; i < padded; i++) {
        assertTrue(Float.isNaN(all[i]), "work-item " + i + " wrote past n");
      }
    }
  }

  /** Records what the driver does with a global size that is not a multiple of the local size. */
  @Test
  void nonUniformGroupsAreTheDriversCall() {
    long local = Math.min(64, device.maxWorkGroupSize());
    var x = randomFloats(1, N);
    var y = randomFloats(2, N);
    try {
      var out = run(program, "add", null, x, y, N, local);
      for (int i = 0; i < N; i++) {
        assertEquals(x[i] + y[i], out[i]);
      }
      System.out.println("non-uniform work-groups (global " + N + ", local " + local + "): accepted");
    } catch (ClException e) {
      // OpenCL 1.2 requires global % local == 0; so do 2.0+ programs built without -cl-std=CL2.0+.
      assertEquals(ClStatus.CL_INVALID_WORK_GROUP_SIZE, e.status().orElseThrow(), e.getMessage());
      System.out.println("non-uniform work-groups: " + e.getMessage());
    }
  }

  @Test
  void scalarAndLocalArguments() {
    long local = Math.min(16, device.maxWorkGroupSize());
    try (var kernel = program.createKernel("scalars"); var out = context.createBuffer(8 * Long.BYTES)) {
      kernel.setArg(0, out).setArg(1, -123456789).setArg(2, 0x1234_5678_9ABC_DEF0L).setArg(3, 2.5f)
          .setLocalArg(4, local * Float.BYTES);
      queue.dispatch(kernel, local, local);
      long[] values;
      try (var arena = Arena.ofConfined()) {
        var seg = arena.allocate(8 * Long.BYTES);
        out.read(queue, 0, seg);
        values = seg.toArray(ValueLayout.JAVA_LONG);
      }
      assertEquals(-123456789, values[0]);
      assertEquals(0x1234_5678_9ABC_DEF0L, values[1]);
      assertEquals(Float.floatToRawIntBits(2.5f), (int) values[2]);
      assertEquals(Float.floatToRawIntBits(2.5f * local), (int) values[3]);
      assertEquals(local, values[4]);

      var e = assertThrows(ClException.class, () -> kernel.setArg(1, 5L)); // an int parameter
      assertEquals(ClStatus.CL_INVALID_ARG_SIZE, e.status().orElseThrow(), e.getMessage());
      assertTrue(e.getMessage().contains("argument 1") && e.getMessage().contains("'scalars'"), e.getMessage());
      var index = assertThrows(ClException.class, () -> kernel.setArg(9, 1));
      assertEquals(ClStatus.CL_INVALID_ARG_INDEX, index.status().orElseThrow(), index.getMessage());
    }
  }

  @Test
  void doubleArgument() {
    Assumptions.assumeTrue(device.supportsFp64(), device.name() + " has no cl_khr_fp64");
    var source = """
        #pragma OPENCL EXTENSION cl_khr_fp64 : enable
        __kernel void twice(__global double* out, const double d) { out[0] = 2.0 * d; }
        """;
    try (var p = context.buildProgram(source, "");
         var kernel = p.createKernel("twice");
         var out = context.createBuffer(Double.BYTES);
         var arena = Arena.ofConfined()) {
      kernel.setArg(0, out).setArg(1, Math.PI);
      queue.dispatch(kernel, 1, 0);
      var seg = arena.allocate(Double.BYTES);
      out.read(queue, 0, seg);
      assertEquals(2.0 * Math.PI, seg.get(ValueLayout.JAVA_DOUBLE, 0));
    }
  }

  @Test
  void unknownKernelNameIsNamed() {
    var e = assertThrows(ClException.class, () -> program.createKernel("no_such_kernel"));
    assertEquals(ClStatus.CL_INVALID_KERNEL_NAME, e.status().orElseThrow(), e.getMessage());
    assertTrue(e.getMessage().contains("'no_such_kernel'"), e.getMessage());
  }

  @Test
  void buildErrorCarriesTheLogLineOfTheError() {
    var source = """
        __kernel void broken(__global float* out) {
          out[get_global_id(0)] = undefined_thing + 1.0f;
        }
        """;
    var e = assertThrows(ClBuildException.class, () -> context.buildProgram(source, "-DFOO=1"));
    System.out.println("build error: " + e.getMessage());
    assertEquals(ClStatus.CL_BUILD_PROGRAM_FAILURE, e.status().orElseThrow());
    var errorLine = e.buildLog().lines().filter(l -> l.contains("error") && l.contains("undefined_thing"))
        .findFirst();
    assertTrue(errorLine.isPresent(), "no error line in the log:\n" + e.buildLog());
    assertTrue(e.getMessage().contains(errorLine.get()), e.getMessage());
    assertTrue(e.getMessage().contains("options '-DFOO=1'"), e.getMessage());
    assertTrue(e.getMessage().startsWith("clBuildProgram failed: CL_BUILD_PROGRAM_FAILURE (-11) while building"),
        e.getMessage());
  }

  @Test
  void invalidBuildOptionIsACleanException() {
    var e = assertThrows(ClBuildException.class,
        () -> context.buildProgram("__kernel void k() {}", "-Dfoo=bar -cl-invalid-option"));
    System.out.println("invalid option: " + e.getMessage());
    // The specification says CL_INVALID_BUILD_OPTIONS; some drivers hand the options to their compiler
    // and report its complaint as a failed build instead.
    assertTrue(List.of(ClStatus.CL_INVALID_BUILD_OPTIONS, ClStatus.CL_BUILD_PROGRAM_FAILURE)
        .contains(e.status().orElseThrow()), e.getMessage());
    assertTrue(e.getMessage().contains(e.codeName()), e.getMessage());
  }

  @Test
  void binaryRoundTrip() {
    long seed = System.nanoTime();
    var x = randomFloats(seed, N);
    var y = randomFloats(seed + 1, N);
    var binary = program.binary();
    assertTrue(binary.length > 0);
    try (var loaded = context.loadProgram(binary, "")) {
      assertBitsEqual(run(program, "saxpy", 3.0f, x, y, N, 0), run(loaded, "saxpy", 3.0f, x, y, N, 0),
          "saxpy from binary, seed " + seed);
    }
    var garbage = new byte[] {1, 2, 3, 4, 5, 6, 7, 8};
    var e = assertThrows(ClException.class, () -> context.loadProgram(garbage, ""));
    System.out.println("garbage binary: " + e.getMessage());
  }

  @Test
  void eventProfiling() {
    try (var kernel = program.createKernel("add"); var a = context.createBuffer((long) N * Float.BYTES)) {
      a.fill(queue, 1f);
      kernel.setArg(0, N).setArg(1, a).setArg(2, a).setArg(3, a);
      try (var event = queue.launch(kernel, N, 0)) {
        long start = event.startNanos();
        long end = event.endNanos();
        assertTrue(start > 0, "start " + start);
        assertTrue(end >= start, "end " + end + " < start " + start);
        assertEquals(end - start, event.elapsedNanos());
        System.out.printf("add over %d floats: %.3f ms on the device%n", N, event.elapsedNanos() / 1e6);
      }
      var out = a.readFloats(queue);
      assertEquals(2f, out[0]);
      assertEquals(2f, out[N - 1]);
    }
  }

  /** The OpenCL 1.2 path ({@code clCreateCommandQueue}), taken here on a 2.0+ driver: profiling still on. */
  @Test
  void legacyQueueCreation() {
    try (var legacy = ClQueue.create(context, false);
         var kernel = program.createKernel("add");
         var a = context.createBuffer(256 * Float.BYTES)) {
      a.fill(legacy, 3f);
      kernel.setArg(0, 256).setArg(1, a).setArg(2, a).setArg(3, a);
      try (var event = legacy.launch(kernel, 256, 0)) {
        assertTrue(event.endNanos() >= event.startNanos());
      }
      assertEquals(6f, a.readFloats(legacy)[255]);
    }
  }

  @Test
  void launchArgumentsAreChecked() {
    try (var kernel = program.createKernel("add")) {
      assertThrows(IllegalArgumentException.class, () -> queue.launch(kernel, 0, 0));
      assertThrows(IllegalArgumentException.class, () -> queue.launch(kernel, new long[] {1, 2, 3, 4}, null));
      assertThrows(IllegalArgumentException.class, () -> queue.launch(kernel, new long[] {8, 8}, new long[] {8}));
      // Arguments left unset: the driver refuses, and says which kernel.
      var e = assertThrows(ClException.class, () -> queue.dispatch(kernel, 64, 0));
      assertEquals(ClStatus.CL_INVALID_KERNEL_ARGS, e.status().orElseThrow(), e.getMessage());
      assertTrue(e.getMessage().contains("'add'"), e.getMessage());
    }
    assertEquals(1_000_064, ClQueue.roundUp(N, 64));
    assertEquals(64, ClQueue.roundUp(64, 64));
  }
}
