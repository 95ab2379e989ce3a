package dev.optc.cli;

import static dev.optc.cli.CliTest.assertUsageError;
import static dev.optc.cli.CliTest.optc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.BackendProvider;
import dev.optc.runtime.Layout;
import dev.optc.runtime.MatrixView;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.cuda.Cuda;
import dev.optc.runtime.device.KernelEngine;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code optc emit OPT --backend B} prints exactly the source backend B builds on this machine: the text an
 * engine of B built is compared with what emit printed. OpenCL on this machine's device (PoCL here and in
 * CI; skipped, saying why, where there is none), Java through its generated class. CUDA has no device
 * here: {@code CudaKernelConfigTest} checks its config-to-text path without one.
 */
class EmitBackendTest {
  static final Layout ONE_TENSOR = new Layout(List.of(new Layout.Tensor("w", new long[] {10}, 0,
      MatrixView.of(new long[] {10}))), 1);

  @TempDir
  Path dir;

  /** Elementwise (adamw at every level), per-tensor sums (lamb), row and column sums (adafactor), group sums. */
  @TestFactory
  Stream<DynamicTest> openclPrintsWhatItsEngineBuilds() {
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var cases = new ArrayList<DynamicTest>();
    for (var fusion : Fusion.values()) {
      cases.add(openclCase("adamw", fusion));
    }
    for (var name : List.of("lamb", "adafactor", "adamw_clip")) {
      cases.add(openclCase(name, Fusion.FULL));
    }
    return cases.stream();
  }

  private static DynamicTest openclCase(String name, Fusion fusion) {
    return DynamicTest.dynamicTest(name + " " + fusion.label(), () -> {
      var printed = optc("emit", name, "--backend", "opencl", "--fusion", fusion.label());
      assertEquals(0, printed.code(), printed.toString());
      var backend = BackendProvider.forName("opencl", 1);
      try (var engine = (KernelEngine<?, ?>) backend.open(OptProgram.load(name), ONE_TENSOR, fusion)) {
        assertEquals(engine.source(), printed.out(), "emit --backend opencl prints what the engine built");
      }
    });
  }

  /** The device's own config, not emit's --target one: on PoCL 1-wide groups and double accumulation. */
  @Test
  void openclUsesTheDevicesConfigWhereTargetUsesTheGenericOne() throws IOException {
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var backend = OpenClBackend.select("");
    var config = backend.config();
    var printed = optc("emit", "lamb", "--backend", "opencl").out();
    assertTrue(printed.contains("#define OPTC_LOCAL " + config.localSize() + "\n"), printed);
    assertTrue(printed.contains("typedef " + config.accumulation().type() + " optc_acc_t;"), printed);
    assertEquals(config.quads(), printed.contains("optc_ld4("), printed);
    var target = optc("emit", "lamb", "--target", "opencl").out();
    assertTrue(target.contains("#define OPTC_LOCAL 256\n") && target.contains("typedef float optc_acc_t;"), target);
    // -o names the file as --target does, and holds what is printed.
    var r = optc("emit", "lamb", "--backend", "opencl", "-o", dir.toString());
    assertEquals(0, r.code(), r.toString());
    assertEquals(printed, Files.readString(dir.resolve("lamb" + Dialect.OPENCL.fileExtension())));
  }

  /** The Java backends compile the reference class that --target java prints, in their precision. */
  @Test
  void javaPrintsItsReferenceClass() {
    var f32 = optc("emit", "nadam", "--backend", "java", "--fusion", "statement");
    assertEquals(0, f32.code(), f32.toString());
    assertEquals(optc("emit", "nadam", "--target", "java", "--fusion", "statement").out(), f32.out());
    var f64 = optc("emit", "nadam", "--backend", "java64");
    assertEquals(optc("emit", "nadam", "--target", "java", "--precision", "f64").out(), f64.out());
  }

  @Test
  void backendErrorsAreOneLine() {
    assertUsageError(optc("emit", "adamw", "--backend", "nosuch"), false);
    assertUsageError(optc("emit", "adamw", "--backend", "opencl", "--target", "opencl"), false);
    assertUsageError(optc("emit", "adamw", "--backend", "java", "--local-size", "64"), false);
    assertUsageError(optc("emit", "adamw", "--backend", "java", "--precision", "f64"), false);
    if (!Cuda.isAvailable()) {
      var r = optc("emit", "adamw", "--backend", "cuda");
      assertUsageError(r, false);
      assertTrue(r.err().contains(Cuda.unavailableReason()), r.toString());
    }
  }

  /** Without --backend, --target keeps its generic kernels: 256-wide (or --local-size), float sums. */
  @Test
  void targetKeepsItsGenericConfig() {
    var cuda = optc("emit", "lamb", "--target", "cuda", "--local-size", "128").out();
    assertTrue(cuda.contains("#define OPTC_LOCAL 128\n") && cuda.contains("typedef float optc_acc_t;"), cuda);
    assertEquals(KernelConfig.of(Dialect.CUDA, 128).quads(), cuda.contains("optc_ld4("), cuda);
  }
}
