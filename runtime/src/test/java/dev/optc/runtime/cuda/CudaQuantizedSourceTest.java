package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.c.Dialect;
import dev.optc.compiler.codegen.c.KernelConfig;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.device.KernelEngine;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The CUDA (and OpenCL) text of the library's quantized optimizers: at every fusion level and at blocks of 64,
 * 256 and 1,024 threads it is generated, carries each map as QuantMap holds it (entries, midpoints and bucket codes
 * read back bit for bit) and quantizes every stored state; with NVRTC it compiles as a CUDA backend builds it (skipped,
 * saying why, where NVRTC is not found: no GPU or driver is needed, the toolkit's NVRTC is).
 */
class CudaQuantizedSourceTest {
  static final List<String> PROGRAMS = List.of("adamw8bit", "adam8bit", "lion8bit", "adamw4bit");
  static final int[] LOCAL_SIZES = {64, 256, 1024};

  private static String source(OptProgram program, Fusion fusion, KernelConfig config) {
    return KernelEngine.source(Planner.plan(program.ir(), fusion), config).text();
  }

  /** The numbers of constant table {@code name} in {@code source}. */
  private static List<String> table(String source, String type, String name) {
    var m = Pattern.compile(type + " " + name + "\\[(\\d+)] = \\{([^}]*)};").matcher(source);
    assertTrue(m.find(), "no table " + name + " in the source");
    var numbers = Arrays.stream(m.group(2).replaceAll("/\\*[^*]*\\*/", "").split(","))
        .map(String::strip).toList();
    assertEquals(Integer.parseInt(m.group(1)), numbers.size(), name + ": declared length");
    return numbers;
  }

  /**
   * The bucket table of {@code map}: per sign, QuantMap's bucket codes from the first one the table keeps, the ones
   * below it sharing the lowest bucket's code.
   */
  private static void checkBuckets(QuantMap map, List<String> table) {
    var codes = map.bucketCodes();
    int per = QuantMap.BUCKETS_PER_SIGN;
    int kept = table.size() / 2;
    int skipped = per - kept;
    for (int sign = 0; sign < 2; sign++) {
      for (int i = 0; i <= skipped; i++) {
        assertEquals(codes[sign * per], codes[sign * per + i], map + " folded bucket " + i + " of sign " + sign);
      }
      for (int i = 0; i < kept; i++) {
        assertEquals(codes[sign * per + skipped + i], Integer.parseInt(table.get(sign * kept + i)),
            map + " bucket " + (skipped + i) + " of sign " + sign);
      }
    }
  }

  @TestFactory
  Stream<DynamicTest> mapsAndStoresAreGenerated() throws Exception {
    var tests = new ArrayList<DynamicTest>();
    for (var name : PROGRAMS) {
      var program = OptProgram.load(name);
      var quant = Quantization.of(program.ir());
      for (var dialect : List.of(Dialect.CUDA, Dialect.OPENCL)) {
        for (var fusion : Fusion.values()) {
          for (int local : LOCAL_SIZES) {
            tests.add(DynamicTest.dynamicTest(name + " " + fusion.label() + " " + dialect.name() + " " + local, () -> {
              var text = source(program, fusion, KernelConfig.of(dialect, local));
              assertTrue(text.contains("#define OPTC_QSPAN " + Math.max(256, local) + "\n"), "span");
              if (dialect == Dialect.OPENCL) {
                assertTrue(text.contains("#pragma OPENCL EXTENSION cl_khr_fp64 : enable"), "fp64 for the code search");
              }
              for (var map : quant.maps().values().stream().distinct().toList()) {
                var entries = table(text, dialect.constant() + " float", "optc_map_" + map);
                var mids = table(text, dialect.table() + " double", "optc_mid_" + map);
                for (int k = 0; k < entries.size(); k++) {
                  assertEquals(Float.floatToRawIntBits(map.value(k)),
                      Float.floatToRawIntBits(Float.parseFloat(entries.get(k))), map + " entry " + k);
                }
                // The midpoints between -2 and 2, which stand for -inf and +inf.
                var want = map.midpoints();
                assertEquals(want.length + 2, mids.size(), map + " midpoints");
                assertEquals("-2.0", mids.getFirst(), map + " midpoint -1");
                assertEquals("2.0", mids.getLast(), map + " midpoint " + want.length);
                for (int k = 0; k < want.length; k++) {
                  assertEquals(Double.doubleToRawLongBits(want[k]),
                      Double.doubleToRawLongBits(Double.parseDouble(mids.get(k + 1))), map + " midpoint " + k);
                }
                checkBuckets(map, table(text, dialect.table() + " " + Pattern.quote(dialect.ubyte()),
                    "optc_bucket_" + map));
              }
              // Every quantized state is stored somewhere: its codes written from the code search.
              var ir = program.ir();
              for (var s : ir.states()) {
                var map = quant.map(s.name());
                if (map != null) {
                  assertTrue(Pattern.compile("\\b" + s.name() + "\\w*\\[[^]]*] = \\(" + Pattern.quote(dialect.ubyte())
                      + "\\) \\(?optc_(qcode|low)").matcher(text).find(), s.name() + "'s codes are never stored");
                }
              }
            }));
          }
        }
      }
    }
    return tests.stream();
  }

  /** What a CUDA backend builds for the quantized optimizers compiles with NVRTC, as CudaEngine builds it. */
  @TestFactory
  Stream<DynamicTest> compilesWithNvrtc() throws Exception {
    var tests = new ArrayList<DynamicTest>();
    for (var name : PROGRAMS) {
      var program = OptProgram.load(name);
      for (var fusion : Fusion.values()) {
        for (int local : LOCAL_SIZES) {
          tests.add(DynamicTest.dynamicTest(name + " " + fusion.label() + " " + local, () -> {
            CuFixture.requireNvrtc();
            var arch = Nvrtc.supportedArchitectures().contains(90) ? List.of("--gpu-architecture=compute_90")
                : List.<String>of();
            var options = new ArrayList<>(List.of("--fmad=false", "-std=c++17"));
            options.addAll(arch);
            var ptx = Nvrtc.compile(source(program, fusion, CudaBackend.defaultConfig(1024).withLocalSize(local)),
                name + ".cu", options);
            assertTrue(ptx.contains(".entry " + name + "_phase0"), "no phase-0 entry in the PTX of " + name);
            // The code search divides in double, correctly rounded: a div.rn.f64, never an approximation; so is
            // the float inverse of a block's absmax, whose quotients pick the buckets.
            assertTrue(ptx.contains("div.rn.f64"), "no double division in the PTX of " + name);
            assertFalse(Pattern.compile("(div|rcp)\\.(approx|full)\\.(ftz\\.)?f32").matcher(ptx).find(),
                "an approximate float division in the PTX of " + name);
          }));
        }
      }
    }
    return tests.stream();
  }
}
