package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Library;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.device.KernelEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * NVRTC compiles CUDA C++ to PTX without a GPU or driver; skipped, saying how to get NVRTC, where it is
 * not found (set OPTC_NVRTC to point at it).
 */
class NvrtcTest {

  static final String SAXPY = """
      extern "C" __global__ void saxpy(const int n, const float alpha, const float* __restrict__ x,
                                       const float* __restrict__ y, float* __restrict__ out) {
        const int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          out[i] = alpha * x[i] + y[i];
        }
      }
      """;

  static final String HALF = """
      #include <cuda_fp16.h>
      extern "C" __global__ void scale_half(const int n, const float alpha, __half* __restrict__ v) {
        const int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          v[i] = __float2half_rn(alpha * __half2float(v[i]));
        }
      }
      """;

  /** Per test, not per class, so that each test reports the skip and its reason. */
  @BeforeEach
  void nvrtc() {
    CuFixture.requireNvrtc();
  }

  @Test
  void reportsItsVersionAndArchitectures() {
    var v = Nvrtc.version();
    assertTrue(v.major() >= 11, "version " + v);
    var archs = Nvrtc.supportedArchitectures();
    assertTrue(!archs.isEmpty(), "archs " + archs);
    assertEquals(archs.stream().sorted().toList(), archs);
    assertTrue(Nvrtc.unavailableReason().startsWith("NVRTC is available: "), Nvrtc.unavailableReason());
    assertTrue(Nvrtc.unavailableReason().contains("(" + v + ")"), Nvrtc.unavailableReason());
  }

  @Test
  void compilesSaxpyToPtx() {
    var ptx = Nvrtc.compile(SAXPY, "saxpy.cu", List.of("--fmad=false"));
    assertTrue(ptx.contains(".entry saxpy("), ptx);
    assertTrue(ptx.contains(".version "), ptx);
    // --fmad=false keeps a*x + y as a rounded multiply and a rounded add: no fma in the PTX.
    assertTrue(ptx.contains("mul.rn.f32") && ptx.contains("add.rn.f32"), ptx);
    assertTrue(!ptx.contains("fma.rn.f32"), ptx);
  }

  @Test
  void compilesAKernelThatIncludesCudaFp16() {
    var result = Nvrtc.compileWithLog(HALF, "half.cu", List.of("--fmad=false", "--gpu-architecture=compute_75"));
    assertTrue(result.ptx().contains(".entry scale_half("), result.ptx());
    // NVRTC 13.0 has no built-in cuda_fp16.h: the toolkit's include directory must have been added.
    Nvrtc.includeDirectory().ifPresent(dir -> assertTrue(Files.isRegularFile(dir.resolve("cuda_fp16.h")), "" + dir));
  }

  @Test
  void aSyntaxErrorThrowsWithTheCompilerLog() {
    var source = """
        extern "C" __global__ void broken(float* x) {
          x[0] = 1 }
        """;
    var e = assertThrows(NvrtcException.class, () -> Nvrtc.compile(source, "broken.cu", List.of("--fmad=false")));
    assertEquals(NvrtcStatus.NVRTC_ERROR_COMPILATION, e.nvrtcStatus().orElseThrow());
    assertEquals("nvrtcCompileProgram", e.call());
    assertTrue(e.getMessage().startsWith("nvrtcCompileProgram failed: NVRTC_ERROR_COMPILATION (6) while compiling"
        + " broken.cu with [--fmad=false]; log:\n"), e.getMessage());
    // The compiler's own line, file and line number included.
    assertTrue(e.getMessage().contains("broken.cu(2): error: expected a \";\""), e.getMessage());
    assertTrue(e.log().contains("error: expected a \";\""), e.log());
  }

  @Test
  void aBadOptionIsNamed() {
    var e = assertThrows(NvrtcException.class,
        () -> Nvrtc.compile(SAXPY, "saxpy.cu", List.of("--no-such-option")));
    assertEquals(NvrtcStatus.NVRTC_ERROR_INVALID_OPTION, e.nvrtcStatus().orElseThrow());
    assertTrue(e.getMessage().contains("--no-such-option"), e.getMessage());
  }

  @Test
  void architectureOptionPicksTheNewestNotNewerThanTheDevice() {
    var archs = Nvrtc.supportedArchitectures();
    int newest = archs.getLast();
    assertEquals("--gpu-architecture=compute_" + newest, Nvrtc.architectureOption(99, 9));
    int oldest = archs.getFirst();
    assertEquals("--gpu-architecture=compute_" + oldest, Nvrtc.architectureOption(oldest / 10, oldest % 10));
    if (archs.contains(90)) {
      assertEquals("--gpu-architecture=compute_90", Nvrtc.architectureOption(9, 0));
    }
    var e = assertThrows(OptcException.class, () -> Nvrtc.architectureOption(1, 0));
    assertTrue(e.getMessage().contains("cannot target sm_10"), e.getMessage());
  }

  /**
   * What optc generates compiles with NVRTC as a CUDA backend will run it: every library optimizer and
   * every golden program, at every fusion level, with --fmad=false, the text being what a device of 1,024
   * threads per block builds ({@code CudaBackend.defaultConfig}).
   */
  @TestFactory
  Stream<DynamicTest> everyGeneratedProgramCompiles() throws Exception {
    var programs = new ArrayList<OptProgram>();
    for (var name : Library.NAMES) {
      programs.add(OptProgram.load(name));
    }
    try (var files = Files.list(Path.of("../compiler/src/test/resources/golden"))) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        programs.add(OptProgram.compile(SourceFile.of(f.getFileName().toString(), Files.readString(f)),
            Pipeline.Options.DEFAULT));
      }
    }
    var arch = Nvrtc.supportedArchitectures().contains(90) ? "--gpu-architecture=compute_90" : "";
    var options = arch.isEmpty() ? List.of("--fmad=false") : List.of("--fmad=false", arch);
    var tests = new ArrayList<DynamicTest>();
    for (var program : programs) {
      for (var fusion : Fusion.values()) {
        tests.add(DynamicTest.dynamicTest(program.name() + " " + fusion.label(), () -> {
          var source = KernelEngine.source(Planner.plan(program.ir(), fusion), CudaBackend.defaultConfig(1024)).text();
          var ptx = Nvrtc.compile(source, program.name() + ".cu", options);
          // The first phase's kernel: NAME_phase0, or NAME_phase0_rows for a row-wise one.
          assertTrue(ptx.contains(".entry " + program.name() + "_phase0"),
              () -> "no phase-0 entry in the PTX of " + program.name() + ":\n"
                  + ptx.substring(0, Math.min(2000, ptx.length())));
        }));
      }
    }
    return tests.stream();
  }
}
