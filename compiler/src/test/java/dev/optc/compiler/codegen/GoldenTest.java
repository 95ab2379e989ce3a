package dev.optc.compiler.codegen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.codegen.c.CEmitter;
import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.ir.IrPrinter;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Golden files (google-java-format's testdata style): for every library optimizer and every
 * {@code golden/<case>.opt}, the optimized IR, the generated Java, OpenCL C and CUDA C must equal the
 * committed {@code golden/<case>.ir}, {@code .java}, {@code .cl} and {@code .cu}. Run with {@code -Dgolden.update=true} to rewrite them after
 * an intended change, then read the diff. That each generated class compiles
 * (float32 and float64) is the runtime's {@code GeneratedJavaCompilesTest}: javac lives there.
 */
class GoldenTest {
  static final Path DIR = Path.of("src/test/resources/golden");
  static final List<String> LIBRARY = List.of(
      "sgd", "adam", "adamw", "adagrad", "rmsprop", "nadam", "radam", "adamax", "adadelta", "lion", "adan",
      "adam_mini");
  static final boolean UPDATE = Boolean.getBoolean("golden.update");
  /** The goldens' configs: 256-wide work-groups, double accumulation, each dialect's vector width. */
  static final KernelConfig OPENCL = KernelConfig.of(Dialect.OPENCL, 256).withAccumulation(Accumulation.DOUBLE);
  static final KernelConfig CUDA = KernelConfig.of(Dialect.CUDA, 256).withAccumulation(Accumulation.DOUBLE);

  record Case(String name, String text) {}

  static List<Case> cases() throws IOException {
    var cases = new ArrayList<Case>();
    for (var name : LIBRARY) {
      try (InputStream in = GoldenTest.class.getClassLoader()
          .getResourceAsStream("dev/optc/optimizers/" + name + ".opt")) {
        assertNotNull(in, "library optimizer " + name + " is not on the test classpath");
        cases.add(new Case(name, new String(in.readAllBytes(), StandardCharsets.UTF_8)));
      }
    }
    try (var files = Files.list(DIR)) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        var name = f.getFileName().toString().replace(".opt", "");
        cases.add(new Case(name, Files.readString(f)));
      }
    }
    return cases;
  }

  @TestFactory
  Stream<DynamicTest> irAndJavaMatchGoldenFiles() throws IOException {
    return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> check(c)));
  }

  static void check(Case c) throws Exception {
    var result = Compiler.check(SourceFile.of(c.name() + ".opt", c.text()), new Pipeline.Options(null, true));
    assertTrue(result.ok(), () -> c.name() + " does not compile: " + result.diagnostics());
    var ir = IrPrinter.print(result.program());
    // With vector loops whatever this JVM has: the text is what a JVM with the Vector API runs.
    var java = JavaEmitter.emit(Planner.plan(result.program(), Fusion.FULL), JavaEmitter.Precision.F32, true);
    compare(DIR.resolve(c.name() + ".ir"), ir);
    compare(DIR.resolve(c.name() + ".java"), java.toString());
    var plan = Planner.plan(result.program(), Fusion.FULL);
    compare(DIR.resolve(c.name() + ".cl"), CEmitter.emit(plan, OPENCL).source());
    compare(DIR.resolve(c.name() + ".cu"), CEmitter.emit(plan, CUDA).source());
  }

  static void compare(Path golden, String actual) throws IOException {
    if (UPDATE) {
      Files.writeString(golden, actual);
      return;
    }
    assertTrue(Files.exists(golden), golden + " is missing: run with -Dgolden.update=true to create it");
    assertEquals(Files.readString(golden), actual, golden + " differs (rewrite with -Dgolden.update=true "
        + "if the change is intended)");
  }
}
