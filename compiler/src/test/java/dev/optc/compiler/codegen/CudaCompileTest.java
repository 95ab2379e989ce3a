package dev.optc.compiler.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.codegen.c.CEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Without a GPU, the generated CUDA C is still checked by the real compiler: every library optimizer and
 * every golden program at every fusion level goes through {@code nvcc -ptx -arch=sm_90} (no driver is
 * needed to compile). Skipped, saying so, where nvcc is not installed.
 */
class CudaCompileTest {

  static Path nvcc() {
    var env = System.getenv("OPTC_NVCC");
    for (var c : List.of(env == null ? "" : env, "/usr/local/cuda/bin/nvcc", "/usr/bin/nvcc")) {
      if (!c.isEmpty() && Files.isExecutable(Path.of(c))) {
        return Path.of(c);
      }
    }
    return null;
  }

  @Test
  void everyProgramCompilesWithNvcc(@TempDir Path dir) throws Exception {
    var nvcc = nvcc();
    Assumptions.assumeTrue(nvcc != null, "nvcc not found (looked at $OPTC_NVCC, /usr/local/cuda/bin/nvcc, "
        + "/usr/bin/nvcc): the CUDA C is checked only where the CUDA toolkit is installed");
    var files = new ArrayList<String>();
    for (var c : GoldenTest.cases()) {
      var program = Compiler.compile(SourceFile.of(c.name() + ".opt", c.text()), Pipeline.Options.DEFAULT);
      for (var fusion : Fusion.values()) {
        var source = CEmitter.emit(Planner.plan(program, fusion), GoldenTest.CUDA).source();
        var file = dir.resolve(c.name() + "_" + fusion.label() + ".cu");
        Files.writeString(file, source);
        files.add(file.getFileName().toString());
      }
    }
    // One nvcc run for all files: its start-up dominates the time of each small compile.
    var command = new ArrayList<>(List.of(nvcc.toString(), "-ptx", "-arch=sm_90", "--fmad=false",
        "-diag-suppress", "177"));
    command.addAll(files);
    var process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
    var output = new String(process.getInputStream().readAllBytes());
    assertTrue(process.waitFor(10, TimeUnit.MINUTES), "nvcc did not finish");
    assertEquals(0, process.exitValue(), "nvcc failed:\n" + output);
    for (var f : files) {
      var ptx = dir.resolve(f.replace(".cu", ".ptx"));
      assertTrue(Files.size(ptx) > 0, "no PTX for " + f);
    }
  }
}
