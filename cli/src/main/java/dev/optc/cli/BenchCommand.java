package dev.optc.cli;

import dev.optc.bench.Chart;
import dev.optc.bench.Harness;
import dev.optc.bench.Report;
import dev.optc.bench.Workload;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.Backend;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.java.JavaBackend;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Benchmark optimizer steps against the machine's memory bandwidth, and against torch.optim.",
        "For each OPT (default adamw) and backend: a probe with the step's exact access pattern and trivial "
            + "arithmetic (the reference every row is divided by), a copy over the bytes the fused step must move, "
            + "and the step at each fusion level, all measured in this run on the same threads: warm-up, then "
            + "repeats; the median and min/max are shown. Every row of an optimizer is judged by its fused "
            + "step's bytes: statement and none move more by design.",
        "Progress goes to stderr (a bar on a terminal, a line every 10 s elsewhere); the table goes to stdout."},
    footer = {"%nExamples:",
        "  optc bench adamw",
        "  optc bench adamw adam sgd --size 64M --backend java,opencl --torch --plot bench.png",
        "  optc bench adamw --model gpt2-small --fusion full --json gpt2.json",
        "  optc bench adamw --size 64M --backend java,opencl --fusion full --arena backend,native"})
final class BenchCommand implements Callable<Integer> {
  @Parameters(paramLabel = "OPT", arity = "0..*", description = ".opt files or library names (default: adamw)")
  List<String> opts = new ArrayList<>();

  @Option(names = "--size", paramLabel = "N",
      description = "One flat tensor of N float32 parameters: a count or 16M, 64M, 512K (M = 2^20). Default 16M.")
  String size;

  @Option(names = "--model", paramLabel = "NAME",
      description = "The parameter shapes of a model: gpt2-small (124M parameters in 148 tensors).")
  String model;

  @Option(names = "--tensors", paramLabel = "K",
      description = "K tensors of " + Workload.SMALL_TENSOR + " parameters each (per-tensor and launch overhead).")
  Integer tensors;

  @Option(names = "--backend", defaultValue = "java", paramLabel = "LIST",
      description = "java, opencl[:PLATFORM:DEVICE], cuda[:DEVICE], or several separated by commas (default java).")
  String backends;

  @Option(names = "--arena", defaultValue = "backend", paramLabel = "KIND",
      description = "Where the arenas live: backend (the default: the backend's own memory), native (host memory "
          + "a framework views in place; rows named opencl-native), or backend,native to measure both, one right "
          + "after the other. The java backend's own arenas are native memory already.")
  String arenas;

  @Option(names = "--fusion", defaultValue = "all", paramLabel = "LEVEL",
      description = "full, statement, none, or all (the default); several separated by commas.")
  String fusion;

  @Option(names = "--threads", paramLabel = "N",
      description = "Threads of the java backend, the Java copy floor and torch (default: all cores).")
  Integer threads;

  @Option(names = "--warmup", defaultValue = "2", paramLabel = "W", description = "Warm-up samples (default 2, at most 10000).")
  int warmup;

  @Option(names = "--repeats", defaultValue = "5", paramLabel = "R", description = "Timed samples (default 5, at most 10000).")
  int repeats;

  @Option(names = "--min-sample", defaultValue = "0.05", paramLabel = "SECONDS",
      description = "Steps shorter than this are timed several to a sample (default 0.05).")
  double minSample;

  @Option(names = "--max-cpu-wait", defaultValue = "10", paramLabel = "PCT",
      description = "Take a sample again (up to 3x --repeats extra) when other work kept a runnable thread waiting for "
          + "a CPU more than PCT%% of its time (Linux /proc/pressure/cpu; default 10; 100 never).")
  double maxCpuWait;

  @Option(names = "--set", paramLabel = "NAME=VALUE",
      description = "Set a hyper of every OPT that has it (a number, or true/false); repeatable. sgd runs with "
          + "momentum=0.9 unless set, as torch's SGD-momentum does; the rest with their defaults.")
  List<String> sets = List.of();

  @Option(names = "--torch", description = "Also run torch.optim (Debian's python3-torch at /usr/bin/python3) "
      + "on the same shapes and threads, with foreach off and on, beside torch's own copy floor.")
  boolean torch;

  @Option(names = "--json", paramLabel = "FILE", description = "Write every row and sample as JSON.")
  Path json;

  @Option(names = "--csv", paramLabel = "FILE", description = "Write the rows as CSV.")
  Path csv;

  @Option(names = "--plot", paramLabel = "FILE.png", description = "Write a chart of time / probe, the fastest pass over the step's memory (PNG).")
  Path plot;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CompileException, IOException {
    var out = spec.commandLine().getOut();
    int n = threads == null ? Runtime.getRuntime().availableProcessors()
        : JavaBackend.checkThreads(threads, "--threads");
    Harness.Config.checkSamples(warmup, repeats);
    if (!(maxCpuWait >= 0 && maxCpuWait <= 100)) {
      throw new OptcException("--max-cpu-wait must be a percentage between 0 and 100, not " + maxCpuWait);
    }
    if (!(minSample >= 0 && minSample <= 60)) {
      throw new OptcException("--min-sample must be between 0 and 60 seconds, not " + minSample);
    }
    var workload = workload();
    var fusions = fusions(fusion);
    checkOutputs();
    var list = backends(backends, n);
    var names = opts.isEmpty() ? List.of("adamw") : opts;
    var hypers = new LinkedHashMap<String, Map<String, Double>>(Harness.PEER_HYPERS);
    hypers.put(Harness.EVERY, SimulateCommand.parseSets(sets));
    if (torch && !sets.isEmpty()) {
      throw new OptcException("--set and --torch: torch runs its own defaults, so the rows would not compare; "
          + "give one of them");
    }
    var config = new Harness.Config(names, workload, list, fusions, n, warmup, repeats, minSample, maxCpuWait / 100,
        torch, hypers, arenas(arenas));
    var progress = Progress.forItems(spec.commandLine().getErr(), "bench", 0, "row");
    Report report;
    try {
      report = Harness.run(config, progress::update);
    } finally {
      progress.done();
    }
    out.print(header(report));
    out.println();
    out.print(report.table());
    out.print(LEGEND);
    out.flush();
    // All complete as temporaries before any is renamed: a failure leaves every file as it was.
    try (var batch = new AtomicFiles.Batch()) {
      if (json != null) {
        batch.add(json, AtomicFiles.content(report.json()));
      }
      if (csv != null) {
        batch.add(csv, AtomicFiles.content(report.csv()));
      }
      if (plot != null) {
        batch.add(plot, AtomicFiles.content(Chart.png(report, "optc bench: " + workload.name() + ", " + n
            + " threads, " + report.machine().get("date"))));
      }
      batch.commit();
    }
    return 0;
  }

  static final String LEGEND = """

      x probe: median / the probe's median (a peer without one: the fastest probe of its optimizer), the reference:
        the fused step's own reads and in-place writes with trivial arithmetic, the fastest pass over that memory.
      x copy: median / the copy's: a copy reads its destination before writing it, so an in-place step can beat it.
      B/param: bytes the row's code moves per parameter (optc: the plan's traffic at that fusion level; copy and
        probe: the fused step's; torch: the least its algorithm must move). GB/s: the fused step's bytes / median.
        statement and none move more bytes by design and are held to the fused step's reference.
      """;

  private Workload workload() {
    int given = (size != null ? 1 : 0) + (model != null ? 1 : 0) + (tensors != null ? 1 : 0);
    if (given > 1) {
      throw new OptcException("--size, --model and --tensors each choose the workload: give one of them");
    }
    if (model != null) {
      return Workload.model(model);
    }
    if (tensors != null) {
      return Workload.tensors(tensors);
    }
    return Workload.flat(Workload.parseCount(size == null ? "16M" : size));
  }

  static List<Fusion> fusions(String text) {
    var set = new LinkedHashSet<Fusion>();
    for (var part : text.split(",", -1)) {
      var p = part.strip();
      if (p.equals("all")) {
        set.addAll(List.of(Fusion.FULL, Fusion.STATEMENT, Fusion.NONE));
      } else {
        try {
          set.add(SimulateCommand.parseFusion(p));
        } catch (OptcException e) {
          throw new OptcException("--fusion must be full, statement, none or all (or several, separated by "
              + "commas), not '" + text + "'");
        }
      }
    }
    return List.copyOf(set);
  }

  static List<Arenas.Kind> arenas(String text) {
    var set = new LinkedHashSet<Arenas.Kind>();
    for (var part : text.split(",", -1)) {
      switch (part.strip()) {
        case "backend" -> set.add(Arenas.Kind.BACKEND);
        case "native" -> set.add(Arenas.Kind.NATIVE);
        default -> throw new OptcException("--arena must be backend, native or backend,native, not '" + text + "'");
      }
    }
    return List.copyOf(set);
  }

  static List<Backend> backends(String text, int threads) {
    var result = new ArrayList<Backend>();
    var seen = new LinkedHashSet<String>();
    for (var part : text.split(",", -1)) {
      var p = part.strip();
      if (p.equals("java64")) {
        throw new OptcException("--backend java64 measures float32's error, not speed; bench java, opencl or cuda");
      }
      if (p.isEmpty()) {
        throw new OptcException("--backend '" + text + "' has an empty entry; e.g. --backend java,opencl");
      }
      var b = SimulateCommand.backend(p, threads);
      if (!seen.add(b.name())) {
        throw new OptcException("--backend names " + b.name() + " twice");
      }
      result.add(b);
    }
    return result;
  }

  /** Fails before any measuring if a result file could not be written. */
  private void checkOutputs() {
    OutputFiles.checkReports(json, csv, plot, "OPT", opts);
  }

  /** The lines above the table: what was measured, where, when. */
  static String header(Report report) {
    var m = report.machine();
    var s = report.settings();
    var sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "optc bench: %s (%s parameters in %s tensor%s); median of %s samples after %s "
            + "warm-up%n", s.get("workload"), s.get("params"), s.get("tensors"),
        ((Number) s.get("tensors")).intValue() == 1 ? "" : "s", s.get("repeats"), s.get("warmup")));
    sb.append("backends: ").append(String.join("; ", castList(s.get("backends"))));
    sb.append(m.containsKey("torch") ? "; torch " + m.get("torch") + " (" + s.get("threads") + " threads)" : "");
    sb.append('\n');
    sb.append(String.format(Locale.ROOT, "machine: %s cores, %s, %s memory; %s; Java %s; load %s at the start, %s at "
            + "the end%n", m.get("cores"), m.get("cpu"), m.getOrDefault("memory", "?"), m.get("date"), m.get("java"),
        first(m.get("load_average")), first(m.get("load_average_end"))));
    var floors = new ArrayList<String>();
    var runners = new LinkedHashSet<String>();
    report.rows().forEach(r -> runners.add(r.runner()));
    for (var runner : runners) {
      report.rows().stream().filter(r -> r.runner().equals(runner) && r.kind() == Report.Kind.COPY && r.measured())
          .mapToDouble(Report.Row::gbPerSecond).max()
          .ifPresent(g -> floors.add(String.format(Locale.ROOT, "%s %.1f GB/s", runner, g)));
    }
    if (!floors.isEmpty()) {
      sb.append("copy bandwidth (read + write): ").append(String.join(", ", floors)).append('\n');
    }
    if (!((List<?>) s.get("hypers")).isEmpty()) {
      sb.append("hypers: ").append(String.join(", ", castList(s.get("hypers"))))
          .append(" (to match torch); the rest are defaults\n");
    }
    return sb.toString();
  }

  private static String first(Object o) {
    return o == null ? "?" : o.toString().split(" ", 2)[0];
  }

  private static List<String> castList(Object o) {
    return ((List<?>) o).stream().map(String::valueOf).toList();
  }
}
