package dev.optc.runtime.opencl;

import static dev.optc.runtime.opencl.ClFixture.assertBitsEqual;
import static dev.optc.runtime.opencl.ClFixture.assertReferenceCountSettles;
import static dev.optc.runtime.opencl.ClFixture.randomFloats;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ClBufferTest {

  private ClDevice device;
  private ClContext context;
  private ClQueue queue;

  @BeforeEach
  void open() {
    device = ClFixture.device();
    context = ClContext.create(device);
    queue = context.createQueue();
  }

  @AfterEach
  void close() {
    if (queue != null) {
      queue.close();
    }
    if (context != null) {
      context.close();
    }
  }

  @Test
  void writeReadFillCopyAtOffsets() {
    int n = 10_007;
    var data = randomFloats(System.nanoTime(), n);
    try (var a = context.createBuffer((long) n * Float.BYTES);
         var b = context.createBuffer((long) n * Float.BYTES);
         var arena = Arena.ofConfined()) {
      assertEquals((long) n * Float.BYTES, a.size());
      a.write(queue, 0, data);
      assertBitsEqual(data, a.readFloats(queue), "round trip");

      // A native segment goes straight to the driver; a heap one is staged.
      var nativeSeg = arena.allocateFrom(ValueLayout.JAVA_FLOAT, 1f, 2f, 3f);
      a.write(queue, 4L * Float.BYTES, nativeSeg);
      a.write(queue, 100L * Float.BYTES, MemorySegment.ofArray(new float[] {7f, 8f}));
      var part = new float[6];
      a.read(queue, 3L * Float.BYTES, part);
      assertBitsEqual(new float[] {data[3], 1f, 2f, 3f, data[7], data[8]}, part, "partial write");
      var nativeOut = arena.allocate(2 * Float.BYTES);
      a.read(queue, 100L * Float.BYTES, nativeOut);
      assertBitsEqual(new float[] {7f, 8f}, nativeOut.toArray(ValueLayout.JAVA_FLOAT), "native read");

      b.fill(queue, Float.NaN);
      for (float f : b.readFloats(queue)) {
        assertTrue(Float.isNaN(f));
      }
      b.fill(queue, 8, 16, arena.allocateFrom(ValueLayout.JAVA_INT, 0x3f800000)); // 1.0f
      var head = new float[8];
      b.read(queue, 0, head);
      assertBitsEqual(new float[] {Float.NaN, Float.NaN, 1f, 1f, 1f, 1f, Float.NaN, Float.NaN}, head, "pattern fill");

      a.copyTo(queue, b);
      a.copyTo(queue, 0, b, 8, 4); // b[2] = a[0]
      var expected = a.readFloats(queue);
      expected[2] = expected[0];
      assertBitsEqual(expected, b.readFloats(queue), "copy");

      assertThrows(IndexOutOfBoundsException.class, () -> a.write(queue, a.size() - 4, new float[2]));
      assertThrows(IndexOutOfBoundsException.class, () -> a.read(queue, -4, new float[1]));
      assertThrows(IllegalArgumentException.class, () -> b.fill(queue, 2, 8, arena.allocate(4)));
    }
  }

  @Test
  void allocationBeyondTheDeviceLimitIsNamedAndTheContextStaysUsable() {
    long tooBig = device.maxMemAllocSize() + 1;
    var e = assertThrows(ClException.class, () -> context.createBuffer(tooBig));
    System.out.println("over-allocation: " + e.getMessage());
    assertEquals("clCreateBuffer", e.call());
    assertEquals(ClStatus.CL_INVALID_BUFFER_SIZE, e.status().orElseThrow(), e.getMessage());
    assertTrue(e.getMessage().contains("allocating " + tooBig + " bytes on " + device.name()), e.getMessage());

    try (var ok = context.createBuffer(1024)) {
      ok.fill(queue, 42f);
      assertEquals(42f, ok.readFloats(queue)[255]);
    }
    assertThrows(IllegalArgumentException.class, () -> context.createBuffer(0));
  }

  @Test
  void wrappingRetainsAndReleasesOnlyItsOwnReference() {
    var data = randomFloats(System.nanoTime(), 4096);
    try (var original = context.createBuffer(data.length * Float.BYTES)) {
      original.write(queue, 0, data);
      assertEquals(1, original.referenceCount());
      try (var wrapper = context.wrapBuffer(original.handle())) {
        assertTrue(wrapper.isWrapped());
        assertFalse(original.isWrapped());
        assertEquals(original.size(), wrapper.size());
        assertEquals(2, original.referenceCount());
        assertBitsEqual(data, wrapper.readFloats(queue), "through the wrapper");
        wrapper.fill(queue, 0, 4, MemorySegment.ofArray(new float[] {-1f}));
      }
      // The fill may still be in flight, holding the driver's own reference; closing the wrapper under
      // it is safe, and once the queue drains only the original's reference is left.
      queue.finish();
      assertReferenceCountSettles(1, original::referenceCount, "the original after its wrapper closed");
      data[0] = -1f;
      assertBitsEqual(data, original.readFloats(queue), "original after the wrapper closed");

      // A cl_mem of another context is refused, and the reference taken to inspect it is given back.
      try (var other = ClContext.create(device); var foreign = other.createBuffer(16)) {
        assertThrows(IllegalArgumentException.class, () -> context.wrapBuffer(foreign.handle()));
        assertEquals(1, foreign.referenceCount());
      }
    }
  }

  @Test
  void closedHandlesRefuseUseAndCloseIsIdempotent() {
    var b = context.createBuffer(64);
    b.close();
    b.close();
    assertTrue(b.isClosed());
    var e = assertThrows(IllegalStateException.class, () -> b.fill(queue, 0f));
    assertEquals("ClBuffer is already closed", e.getMessage());
  }

  /**
   * Every object holds a reference to its context in the driver (events: to their queue), so the
   * counts returning to where they were proves each one was released.
   */
  @Test
  void everyHandleIsReleased() {
    int baseline = context.referenceCount();
    var one = context.createBuffer(1 << 20);
    boolean countsBuffers = context.referenceCount() > baseline;
    System.out.println("context references: " + baseline + " alone, " + context.referenceCount()
        + " with one buffer open");
    one.close();
    assertReferenceCountSettles(baseline, context::referenceCount, "one buffer");

    for (int i = 0; i < 1000; i++) {
      try (var b = context.createBuffer(1 << 20)) {
        b.fill(queue, (float) i);
      }
    }
    queue.finish();
    assertReferenceCountSettles(baseline, context::referenceCount, "1000 buffers created and closed");

    var source = "__kernel void inc(__global float* a) { a[get_global_id(0)] += 1.0f; }";
    try (var buffer = context.createBuffer(256 * Float.BYTES)) {
      buffer.fill(queue, 0f);
      for (int i = 0; i < 20; i++) {
        try (var program = context.buildProgram(source, "");
             var kernel = program.createKernel("inc")) {
          kernel.setArg(0, buffer);
          for (int j = 0; j < 50; j++) {
            try (var event = queue.launch(kernel, 256, 0)) {
              event.waitFor();
            }
          }
        }
      }
      assertEquals(1000f, buffer.readFloats(queue)[255]);
    }
    // Events hold their queue (PoCL does), so a leaked event would keep this above 1.
    assertReferenceCountSettles(1, queue::referenceCount, "1000 events");
    try (var q2 = context.createQueue()) {
      q2.finish();
    }
    assertReferenceCountSettles(baseline, context::referenceCount, "20 programs, kernels and queues, 1000 events");
    if (!countsBuffers) {
      System.out.println("this driver does not count buffers on their context; the leak check proves less");
    }
  }
}
