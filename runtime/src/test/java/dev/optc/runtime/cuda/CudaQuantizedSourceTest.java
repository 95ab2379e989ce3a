package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * 256 and 1,024 threads it is generated, carries each map as QuantMap holds it (entries and midpoints read back
 * bit for bit) and quantizes every stored state; with NVRTC it compiles as a CUDA backend builds it (skipped,
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
                var mids = table(text, dialect.constant() + " double", "optc_mid_" + map);
                for (int k = 0; k < entries.size(); k++) {
                  assertEquals(Float.floatToRawIntBits(map.value(k)),
                      Float.floatToRawIntBits(Float.parseFloat(entries.get(k))), map + " entry " + k);
                }
                var want = map.midpoints();
                for (int k = 0; k < mids.size(); k++) {
                  assertEquals(Double.doubleToRawLongBits(want[k]),
                      Double.doubleToRawLongBits(Double.parseDouble(mids.get(k))), map + " midpoint " + k);
                }
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
            // The code search divides in double, correctly rounded: a div.rn.f64, never an approximation.
            assertTrue(ptx.contains("div.rn.f64"), "no double division in the PTX of " + name);
          }));
        }
      }
    }
    return tests.stream();
  }
}
