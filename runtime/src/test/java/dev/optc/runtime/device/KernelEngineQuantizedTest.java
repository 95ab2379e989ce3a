package dev.optc.runtime.device;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Layout;
import dev.optc.runtime.MatrixView;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What a kernel engine decides about quantized states before it touches a device. */
class KernelEngineQuantizedTest {

  /** A device that has no double and must not be asked for anything past its config. */
  static final class NoFp64 implements DeviceOps<Object, Object> {
    int builds;

    @Override
    public KernelConfig config() {
      return KernelConfig.of(Dialect.OPENCL, 64);
    }

    @Override
    public int chunkSize() {
      return 64 * 16;
    }

    @Override
    public boolean fp64() {
      return false;
    }

    @Override
    public Object allocate(long bytes) {
      throw new AssertionError("allocated " + bytes + " bytes");
    }

    @Override
    public void release(Object buffer) {}

    @Override
    public void write(Object buffer, long byteOffset, MemorySegment src) {
      throw new AssertionError("wrote");
    }

    @Override
    public void read(Object buffer, long byteOffset, MemorySegment dst) {
      throw new AssertionError("read");
    }

    @Override
    public void fill(Object buffer, float value) {
      throw new AssertionError("filled");
    }

    @Override
    public void build(String source) {
      builds++;
    }

    @Override
    public Object kernel(String name) {
      throw new AssertionError("kernel " + name);
    }

    @Override
    public void releaseKernel(Object kernel) {}

    @Override
    public void launch(Object kernel, long workItems, int localSize, List<Object> args) {
      throw new AssertionError("launched");
    }

    @Override
    public void finish() {}
  }

  @Test
  void aDeviceWithoutDoubleRefusesQuantizedStatesInOneLine() throws Exception {
    var program = OptProgram.load("adamw8bit");
    var shape = new long[] {5000};
    var layout = new Layout(List.of(new Layout.Tensor("x", shape, 0, MatrixView.of(shape))), 1);
    var ops = new NoFp64();
    var e = assertThrows(OptcException.class, () -> new KernelEngine<>(ops, program, layout,
        Planner.plan(program.ir(), Fusion.FULL)) {});
    assertEquals("adamw8bit: quantized states (as q8, as q4) need double precision on the device for their exact "
        + "code search, and this device has none (cl_khr_fp64); use the java backend", e.getMessage());
    assertEquals(0, ops.builds, "refused before building");
  }
}
