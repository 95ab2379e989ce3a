package dev.optc.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plain-Java training loop of {@code examples/training/TrainLoop.java} compiles against the public API and
 * does what it says: a run resumed from its halfway checkpoint ends with weights bit-identical to the straight run
 * (60 steps here; the example's own default is 400).
 */
class ExampleTest {
  static final Path EXAMPLE = Path.of("../examples/training/TrainLoop.java");

  @TempDir
  Path classes;

  @Test
  void theTrainingLoopExampleResumesBitIdentically() throws Exception {
    Torch.assumeLoaded();
    assertTrue(Files.isRegularFile(EXAMPLE), EXAMPLE.toAbsolutePath() + " is missing");
    var javac = ToolProvider.getSystemJavaCompiler();
    assertNotNull(javac, "a JDK runs the tests");
    var errors = new ByteArrayOutputStream();
    int rc = javac.run(null, null, errors, "-d", classes.toString(), "-cp", System.getProperty("java.class.path"),
        EXAMPLE.toString());
    assertEquals(0, rc, () -> "the example does not compile:\n" + errors.toString(StandardCharsets.UTF_8));
    var out = new ByteArrayOutputStream();
    var stdout = System.out;
    try (var loader = new URLClassLoader(new java.net.URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      loader.loadClass("TrainLoop").getMethod("main", String[].class).invoke(null, (Object) new String[] {"60"});
    } finally {
      System.setOut(stdout);
    }
    var text = out.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("resumed weights are bit-identical to the straight run's"), text);
    // Both runs print the same last evaluation line.
    var last = text.lines().filter(l -> l.startsWith("  step   60")).toList();
    assertEquals(2, last.size(), text);
    assertEquals(last.get(0), last.get(1), text);
    assertTrue(List.of(text.split("\n")).size() > 4, text);
  }
}
