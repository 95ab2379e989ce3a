package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.java.JavaSourceCompiler;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compiler's golden cases (every library optimizer and every {@code compiler/src/test/resources/golden/*.opt},
 * the programs whose generated Java the compiler's GoldenTest pins) compile with javac and load, in
 * float32 and float64. It lives here because the in-memory javac is the runtime's.
 */
class GeneratedJavaCompilesTest {
  static final Path GOLDEN = Path.of("../compiler/src/test/resources/golden");

  /** An empty cache, so that javac really runs (a warm user cache would only load). */
  @TempDir
  static Path cache;

  static String oldCache;

  @BeforeAll
  static void isolate() {
    oldCache = System.getProperty("optc.cache");
    System.setProperty("optc.cache", cache.toString());
    JavaSourceCompiler.forgetLoaded();
  }

  @AfterAll
  static void restore() {
    if (oldCache == null) {
      System.clearProperty("optc.cache");
    } else {
      System.setProperty("optc.cache", oldCache);
    }
    JavaSourceCompiler.forgetLoaded();
  }

  @TestFactory
  Stream<DynamicTest> everyGoldenProgramCompilesAndLoads() throws IOException {
    var sources = new ArrayList<SourceFile>();
    for (var name : Library.NAMES) {
      sources.add(SourceFile.of(name + ".opt", Library.source(name).orElseThrow()));
    }
    assertTrue(Files.isDirectory(GOLDEN), GOLDEN.toAbsolutePath() + " is missing: run the tests from the module folder");
    try (var files = Files.list(GOLDEN)) {
      for (var f : files.filter(p -> p.toString().endsWith(".opt")).sorted().toList()) {
        sources.add(SourceFile.of(f.getFileName().toString(), Files.readString(f)));
      }
    }
    return sources.stream().map(source -> DynamicTest.dynamicTest(source.name(), () -> {
      var result = Compiler.check(source, new Pipeline.Options(null, true));
      assertTrue(result.ok(), () -> source.name() + " does not compile: " + result.diagnostics());
      var plan = Planner.plan(result.program(), Fusion.FULL);
      for (var precision : JavaEmitter.Precision.values()) {
        // With vector loops (where this JVM has the Vector API) and without (what a JVM without it runs).
        for (var vectors : JavaEmitter.vectorApi() ? List.of(true, false) : List.of(false)) {
          var type = JavaSourceCompiler.load(JavaEmitter.emit(plan, precision, vectors));
          assertTrue(JavaStep.class.isAssignableFrom(type), type + " is not a JavaStep");
        }
      }
    }));
  }
}
