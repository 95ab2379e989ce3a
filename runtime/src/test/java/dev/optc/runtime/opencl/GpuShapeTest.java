package dev.optc.runtime.opencl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.BackendComparison;
import dev.optc.runtime.Layout;
import dev.optc.runtime.MatrixView;
import dev.optc.runtime.OptProgram;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The kernel structure the CUDA backend runs, checked on PoCL where no GPU is: 256-wide work-groups,
 * 4,096-element chunks, quads with 16-byte accesses in elementwise phases, and only 3 work-groups per
 * launch, so every group strides over many chunks (the grid a GPU gets is sized from its SM count, and
 * is usually smaller than the chunk list too). Same inputs, poisoning and tolerances as
 * {@link OpenClVsJavaTest}; tensor sizes are odd, so segments start at every offset modulo 4 and quads are
 * cut at both ends of tensors and chunks.
 */
class GpuShapeTest {
  static OpenClBackend shaped;

  @BeforeAll
  static void device() {
    if ("true".equals(System.getenv("CI"))) {
      assertTrue(OpenCl.isAvailable(), "CI has no OpenCL device: " + OpenCl.unavailableReason());
    }
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var device = OpenClBackend.select("");
    Assumptions.assumeTrue(device.device().maxWorkGroupSize() >= 256,
        "this OpenCL device cannot run 256-wide work-groups (max " + device.device().maxWorkGroupSize() + ")");
    shaped = device.with(device.config().withLocalSize(256).withVectorWidth(4), new OpenClBackend.Grid(4096, 3));
  }

  @TestFactory
  Stream<DynamicTest> libraryAtEveryFusionLevel() {
    return BackendComparison.library(shaped, 7, new long[][] {{0}, {1}, {7}, {13, 101}, {20_483}, {3, 1, 5}, {4}, {6}});
  }

  /** Reductions (partials per chunk, combined in order), row/column/scalar states, bf16/f16 states. */
  @TestFactory
  Stream<DynamicTest> multiPhasePrograms() {
    return BackendComparison.goldenPrograms(shaped, 5);
  }

  /** The elementwise kernels of AdamW, Lion and Adan take quads; a program with row states does not. */
  @Test
  void elementwisePhasesRunInQuads() throws Exception {
    var layout = new Layout(List.of(new Layout.Tensor("w", new long[] {10}, 0, MatrixView.of(new long[] {10}))), 1);
    for (var name : List.of("adamw", "lion", "adan")) {
      try (var engine = (OpenClEngine) shaped.open(OptProgram.load(name), layout, Fusion.FULL)) {
        assertTrue(engine.source().contains("optc_ld4(") && engine.source().contains("vload4("), name);
      }
    }
    try (var engine = (OpenClEngine) shaped.open(OptProgram.load("adafactor"), layout, Fusion.FULL)) {
      assertEquals(-1, engine.source().indexOf("optc_ld4(g"), "adafactor reads row and column factors");
    }
  }
}
