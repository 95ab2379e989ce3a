package dev.optc.runtime.cuda;

import static dev.optc.runtime.cuda.CuFixture.assertBitsEqual;
import static dev.optc.runtime.cuda.CuFixture.randomFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The driver API on a real GPU, against the Java reference: fresh random inputs, an odd (prime) size,
 * poisoned outputs. Skipped, with the reason, where there is no driver or GPU.
 */
class CuDriverTest {

  /** Prime, so no block size divides it. */
  private static final int N = 1_000_003;

  /** Hand-written PTX (ISA 7.0, so any driver since CUDA 11.0 JITs it): out[i] = i * scale for i < n. */
  static final String IOTA_PTX = """
      .version 7.0
      .target sm_52
      .address_size 64

      .visible .entry iota_scaled(
          .param .u64 out,
          .param .u32 n,
          .param .u32 scale
      )
      {
          .reg .pred %p<2>;
          .reg .b32 %r<8>;
          .reg .b64 %rd<5>;

          ld.param.u64 %rd1, [out];
          ld.param.u32 %r1, [n];
          ld.param.u32 %r6, [scale];
          mov.u32 %r2, %ctaid.x;
          mov.u32 %r3, %ntid.x;
          mov.u32 %r4, %tid.x;
          mad.lo.s32 %r5, %r2, %r3, %r4;
          setp.ge.s32 %p1, %r5, %r1;
          @%p1 bra DONE;
          cvta.to.global.u64 %rd2, %rd1;
          mul.wide.s32 %rd3, %r5, 4;
          add.s64 %rd4, %rd2, %rd3;
          mul.lo.s32 %r7, %r5, %r6;
          st.global.u32 [%rd4], %r7;
      DONE:
          ret;
      }
      """;

  private static CuDevice device;
  private static CuContext context;

  /** Per test, not per class, so that each test reports the skip and its reason. */
  @BeforeEach
  void open() {
    device = CuFixture.device();
    if (context == null) {
      context = device.primaryContext();
    }
  }

  @AfterAll
  static void close() {
    if (context != null) {
      context.close();
      context = null;
    }
  }

  @Test
  void devicesDescribeThemselves() {
    var devices = Cuda.devices();
    assertFalse(devices.isEmpty());
    for (int i = 0; i < devices.size(); i++) {
      var d = devices.get(i);
      assertEquals(i, d.ordinal());
      assertFalse(d.name().isBlank());
      assertTrue(d.multiprocessorCount() > 0, d + " SMs");
      assertTrue(d.computeCapabilityMajor() >= 3, d + " cc " + d.computeCapability());
      assertEquals("sm_" + d.computeCapabilityMajor() + d.computeCapabilityMinor(), d.arch());
      assertTrue(d.maxThreadsPerBlock() >= 512, d + " threads " + d.maxThreadsPerBlock());
      assertEquals(32, d.warpSize());
      assertTrue(d.totalMemory() > 1L << 30, d + " memory " + d.totalMemory());
    }
    assertTrue(Cuda.driverVersion() >= 11000, "driver " + Cuda.driverVersion());
    assertTrue(Cuda.unavailableReason().startsWith("CUDA is available: driver "), Cuda.unavailableReason());
  }

  @Test
  void bufferRoundTripsAtByteOffsets() {
    long seed = System.nanoTime();
    var data = randomFloats(seed, 1001);
    try (var buffer = context.allocate(4L * 2000)) {
      buffer.fill(Float.NaN);
      buffer.write(4L * 17, data);
      var back = buffer.readFloats();
      for (int i = 0; i < 2000; i++) {
        float expected = i >= 17 && i < 17 + data.length ? data[i - 17] : Float.NaN;
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(back[i]), "element " + i);
      }
      var part = new float[5];
      buffer.read(4L * 20, part);
      assertArrayEquals(new float[] {data[3], data[4], data[5], data[6], data[7]}, part);
      // A native segment goes straight through, without staging.
      try (var arena = Arena.ofConfined()) {
        var native_ = arena.allocateFrom(ValueLayout.JAVA_INT, 1, 2, 3);
        buffer.write(0, native_);
        var out = arena.allocate(ValueLayout.JAVA_INT, 3);
        buffer.read(0, out);
        assertArrayEquals(new int[] {1, 2, 3}, out.toArray(ValueLayout.JAVA_INT));
      }
      assertThrows(IndexOutOfBoundsException.class, () -> buffer.write(4L * 1999, new float[2]));
    }
  }

  @Test
  void fillCopyAndWrap() {
    try (var a = context.allocate(4096); var b = context.allocate(8192)) {
      a.fill32(0x7FC00001);
      b.fill32(0);
      a.copyTo(0, b, 1024, 4096);
      var ints = new int[2048];
      b.read(0, ints);
      for (int i = 0; i < ints.length; i++) {
        assertEquals(i >= 256 && i < 1280 ? 0x7FC00001 : 0, ints[i], "word " + i);
      }
      b.fill32(4, 2, 42);
      var head = new int[4];
      b.read(0, head);
      assertArrayEquals(new int[] {0, 42, 42, 0}, head);
      // A wrapper reads and writes the same memory and frees nothing when closed.
      try (var view = context.wrap(a.pointer(1024), 1024)) {
        assertFalse(view.isOwned());
        view.write(0, new int[] {7});
      }
      var word = new int[1];
      a.read(1024, word);
      assertEquals(7, word[0]);
    }
  }

  @Test
  void jitFromHandWrittenPtxAndLaunch() {
    try (var module = context.loadModule(IOTA_PTX); var out = context.allocate(4L * N);
         var stream = context.createStream()) {
      out.fill32(-1);
      var kernel = module.function("iota_scaled");
      kernel.launch1d(stream, N, 256, out, N, 3);
      stream.synchronize();
      var ints = new int[N];
      out.read(0, ints);
      for (int i = 0; i < N; i++) {
        assertEquals(i * 3, ints[i], "element " + i);
      }
      kernel.parameterSizes().ifPresent(sizes -> assertEquals(List.of(8L, 4L, 4L), sizes));
    }
  }

  @Test
  void argumentMismatchesAreCaughtWhereTheDriverDescribesParameters() {
    try (var module = context.loadModule(IOTA_PTX); var out = context.allocate(64)) {
      var kernel = module.function("iota_scaled");
      if (kernel.parameterSizes().isEmpty()) {
        return; // a driver before 12.4: nothing to check against
      }
      var few = assertThrows(IllegalArgumentException.class,
          () -> kernel.launch(null, Dim3.of(1), Dim3.of(16), out, 16));
      assertTrue(few.getMessage().contains("takes 3 arguments, not 2"), few.getMessage());
      var wide = assertThrows(IllegalArgumentException.class,
          () -> kernel.launch(null, Dim3.of(1), Dim3.of(16), out, 16L, 3));
      assertTrue(wide.getMessage().contains("argument 1"), wide.getMessage());
    }
  }

  @Test
  void badPtxThrowsWithTheJitLog() {
    var bad = IOTA_PTX.replace("mul.lo.s32 %r7, %r5, %r6;", "mul.lo.s32 %r7, %r5, %r99;");
    var e = assertThrows(CuException.class, () -> context.loadModule(bad));
    assertEquals("cuModuleLoadDataEx", e.call());
    assertEquals(CuStatus.CUDA_ERROR_INVALID_PTX, e.status().orElseThrow());
    assertTrue(e.getMessage().contains("%r99"), e.getMessage());
    assertTrue(e.log().contains("%r99"), e.log());
  }

  @Test
  void unknownKernelNameIsNamed() {
    try (var module = context.loadModule(IOTA_PTX)) {
      var e = assertThrows(CuException.class, () -> module.function("no_such_kernel"));
      assertEquals(CuStatus.CUDA_ERROR_NOT_FOUND, e.status().orElseThrow());
      assertTrue(e.getMessage().contains("'no_such_kernel'"), e.getMessage());
    }
  }

  @Test
  void saxpyCompiledByNvrtcMatchesJavaExactly() {
    var arch = CuFixture.architectureFor(device);
    long seed = System.nanoTime();
    var x = randomFloats(seed, N);
    var y = randomFloats(seed + 1, N);
    float alpha = 0.37f;
    var expected = new float[N];
    for (int i = 0; i < N; i++) {
      expected[i] = alpha * x[i] + y[i];
    }
    var ptx = Nvrtc.compile(NvrtcTest.SAXPY, "saxpy.cu", List.of("--fmad=false", arch));
    try (var module = context.loadModule(ptx);
         var bx = context.allocate(4L * N);
         var by = context.allocate(4L * N);
         var out = context.allocate(4L * N);
         var stream = context.createStream();
         var start = context.createEvent();
         var end = context.createEvent()) {
      bx.write(0, x);
      by.write(0, y);
      out.fill(Float.NaN);
      start.record(stream);
      module.function("saxpy").launch1d(stream, N, 256, N, alpha, bx, by, out);
      end.record(stream);
      float ms = CuEvent.elapsedMillis(start, end);
      assertTrue(ms >= 0 && ms < 10_000, "elapsed " + ms + " ms");
      assertBitsEqual(expected, out.readFloats(), "saxpy on " + device + ", seed " + seed);
    }
  }

  @Test
  void halfKernelFromNvrtcRuns() {
    var arch = CuFixture.architectureFor(device);
    var ptx = Nvrtc.compile(NvrtcTest.HALF, "half.cu", List.of("--fmad=false", arch));
    int n = 1000;
    var halves = new short[n];
    for (int i = 0; i < n; i++) {
      halves[i] = Float.floatToFloat16(i * 0.5f);
    }
    try (var module = context.loadModule(ptx); var v = context.allocate(2L * n)) {
      v.write(0, java.lang.foreign.MemorySegment.ofArray(halves));
      module.function("scale_half").launch1d(null, n, 128, n, 2.0f, v);
      var back = new short[n];
      v.read(0, java.lang.foreign.MemorySegment.ofArray(back));
      for (int i = 0; i < n; i++) {
        assertEquals(Float.floatToFloat16(i * 1.0f), back[i], "element " + i);
      }
    }
  }

  @Test
  void contextClosedFirstStaysUsableUntilItsObjectsAreClosed() {
    var own = device.primaryContext();
    var buffer = own.allocate(16);
    own.close();
    assertTrue(own.isClosed());
    buffer.write(0, new float[] {1, 2, 3, 4});
    assertArrayEquals(new float[] {1, 2, 3, 4}, buffer.readFloats());
    assertThrows(IllegalStateException.class, () -> own.allocate(16));
    buffer.close();
    assertThrows(IllegalStateException.class, buffer::readFloats);
    buffer.close(); // idempotent
    // The shared context of the other tests is unaffected: the primary context is reference counted.
    try (var other = context.allocate(16)) {
      other.fill32(1);
    }
  }

  @Test
  void launchChecksBlockSizeAgainstTheDevice() {
    try (var module = context.loadModule(IOTA_PTX); var out = context.allocate(64)) {
      var kernel = module.function("iota_scaled");
      var e = assertThrows(IllegalArgumentException.class,
          () -> kernel.launch(null, Dim3.of(1), Dim3.of(device.maxThreadsPerBlock() + 1), out, 16, 1));
      assertTrue(e.getMessage().contains("threads"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> kernel.launch(null, Dim3.of(1), Dim3.of(1), new Object()));
    }
  }
}
