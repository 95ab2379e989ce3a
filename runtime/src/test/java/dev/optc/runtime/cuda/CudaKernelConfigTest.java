package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.device.KernelEngine;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * What a CUDA device builds, checked without one: the config is a function of the device's facts
 * ({@link CudaBackend#defaultConfig}), and the text is {@link KernelEngine#source} of that config, the
 * function both {@code CudaBackend.source} (what {@code optc emit --backend cuda} prints) and the engine's
 * build use. For a device of 1,024 threads per block (every GPU since Fermi) that text is the reviewed
 * golden {@code .cu} file; {@code NvrtcTest} compiles the same text with NVRTC where NVRTC is found.
 */
class CudaKernelConfigTest {
  static final Path GOLDEN = Path.of("../compiler/src/test/resources/golden");

  @Test
  void configFollowsTheDevicesBlockLimit() {
    var config = CudaBackend.defaultConfig(1024);
    assertEquals(new KernelConfig(Dialect.CUDA, 256, Accumulation.DOUBLE, 4), config);
    assertEquals(KernelConfig.of(Dialect.CUDA, 256), config, "the dialect's policy: double sums, quads");
    assertEquals(128, CudaBackend.defaultConfig(128).localSize());
    assertEquals(64, CudaBackend.defaultConfig(100).localSize(), "a power of two");
  }

  @TestFactory
  Stream<DynamicTest> aGpusSourceIsTheGoldenCudaFile() throws Exception {
    try (var files = Files.list(GOLDEN)) {
      var names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cu"))
          .map(n -> n.substring(0, n.length() - 3)).sorted().toList();
      return names.stream().map(name -> DynamicTest.dynamicTest(name, () -> {
        var opt = GOLDEN.resolve(name + ".opt");
        var program = Files.exists(opt)
            ? OptProgram.compile(SourceFile.of(name + ".opt", Files.readString(opt)), Pipeline.Options.DEFAULT)
            : OptProgram.load(name);
        var source = KernelEngine.source(Planner.plan(program.ir(), Fusion.FULL), CudaBackend.defaultConfig(1024));
        assertEquals(name + ".cu", source.path());
        assertEquals(Files.readString(GOLDEN.resolve(name + ".cu")), source.text());
      }));
    }
  }
}
