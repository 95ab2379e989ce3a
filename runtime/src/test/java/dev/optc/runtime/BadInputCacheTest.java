package dev.optc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.cache.CacheEntry;
import dev.optc.runtime.cache.ProgramCache;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.java.JavaSourceCompiler;
import dev.optc.runtime.opencl.OpenCl;
import dev.optc.runtime.opencl.OpenClBackend;
import dev.optc.runtime.opencl.OpenClEngine;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Bad inputs, issue 10 group 7: a damaged program cache. A truncated OpenCL binary used to crash the JVM
 * inside the driver (PoCL: an assertion, exit 134, on every later run) and a damaged class file to fail
 * every run with ClassFormatError. Now every entry is a checked {@link CacheEntry}: a bad one is dropped
 * with one warning, rebuilt, and the run's results are those of a clean run.
 */
class BadInputCacheTest {
  @TempDir
  Path cache;

  String oldCache;

  @BeforeEach
  void isolate() {
    oldCache = System.getProperty("optc.cache");
    System.setProperty("optc.cache", cache.toString());
    JavaSourceCompiler.forgetLoaded();
  }

  @AfterEach
  void restore() {
    if (oldCache == null) {
      System.clearProperty("optc.cache");
    } else {
      System.setProperty("optc.cache", oldCache);
    }
    JavaSourceCompiler.forgetLoaded();
  }

  /** The ways an entry goes bad. */
  enum Damage {
    TRUNCATED {
      byte[] apply(byte[] b) {
        return Arrays.copyOf(b, b.length / 2);
      }
    },
    FLIPPED {
      byte[] apply(byte[] b) {
        var c = b.clone();
        c[c.length - 7] ^= 0x10;
        return c;
      }
    },
    EMPTY {
      byte[] apply(byte[] b) {
        return new byte[0];
      }
    },
    WRONG_HEADER {
      byte[] apply(byte[] b) {
        var c = b.clone();
        c[0] = 'X';
        return c;
      }
    },
    OLD_VERSION {
      byte[] apply(byte[] b) {
        var c = b.clone();
        c[11] = 0;
        return c;
      }
    },
    TRAILING_BYTES {
      byte[] apply(byte[] b) {
        return Arrays.copyOf(b, b.length + 3);
      }
    },
    /** The raw payload without a header: what optc before the checks wrote. */
    UNCHECKED {
      byte[] apply(byte[] b) {
        return Arrays.copyOfRange(b, 52, b.length);
      }
    };

    abstract byte[] apply(byte[] entry);
  }

  // ------------------------------------------------------------------ the entry format on its own

  @Test
  void entriesRoundTrip() throws CacheEntry.Corrupt {
    var payload = "// PTX or a binary".getBytes(StandardCharsets.UTF_8);
    assertArrayEquals(payload, CacheEntry.decode(CacheEntry.encode(payload)));
    assertArrayEquals(new byte[0], CacheEntry.decode(CacheEntry.encode(new byte[0])));
  }

  /** What the CUDA engine's PTX cache relies on (it shares this class; no GPU needed here). */
  @ParameterizedTest
  @EnumSource(Damage.class)
  void everyDamageIsRefused(Damage damage) {
    var entry = CacheEntry.encode(".version 8.0\n.target sm_90\n".getBytes(StandardCharsets.UTF_8));
    var e = assertThrows(CacheEntry.Corrupt.class, () -> CacheEntry.decode(damage.apply(entry)));
    assertTrue(!e.getMessage().isBlank());
  }

  /** The cache every backend uses, with a PTX-like payload (what the CUDA engine stores; no GPU needed). */
  @ParameterizedTest
  @EnumSource(Damage.class)
  void programCacheDropsADamagedEntryWithOneWarningAndRebuilds(Damage damage) throws IOException {
    var ptx = new ProgramCache<String>("cuda", ".ptx");
    var builds = new int[1];
    java.util.function.Supplier<ProgramCache.Built<String>> build = () -> {
      builds[0]++;
      return new ProgramCache.Built<>("ptx", "ptx".getBytes(StandardCharsets.UTF_8));
    };
    ProgramCache.Loader<String> load = bytes -> new String(bytes, StandardCharsets.UTF_8);
    var key = ProgramCache.key("source", "device");
    assertEquals("ptx", ptx.get(key, load, build));
    var file = ptx.file(key);
    assertEquals(cache.resolve("cuda").resolve(key + ".ptx"), file);
    assertValid(file);
    ptx.forget();
    assertEquals("ptx", ptx.get(key, load, build));
    assertEquals(1, builds[0], "the second process-like load comes from the disk entry");
    Files.write(file, damage.apply(Files.readAllBytes(file)));
    ptx.forget();
    var warnings = stderr(() -> assertEquals("ptx", ptx.get(key, load, build)));
    assertOneWarning(warnings, file);
    assertEquals(2, builds[0], "a damaged entry is rebuilt, never trusted");
    assertValid(file);
  }

  // ------------------------------------------------------------------ the caches in use

  @ParameterizedTest
  @EnumSource(Damage.class)
  void javaClassCacheHeals(Damage damage) throws Exception {
    assertJavaCacheHeals("lion", damage::apply);
  }

  /** Bytes that pass the checksum but are not classes (a JDK's different class format, say). */
  @Test
  void javaClassesThatDoNotLoadAreDropped() throws Exception {
    assertJavaCacheHeals("sgd", bytes -> CacheEntry.encode("not a list of classes".getBytes(StandardCharsets.UTF_8)));
  }

  /** Runs {@code optimizer}, damages its Java cache entry, runs again: one warning, same result, entry valid. */
  void assertJavaCacheHeals(String optimizer, java.util.function.UnaryOperator<byte[]> damage) throws Exception {
    var program = OptProgram.load(optimizer);
    var clean = run(program, JavaBackend.reference());
    var entry = onlyFile(cache.resolve("java"));
    Files.write(entry, damage.apply(Files.readAllBytes(entry)));
    JavaSourceCompiler.forgetLoaded();
    var healed = new float[1][][];
    var warnings = stderr(() -> healed[0] = run(program, JavaBackend.reference()));
    assertOneWarning(warnings, entry);
    assertArrayEquals(clean, healed[0]);
    assertValid(entry);
  }

  @ParameterizedTest
  @EnumSource(Damage.class)
  void openClBinaryCacheHeals(Damage damage) throws Exception {
    Assumptions.assumeTrue(OpenCl.isAvailable(), "no OpenCL device: " + OpenCl.unavailableReason());
    var program = OptProgram.load("lion");
    var backend = OpenClBackend.select("");
    OpenClEngine.forgetPrograms();
    var clean = run(program, backend);
    var entry = onlyFile(cache.resolve("opencl"));
    Files.write(entry, damage.apply(Files.readAllBytes(entry)));
    OpenClEngine.forgetPrograms();
    var healed = new float[1][][];
    var warnings = stderr(() -> healed[0] = run(program, backend));
    assertOneWarning(warnings, entry);
    assertArrayEquals(clean, healed[0]);
    assertValid(entry);
    OpenClEngine.forgetPrograms();
  }

  // ------------------------------------------------------------------ helpers

  static float[][] run(OptProgram program, Backend backend) {
    var groups = List.of(BackendComparison.tensors(new Random(7), new long[][] {{5, 3}, {11}}, "t"));
    return BackendComparison.run(program, backend, Fusion.FULL, groups, List.of(Map.of()), 3, 11);
  }

  static Path onlyFile(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      var list = files.filter(f -> !f.getFileName().toString().startsWith(".")).toList();
      assertEquals(1, list.size(), list.toString());
      return list.getFirst();
    }
  }

  static void assertValid(Path entry) throws IOException {
    try {
      CacheEntry.decode(Files.readAllBytes(entry));
    } catch (CacheEntry.Corrupt e) {
      throw new AssertionError("the rewritten entry is not valid: " + e.getMessage());
    }
  }

  static void assertOneWarning(String stderr, Path entry) {
    var lines = stderr.lines().filter(l -> !l.isBlank()).toList();
    assertEquals(1, lines.size(), "one line on stderr:\n" + stderr);
    assertTrue(lines.getFirst().startsWith("optc: warning: dropped a corrupt cache entry " + entry),
        lines.getFirst());
  }

  /** What {@code body} prints on stderr. */
  static String stderr(Runnable body) {
    var old = System.err;
    var bytes = new ByteArrayOutputStream();
    System.setErr(new PrintStream(bytes, true, StandardCharsets.UTF_8));
    try {
      body.run();
    } finally {
      System.setErr(old);
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
