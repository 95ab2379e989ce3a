package dev.optc.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.plan.Cost;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Library;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.java.JavaBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The harness's parts, and a smoke run of a few milliseconds; no timing is asserted. */
class HarnessTest {
  @TempDir
  Path dir;

  @Test
  void gpt2SmallHasItsShapes() {
    var w = Workload.gpt2Small();
    assertEquals(148, w.tensorCount());
    assertEquals(124_439_808L, w.numel()); // GPT-2 small's parameter count (lm_head tied to wte)
    assertArrayEquals(new long[] {50257, 768}, w.shapes().getFirst());
    assertEquals(List.of("--model", "gpt2-small"), w.torchArgs());
  }

  @Test
  void countsAndWorkloads() {
    assertEquals(64L << 20, Workload.parseCount("64M"));
    assertEquals(512L << 10, Workload.parseCount("512k"));
    assertEquals(1000, Workload.parseCount("1000"));
    assertEquals("flat 16M", Workload.flat(16L << 20).name());
    assertEquals(List.of("--size", "3"), Workload.flat(3).torchArgs());
    assertEquals(1000L * Workload.SMALL_TENSOR, Workload.tensors(1000).numel());
    assertEquals(List.of("--tensors", "7"), Workload.tensors(7).torchArgs());
    assertThrows(OptcException.class, () -> Workload.parseCount("lots"));
    assertThrows(OptcException.class, () -> Workload.parseCount("-1"));
    assertThrows(OptcException.class, () -> Workload.flat(0));
    assertThrows(OptcException.class, () -> Workload.flat(1L << 31));
    assertThrows(OptcException.class, () -> Workload.model("gpt5"));
  }

  @Test
  void statsAreMedianAndQuartiles() {
    var s = Stats.of(5, 1, 3, 2, 4);
    assertEquals(3, s.median());
    assertEquals(1, s.min());
    assertEquals(5, s.max());
    assertEquals(2, s.q1());
    assertEquals(4, s.q3());
    assertEquals(2.5, Stats.of(3, 2).median());
  }

  /** The probe reads and writes exactly the buffers the fused step does, so it moves the same bytes. */
  @Test
  void probeHasTheStepsAccessPattern() throws Exception {
    for (var name : Library.NAMES) {
      var program = OptProgram.load(name);
      var step = Cost.of(Planner.plan(program.ir(), Fusion.FULL));
      var probe = Cost.of(Planner.plan(Floors.probe(program).ir(), Fusion.FULL));
      assertEquals(step.lowerBound(), probe.bytesPerElement(), name);
      var stepBuffers = step.phases().stream().flatMap(p -> p.reads().stream()).filter(b -> !b.startsWith("%"))
          .collect(java.util.stream.Collectors.toSet());
      var probeBuffers = probe.phases().getFirst().reads();
      assertEquals(stepBuffers, probeBuffers, name);
    }
  }

  @Test
  void jsonRoundTrips() {
    var doc = Map.of("a", List.of(1L, 2.5, "x\"y\n"), "b", Map.of("c", true));
    assertEquals(doc, Json.parse(Json.write(doc)));
    assertEquals(Double.NaN, Json.parse("NaN"));
    assertThrows(Json.ParseException.class, () -> Json.parse("{\"a\": }"));
    assertThrows(Json.ParseException.class, () -> Json.parse("[1] 2"));
  }

  @Test
  void torchRowsAreParsed() {
    var json = """
        {"torch": "1.13.0", "python": "3.11", "threads": 2, "numel": 100, "tensors": 1, "unsupported": [],
         "rows": [{"optimizer": "adamw", "variant": "copy", "bytes_per_param": 36, "seconds": [0.1, 0.2],
                   "steps_per_sample": 1},
                  {"optimizer": "adamw", "variant": "foreach=True", "bytes_per_param": 28,
                   "seconds": [0.5, 0.7], "steps_per_sample": 3}]}
        """;
    var r = TorchPeer.parse(json, Map.of("adamw", 36));
    assertEquals("1.13.0", r.version());
    assertEquals(2, r.rows().size());
    var peer = r.rows().get(1);
    assertEquals(Report.Kind.PEER, peer.kind());
    assertEquals("torch foreach=True", peer.label());
    assertEquals(28, peer.bytesPerParam());
    assertEquals(36, peer.fusedBytesPerParam());
    assertEquals(0.6, peer.stats().median(), 1e-12);
    assertThrows(OptcException.class, () -> TorchPeer.parse("Traceback (most recent call last)", Map.of()));
  }

  /** A whole run on 4 small tensors, one repeat: every row measured, and the outputs well formed. */
  @Test
  void smokeRun() throws Exception {
    var config = new Harness.Config(List.of("adamw", "sgd"), Workload.tensors(4),
        List.of(new JavaBackend(JavaEmitter.Precision.F32, 2)), List.of(Fusion.FULL, Fusion.NONE), 2, 0, 1, 0.0,
        1.0, false, Harness.PEER_HYPERS);
    var labels = new java.util.ArrayList<String>();
    var report = Harness.run(config, (done, total, label) -> labels.add(done + "/" + total + " " + label));
    assertEquals(8, report.rows().size());
    assertTrue(report.rows().stream().allMatch(Report.Row::measured));
    assertEquals("8/8 done", labels.getLast());
    var full = report.find("adamw", "java", "full").orElseThrow();
    // AdamW with amsgrad off: read w g m v, write w m v (max_exp_avg_sq is guarded off).
    assertEquals(28, full.bytesPerParam());
    assertTrue(report.find("adamw", "java", "none").orElseThrow().bytesPerParam() > 28);
    assertTrue(report.timesCopy(full) > 0);
    var table = report.table();
    assertTrue(table.contains("adamw      java    full"), table);
    assertEquals(9, report.csv().lines().count());
    assertTrue(report.rows().stream().allMatch(r -> r.retaken() == 0), "max CPU wait 1 retakes nothing");
    var json = (Map<?, ?>) Json.parse(report.json());
    assertEquals(8, ((List<?>) json.get("rows")).size());
    assertEquals("probe", json.get("reference"), "the JSON names the headline ratio");
    var probe = report.find("adamw", "java", "probe").orElseThrow();
    assertEquals(full.stats().median() / probe.stats().median(), report.timesProbe(full), 1e-12);
    var header = table.lines().findFirst().orElseThrow();
    assertTrue(header.indexOf("x probe") < header.indexOf("x copy"), "x probe first: " + header);
    var png = dir.resolve("chart.png");
    Chart.writePng(report, png, "smoke");
    var bytes = Files.readAllBytes(png);
    assertEquals((byte) 0x89, bytes[0]);
    assertEquals('P', bytes[1]);
  }

  /** Native arenas are their own runner where they differ from the backend's own; java's are the same. */
  @Test
  void nativeArenasAreMeasuredWhereTheyDiffer() throws Exception {
    var config = new Harness.Config(List.of("adamw", "sgd"), Workload.tensors(3),
        List.of(new JavaBackend(JavaEmitter.Precision.F32, 2)), List.of(Fusion.FULL), 2, 0, 1, 0.0, 1.0, false,
        Map.of(), List.of(Arenas.Kind.BACKEND, Arenas.Kind.NATIVE));
    var labels = new java.util.ArrayList<String>();
    var report = Harness.run(config, (done, total, label) -> labels.add(done + "/" + total));
    assertEquals(List.of("java copy", "java probe", "java full"),
        report.rows().stream().filter(r -> r.optimizer().equals("adamw")).map(Report.Row::label).toList());
    assertTrue(report.notes().stream().anyMatch(n -> n.startsWith("java-native: not measured twice")),
        report.notes().toString());
    assertEquals("12/12", labels.getLast(), "the progress counts what was skipped");
    assertEquals(List.of("backend", "native"), report.settings().get("arenas"));
    var nativeOnly = new Harness.Config(List.of("sgd"), Workload.tensors(2),
        List.of(new JavaBackend(JavaEmitter.Precision.F32, 1), new JavaBackend(JavaEmitter.Precision.F64, 1)),
        List.of(Fusion.FULL), 1, 0, 1, 0.0, 1.0, false, Map.of(), List.of(Arenas.Kind.NATIVE));
    var rows = Harness.run(nativeOnly, (done, total, label) -> { });
    assertTrue(rows.find("sgd", "java-native", "full").isPresent());
    assertTrue(rows.notes().stream().anyMatch(n -> n.contains("java64-native sgd full: skipped")),
        rows.notes().toString());
  }

  /** A peer without a probe (torch) is judged by the fastest probe of its optimizer on this machine. */
  @Test
  void aPeerIsDividedByTheFastestProbeOfItsOptimizer() {
    java.util.function.BiFunction<String, Double, Report.Row> probe = (runner, s) -> new Report.Row("adamw", runner,
        "probe", Report.Kind.PROBE, 100, 1, 2, 28, 28, Stats.of(s), 1, 0, 0, null);
    var torch = new Report.Row("adamw", "torch", "foreach=True", Report.Kind.PEER, 100, 1, 2, 28, 28, Stats.of(0.9),
        1, 0, 0, null);
    var report = new Report(Map.of(), Map.of(), List.of(probe.apply("java", 0.4), probe.apply("opencl", 0.3), torch),
        List.of());
    assertEquals(3.0, report.timesProbe(torch), 1e-12);
    assertEquals("opencl", report.referenceOf(torch).orElseThrow().runner());
  }

  @Test
  void badConfigsAreOneLineErrors() {
    var java = List.<dev.optc.runtime.Backend>of(new JavaBackend(JavaEmitter.Precision.F32, 1));
    assertThrows(OptcException.class, () -> new Harness.Config(List.of(), Workload.flat(8), java,
        List.of(Fusion.FULL), 1, 0, 1, 0, 1, false, Map.of()));
    assertThrows(OptcException.class, () -> new Harness.Config(List.of("adamw"), Workload.flat(8), java,
        List.of(Fusion.FULL), 1, 0, 0, 0, 1, false, Map.of()));
    var twice = new Harness.Config(List.of("adamw", "adamw"), Workload.flat(8), java, List.of(Fusion.FULL), 1, 0, 1,
        0, 1, false, Map.of());
    assertThrows(OptcException.class, () -> Harness.run(twice, (d, t, l) -> { }));
  }
}
