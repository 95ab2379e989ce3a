package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Conformance;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.java.JavaBackend;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * CUDA keeps its arenas on the GPU: a framework's device pointers are adopted in place (as before native
 * arenas existed), and host-memory arenas and views are refused with what to do instead. Needs an NVIDIA
 * GPU with a driver and NVRTC; skipped, saying which is missing, elsewhere.
 */
class CudaArenasTest {
  static CudaBackend cuda;

  @BeforeAll
  static void device() {
    Assumptions.assumeTrue(Cuda.isAvailable(), Cuda.unavailableReason());
    Assumptions.assumeTrue(Nvrtc.isAvailable(), Nvrtc.unavailableReason());
    cuda = CudaBackend.select("");
  }

  @Test
  void adoptedDevicePointersAreUsedInPlace() throws Exception {
    long seed = System.nanoTime();
    var program = OptProgram.load("adam");
    var r = new Random(seed);
    var tensors = Conformance.tensors(r, new long[][] {{37}, {4, 9}}, "t");
    var grads = Conformance.tensors(r, new long[][] {{73}}, "g").getFirst().weights();
    float[] want;
    try (var opt = Optimizer.builder(program).backend(new JavaBackend(JavaEmitter.Precision.F32, 2))
        .group(Map.of(), tensors).build()) {
      opt.setGrad("t0", java.util.Arrays.copyOfRange(grads, 0, 37));
      opt.setGrad("t1", java.util.Arrays.copyOfRange(grads, 37, 73));
      opt.step();
      want = opt.weights("t1");
    }
    try (var context = cuda.device().primaryContext(); var callers = context.allocate(4L * grads.length);
        var opt = Optimizer.builder(program).backend(cuda).group(Map.of(), tensors).build()) {
      callers.write(0, grads);
      ((CudaEngine) opt.engine()).adopt("g", callers.pointer(), 4L * grads.length);
      opt.step();
      var got = opt.weights("t1");
      var result = Conformance.compare(new float[][] {want}, new float[][] {got}, null, false);
      assertTrue(result.ok(), "seed " + seed + ": " + result.mismatch());
      var back = new float[grads.length];
      callers.read(0, back);
      assertArrayEquals(grads, back, "the caller's gradients are only read");
    }
  }

  @Test
  void hostArenasAndViewsAreRefusedWithTheAlternative() throws Exception {
    var program = OptProgram.load("sgd");
    var params = List.of(new Optimizer.Param("p", 10));
    var e = assertThrows(OptcException.class, () -> Optimizer.builder(program).backend(cuda).arenas(Arenas.NATIVE)
        .params(Map.of(), params).build());
    assertTrue(e.getMessage().contains("adopt"), e.getMessage());
    try (var opt = Optimizer.builder(program).backend(cuda).fusion(Fusion.FULL).params(Map.of(), params).build()) {
      e = assertThrows(OptcException.class, () -> opt.view("p"));
      assertTrue(e.getMessage().contains("not host memory"), e.getMessage());
    }
  }
}
