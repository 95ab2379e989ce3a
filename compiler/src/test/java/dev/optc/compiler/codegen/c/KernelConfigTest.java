package dev.optc.compiler.codegen.c;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.codegen.ValueNames;
import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Plan;
import dev.optc.compiler.plan.Planner;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The config a device supplies shapes the text, the dialects are data, and the pre-pass decides alone. */
class KernelConfigTest {
  static Plan plan(String source) throws Exception {
    var program = Compiler.compile(SourceFile.of("t.opt", source), Pipeline.Options.DEFAULT);
    return Planner.plan(program, Fusion.FULL);
  }

  static final String NORM = "hyper lr = 0.1\nn = norm(g)\nw -= lr * g / n\n";
  static final String ROWS = "hyper lr = 0.1\nstate r : row\nr = 0.9 * r + rowmean(g * g)\nw -= lr * g / sqrt(r)\n";
  static final String ELEMENTWISE = "hyper lr = 0.1\nstate m\nm = 0.9 * m + g\nw -= lr * m\n";

  @Test
  void dialectsCarryTheirPolicy() {
    assertEquals(new KernelConfig(Dialect.OPENCL, 256, Accumulation.FLOAT, 1), KernelConfig.of(Dialect.OPENCL, 256));
    assertEquals(new KernelConfig(Dialect.CUDA, 64, Accumulation.DOUBLE, 4), KernelConfig.of(Dialect.CUDA, 64));
    assertEquals(8, Accumulation.DOUBLE.bytes());
    assertEquals("float", Accumulation.FLOAT.type());
  }

  @Test
  void badConfigsAreRefused() {
    var e = assertThrows(IllegalArgumentException.class, () -> KernelConfig.of(Dialect.OPENCL, 96));
    assertEquals("local size must be a power of two, not 96", e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> KernelConfig.of(Dialect.CUDA, 256).withVectorWidth(2));
    assertTrue(e.getMessage().startsWith("vector width must be 1"), e.getMessage());
    assertThrows(NullPointerException.class, () -> Dialect.builder().name("half a dialect").build());
  }

  @Test
  void accumulationShapesTheSums() throws Exception {
    var plan = plan(NORM);
    var dbl = CEmitter.emit(plan, KernelConfig.of(Dialect.OPENCL, 256).withAccumulation(Accumulation.DOUBLE)).source();
    assertTrue(dbl.contains(Dialect.OPENCL.fp64Enable()) && dbl.contains("typedef double optc_acc_t;"), dbl);
    assertTrue(dbl.contains("optc_acc0 += "), "a work-item's double sum is plain: " + dbl);
    var flt = CEmitter.emit(plan, KernelConfig.of(Dialect.OPENCL, 256)).source();
    assertFalse(flt.contains("cl_khr_fp64"), flt);
    assertTrue(flt.contains("optc_kahan_add(&optc_acc0, &optc_comp0, "), "a float sum is compensated: " + flt);
    // One helper in the prelude; the combine kernel calls it too.
    assertEquals(1, flt.split("void optc_kahan_add\\(", -1).length - 1, flt);
    assertTrue(flt.contains("optc_kahan_add(&s, &comp, optc_part0[j]);"), flt);
  }

  @Test
  void vectorWidthAndLocalSizeShapeTheLoop() throws Exception {
    var plan = plan(ELEMENTWISE);
    var quads = CEmitter.emit(plan, KernelConfig.of(Dialect.OPENCL, 64).withVectorWidth(4)).source();
    assertTrue(quads.contains("#define OPTC_LOCAL 64\n") && quads.contains("optc_ld4(") && quads.contains("vload4("),
        quads);
    var scalar = CEmitter.emit(plan, KernelConfig.of(Dialect.OPENCL, 64)).source();
    assertFalse(scalar.contains("optc_ld4("), scalar);
  }

  /** Row/column indices and quads are decided before any text, from the plan alone. */
  @Test
  void thePrePassDecidesRowsColumnsAndQuads() throws Exception {
    var rows = plan(ROWS);
    var last = rows.phases().getLast();
    var analysis = new PhaseAnalysis(rows, last, new Buffers(rows), ValueNames.statements(rows.program()), true);
    assertTrue(analysis.chunk().orElseThrow().position(), "reads and writes a row state");
    assertFalse(analysis.chunk().orElseThrow().quads(), "not elementwise");
    var first = new PhaseAnalysis(rows, rows.phases().getFirst(), new Buffers(rows),
        ValueNames.statements(rows.program()), true);
    assertEquals(1, first.lines().size(), "the row mean is a row kernel");
    var flat = plan(ELEMENTWISE);
    var elementwise = new PhaseAnalysis(flat, flat.phases().getFirst(), new Buffers(flat),
        ValueNames.statements(flat.program()), true).chunk().orElseThrow();
    assertTrue(elementwise.quads() && !elementwise.position(), "quads, no rows or columns");
    assertEquals(List.of("g", "m", "w"), List.copyOf(elementwise.laneLoads().keySet()), "in first-read order");
  }

  @Test
  void skeletonHolesTakeBlocksAtTheirIndentation() {
    var text = Skeletons.fill("{\n  ${body}\n  ${none}\n  x = ${value};\n}\n", "body", "a;\nb;\n", "none", "",
        "value", "1");
    assertEquals("{\n  a;\n  b;\n  x = 1;\n}\n", text);
    assertThrows(IllegalArgumentException.class, () -> Skeletons.fill("${missing}"));
  }
}
