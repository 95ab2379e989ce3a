package dev.optc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.diag.InternalCompilerError;
import dev.optc.runtime.io.Npy;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad inputs, issue 10 group 8, through the command line: a program of hundreds of states simulates
 * (it used to exit 70 with javac's "too many parameters" and 10,384 lines of source on stderr), and an
 * internal error is one line naming a saved report, never a source file on the terminal.
 */
class BadInputLargeCliTest {
  @TempDir
  Path dir;

  String oldCache;

  @BeforeEach
  void isolate() {
    oldCache = System.getProperty("optc.cache");
    System.setProperty("optc.cache", dir.resolve("cache").toString());
  }

  @AfterEach
  void restore() {
    if (oldCache == null) {
      System.clearProperty("optc.cache");
    } else {
      System.setProperty("optc.cache", oldCache);
    }
  }

  @Test
  void internalErrorIsOneLineAndASavedReport() throws Exception {
    var source = "class Huge {\n" + "  int x;\n".repeat(10_000) + "}\n";
    var ice = new InternalCompilerError("generated Java (Huge, 10002 lines) did not compile: Huge.java:2: error: "
        + "too many parameters", null, "javac output:\nHuge.java:2: error: too many parameters\n"
        + "generated source:\n" + source);
    var err = new StringWriter();
    int code;
    try (var w = new PrintWriter(err)) {
      code = Main.handle(ice, w);
    }
    assertEquals(Main.EXIT_INTERNAL, code);
    var lines = err.toString().lines().toList();
    assertEquals(1, lines.size(), err.toString());
    assertTrue(lines.getFirst().startsWith("optc: internal error: "), lines.getFirst());
    assertFalse(lines.getFirst().contains("int x;"), "no source on the terminal");
    var m = Pattern.compile("the report (\\S+)\\)$").matcher(lines.getFirst());
    assertTrue(m.find(), lines.getFirst());
    var report = Path.of(m.group(1));
    assertTrue(report.startsWith(dir.resolve("cache").resolve("reports")), report.toString());
    var text = Files.readString(report);
    assertTrue(text.contains("too many parameters"), "the report has javac's output");
    assertTrue(text.contains("int x;\n  int x;"), "the report has the generated source");
    assertTrue(text.contains("\tat "), "the report has the stack trace");
  }

  @Test
  void exceptionsWithLongMessagesStayOneLine() {
    var err = new StringWriter();
    try (var w = new PrintWriter(err)) {
      Main.handle(new IllegalStateException("first\nsecond\nthird"), w);
    }
    assertEquals(1, err.toString().lines().count(), err.toString());
  }

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void threeHundredStatesSimulateOnJava() throws Exception {
    int n = 300;
    var sb = new StringBuilder("optimizer big\nhyper lr = 0.01\n");
    for (int k = 1; k <= n; k++) {
      sb.append("state s").append(k).append('\n');
    }
    var sum = new StringBuilder();
    for (int k = 1; k <= n; k++) {
      sb.append("s").append(k).append(" = 0.9*s").append(k).append(" + g\n");
      sum.append(k > 1 ? " + s" : "s").append(k);
    }
    sb.append("w -= lr * (").append(sum).append(") / ").append(n).append('\n');
    var opt = Files.writeString(dir.resolve("big.opt"), sb);
    var p = dir.resolve("p.npy");
    var g = dir.resolve("g.npy");
    var out = dir.resolve("out.npy");
    Npy.write(p, new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6});
    Npy.write(g, new long[] {2, 2, 3}, new float[] {1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2});
    var r = CliTest.optc("simulate", opt.toString(), "--params", p.toString(), "--grads", g.toString(), "--out",
        out.toString(), "--set", "lr=1");
    assertEquals(0, r.code(), r.toString());
    // Every state is the same: after step 1 s = 1, after step 2 s = 0.9 + 2 = 2.9; w -= mean(s) each step.
    var w = Npy.readFloat32(out).data();
    for (int i = 0; i < 6; i++) {
      assertEquals(i + 1 - 1 - 2.9, w[i], 1e-3, "w[" + i + "]");
    }
  }
}
