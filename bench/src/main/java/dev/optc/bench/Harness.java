package dev.optc.bench;

import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.ir.Kind;
import dev.optc.compiler.plan.Cost;
import dev.optc.compiler.plan.Fusion;
import dev.optc.compiler.plan.Planner;
import dev.optc.runtime.Arenas;
import dev.optc.runtime.Backend;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.cuda.CudaBackend;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.runtime.opencl.OpenClBackend;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * Measures, in one run, on the same backend and threads: optc's step at each requested fusion level, the
 * copy floor and the probe ({@link Floors}), and optionally torch.optim ({@link TorchPeer}). Used by
 * {@code optc bench} and by tests; the JMH benchmarks measure the same things under JMH's control.
 *
 * <p>Every measurement is taken the same way: one step, to estimate its time; {@code warmup} samples; then
 * {@code repeats} samples, each of {@code k} steps timed together, where {@code k} makes a sample last at
 * least {@code minSample} seconds (1 for large workloads; many for a step of microseconds, whose single
 * timing would be noise). The median of the samples is the result; min and max the spread.
 *
 * <p>Bytes: every row of an optimizer is judged by the bytes its <em>fused</em> step moves
 * ({@code Cost.of(Planner.plan(ir, FULL)).bytesPerElement()} × parameters): the copy floor moves that many,
 * and GB/s is that many over the row's time. The statement and none levels move more bytes by design (every
 * intermediate goes through memory); that is what they cost, so they are held to the fused step's floor.
 */
public final class Harness {
  private Harness() {}

  /**
   * What to measure.
   *
   * @param optimizers .opt files or library names
   * @param backends where optc runs; each gets its own copy floor and probe
   * @param threads threads of the torch peer (Java backends have their own count, which should be the same)
   * @param minSample the least seconds one timed sample lasts
   * @param maxCpuWait the share of a sample's time other work may keep a runnable thread waiting for a CPU
   *     before the sample is taken again (1 or more: never)
   * @param hypers hyper values per optimizer name (e.g. sgd's momentum, to match torch's SGD-momentum);
   *     under {@link #EVERY}, values for every optimizer that has the hyper (a named entry wins)
   * @param arenas where each backend's arenas live, each measured as its own runner: the backend's own
   *     under its name, native host memory as {@code NAME-native} (copy floor shared, probe and steps their
   *     own; the float32 java backend's own arenas are native already, so it has no second runner)
   */
  public record Config(List<String> optimizers, Workload workload, List<Backend> backends, List<Fusion> fusions,
      int threads, int warmup, int repeats, double minSample, double maxCpuWait, boolean torch,
      Map<String, Map<String, Double>> hypers, List<Arenas.Kind> arenas) {

    public Config {
      optimizers = List.copyOf(optimizers);
      backends = List.copyOf(backends);
      fusions = List.copyOf(fusions);
      hypers = Map.copyOf(hypers);
      arenas = List.copyOf(arenas);
      if (optimizers.isEmpty()) {
        throw new OptcException("no optimizer to benchmark");
      }
      if (arenas.isEmpty()) {
        throw new OptcException("no arena kind to benchmark");
      }
      checkSamples(warmup, repeats);
      JavaBackend.checkThreads(threads, "--threads");
    }

    /** The backends' own arenas only. */
    public Config(List<String> optimizers, Workload workload, List<Backend> backends, List<Fusion> fusions,
        int threads, int warmup, int repeats, double minSample, double maxCpuWait, boolean torch,
        Map<String, Map<String, Double>> hypers) {
      this(optimizers, workload, backends, fusions, threads, warmup, repeats, minSample, maxCpuWait, torch, hypers,
          List.of(Arenas.Kind.BACKEND));
    }

    /**
     * The most warm-up or timed samples a row takes: each sample is kept (and retaken under contention),
     * and ten thousand already take hours at the smallest sample length.
     */
    public static final int MAX_SAMPLES = 10_000;

    /** Sample counts a user gave: warm-up 0 to {@link #MAX_SAMPLES}, repeats 1 to it, or a one-line error. */
    public static void checkSamples(int warmup, int repeats) {
      if (warmup < 0 || warmup > MAX_SAMPLES) {
        throw new OptcException("--warmup must be between 0 and " + MAX_SAMPLES + ", not " + warmup);
      }
      if (repeats < 1 || repeats > MAX_SAMPLES) {
        throw new OptcException("--repeats must be between 1 and " + MAX_SAMPLES + ", not " + repeats);
      }
    }
  }

  /** The key of {@link Config#hypers()} whose values go to every optimizer that has the hyper. */
  public static final String EVERY = "*";

  /** Hyper settings that make optc's library optimizers run what torch_bench.py runs. */
  public static final Map<String, Map<String, Double>> PEER_HYPERS = Map.of("sgd", Map.of("momentum", 0.9));

  /** Told before each measurement starts. */
  public interface Listener {
    void starting(int done, int total, String label);
  }

  /** Runs every measurement of {@code config}; programs are compiled first, so errors come before any work. */
  public static Report run(Config config, Listener listener) throws CompileException {
    var programs = new ArrayList<OptProgram>();
    for (var o : config.optimizers()) {
      programs.add(OptProgram.load(o));
    }
    var names = new HashMap<String, Integer>();
    for (var p : programs) {
      if (names.put(p.name(), 1) != null) {
        throw new OptcException("optimizer '" + p.name() + "' is named twice");
      }
    }
    var hypers = new HashMap<String, Map<String, Double>>();
    for (var h : config.hypers().getOrDefault(EVERY, Map.of()).keySet()) {
      if (programs.stream().noneMatch(p -> p.ir().hypers().stream().anyMatch(x -> x.name().equals(h)))) {
        throw new OptcException("hyper '" + h + "': none of " + String.join(", ",
            programs.stream().map(OptProgram::name).toList()) + " has it");
      }
    }
    for (var p : programs) {
      var known = p.ir().hypers().stream().map(x -> x.name()).toList();
      var merged = new java.util.TreeMap<String, Double>();
      for (var source : List.of(config.hypers().getOrDefault(EVERY, Map.of()),
          config.hypers().getOrDefault(p.name(), Map.of()))) {
        source.forEach((h, v) -> {
          if (known.contains(h)) {
            merged.put(h, v);
          }
        });
      }
      hypers.put(p.name(), merged);
    }
    var workload = config.workload();
    var fusedBytes = new LinkedHashMap<String, Integer>();
    for (var p : programs) {
      fusedBytes.put(p.name(), Cost.of(Planner.plan(p.ir(), Fusion.FULL)).bytesPerElement());
    }
    int torchUnits = 0;
    if (config.torch()) {
      long supported = programs.stream().filter(p -> TorchPeer.SUPPORTED.contains(p.name())).count();
      torchUnits = (int) (supported * 3);
    }
    int total = config.backends().size() * config.arenas().size() * programs.size() * (2 + config.fusions().size())
        + torchUnits;
    var counter = new int[] {0};
    var rows = new ArrayList<Report.Row>();
    var notes = new ArrayList<String>();
    var machine = machine(config);
    for (var backend : config.backends()) {
      int threads = threadsOf(backend);
      var copies = new HashMap<Integer, Report.Row>();
      for (var p : programs) {
        var name = p.name();
        int fused = fusedBytes.get(name);
        // Each arena kind right after the other, so that both see the machine in the same state.
        for (var arenas : config.arenas()) {
          var runner = runner(backend, arenas);
          if (arenas == Arenas.Kind.NATIVE && config.arenas().contains(Arenas.Kind.BACKEND)
              && backend instanceof JavaBackend j && j.precision() == JavaEmitter.Precision.F32) {
            if (p == programs.getFirst()) {
              notes.add(runner + ": not measured twice: the java backend's arenas are native memory (the java rows)");
            }
            counter[0] += 2 + config.fusions().size();
            continue;
          }
          listener.starting(counter[0]++, total, runner + " " + name + " copy floor");
          var copy = copies.get(fused);
          if (copy == null) {
            copy = measureCopy(backend, name, workload, threads, fused, config);
            copies.put(fused, copy);
            if (!copy.measured()) {
              notes.add(backend.name() + " copy floor of " + fused + " B/param: skipped: " + copy.note());
            }
          }
          rows.add(new Report.Row(name, runner, "copy", Report.Kind.COPY, workload.numel(),
              workload.tensorCount(), threads, fused, fused, copy.stats(), copy.stepsPerSample(), copy.retaken(),
              copy.cpuWait(), copy.note()));
          listener.starting(counter[0]++, total, runner + " " + name + " probe");
          rows.add(measureStep(backend, arenas, Floors.probe(p), name, "probe", Report.Kind.PROBE, Fusion.FULL,
              workload, threads, fused, Map.of(), config, notes));
          for (var f : config.fusions()) {
            listener.starting(counter[0]++, total, runner + " " + name + " " + f.label());
            rows.add(measureStep(backend, arenas, p, name, f.label(), Report.Kind.STEP, f, workload, threads, fused,
                hypers.get(name), config, notes));
          }
        }
      }
    }
    if (config.torch()) {
      var names2 = programs.stream().map(OptProgram::name).toList();
      int base = counter[0];
      var done = new int[] {0};
      var result = TorchPeer.run(names2, workload, config.threads(), config.warmup(), config.repeats(),
          config.minSample(), config.maxCpuWait(), fusedBytes, label -> listener.starting(base + done[0]++, total, label));
      counter[0] = base + done[0];
      if (result.skipped() != null) {
        notes.add("torch: skipped: " + result.skipped());
      } else {
        machine.put("torch", result.version());
        rows.addAll(result.rows());
        programs.stream().filter(p -> !TorchPeer.SUPPORTED.contains(p.name()))
            .forEach(p -> notes.add("torch: no torch.optim counterpart of " + p.name()));
      }
    }
    // One group of rows per optimizer, in the order given: its backends' rows, then the peer's.
    var grouped = new ArrayList<Report.Row>();
    for (var p : programs) {
      rows.stream().filter(r -> r.optimizer().equals(p.name())).forEach(grouped::add);
    }
    listener.starting(total, total, "done");
    loadAverage().ifPresent(l -> machine.put("load_average_end", l + " (1 min, at the end)"));
    var settings = new LinkedHashMap<String, Object>();
    settings.put("optimizers", programs.stream().map(OptProgram::name).toList());
    settings.put("workload", workload.name());
    settings.put("params", workload.numel());
    settings.put("tensors", workload.tensorCount());
    settings.put("backends", config.backends().stream().map(Harness::describe).toList());
    settings.put("fusions", config.fusions().stream().map(Fusion::label).toList());
    settings.put("arenas", config.arenas().stream().map(a -> a.name().toLowerCase(Locale.ROOT)).toList());
    settings.put("threads", config.threads());
    settings.put("warmup", config.warmup());
    settings.put("repeats", config.repeats());
    settings.put("min_sample_s", config.minSample());
    settings.put("max_cpu_wait", config.maxCpuWait());
    var hyperText = new ArrayList<String>();
    for (var p : programs) {
      hypers.get(p.name()).forEach((h, v) -> hyperText.add(p.name() + " " + h + "=" + v));
    }
    settings.put("hypers", hyperText);
    return new Report(machine, settings, grouped, notes);
  }

  /** The runner a backend's rows are named by: its name, with {@code -native} for native arenas. */
  static String runner(Backend b, Arenas.Kind arenas) {
    return arenas == Arenas.Kind.BACKEND ? b.name() : b.name() + "-native";
  }

  /** The thread count a backend runs with: its own for Java, the device's compute units for OpenCL. */
  public static int threadsOf(Backend b) {
    return switch (b) {
      case JavaBackend j -> j.threads();
      case OpenClBackend o -> o.device().computeUnits();
      default -> Runtime.getRuntime().availableProcessors();
    };
  }

  static String describe(Backend b) {
    return switch (b) {
      case JavaBackend j -> b.name() + " (" + j.threads() + " threads)";
      case OpenClBackend o -> "opencl (" + o.device().name() + ", " + o.device().platform().name() + " "
          + o.device().driverVersion() + ", " + o.device().computeUnits() + " compute units)";
      case CudaBackend c -> "cuda (" + c.device().name() + ", " + c.device().multiprocessorCount() + " SMs, compute "
          + "capability " + c.device().computeCapability() + ")";
      default -> b.name();
    };
  }

  // ------------------------------------------------------------------ measuring

  /** The most seconds one measurement waits for other work on the machine to stop. */
  public static final double PATIENCE_S = 120;

  /**
   * One measurement's samples and how many steps each sample timed.
   *
   * @param retaken samples taken again because other work competed for the CPU during them
   * @param cpuWait the mean share of the kept samples' time during which a runnable thread waited for a
   *     CPU ({@link Contention}), or NaN where the kernel does not say
   */
  public record Measured(Stats stats, int stepsPerSample, int retaken, double cpuWait) {}

  /**
   * Times {@code step} as the class comment says. A sample during which runnable threads waited for a CPU
   * more than {@code maxCpuWait} of its time (other work on the machine) is taken again once the machine is
   * idle ({@link Contention#awaitIdle}), up to three times as many extra samples as {@code repeats} and
   * {@link #PATIENCE_S} seconds of waiting; after that the contended samples are kept (and show).
   */
  public static Measured measure(Runnable step, int warmup, int repeats, double minSample, double maxCpuWait) {
    long t0 = System.nanoTime();
    step.run();
    double estimate = (System.nanoTime() - t0) / 1e9;
    int k = stepsPerSample(estimate, minSample);
    for (int w = 0; w < warmup; w++) {
      t0 = System.nanoTime();
      for (int i = 0; i < k; i++) {
        step.run();
      }
      estimate = (System.nanoTime() - t0) / 1e9 / k;
    }
    k = stepsPerSample(estimate, minSample);
    var samples = new double[repeats];
    double waited = 0;
    boolean known = true;
    int retaken = 0;
    long patience = System.nanoTime() + (long) (PATIENCE_S * 1e9);
    for (int r = 0; r < repeats; ) {
      long w0 = Contention.waitedMicros();
      t0 = System.nanoTime();
      for (int i = 0; i < k; i++) {
        step.run();
      }
      long t1 = System.nanoTime();
      long w1 = Contention.waitedMicros();
      double share = w0 < 0 || w1 < 0 ? Double.NaN : (w1 - w0) / ((t1 - t0) / 1e3);
      if (maxCpuWait < 1 && share > maxCpuWait && retaken < 3 * repeats) {
        retaken++;
        Contention.awaitIdle(patience);
        continue;
      }
      known &= !Double.isNaN(share);
      waited += Double.isNaN(share) ? 0 : share;
      samples[r++] = (t1 - t0) / 1e9 / k;
    }
    return new Measured(Stats.of(samples), k, retaken, known ? waited / repeats : Double.NaN);
  }

  static int stepsPerSample(double seconds, double minSample) {
    if (seconds <= 0) {
      return 10_000;
    }
    return (int) Math.max(1, Math.min(10_000, Math.ceil(minSample / seconds)));
  }

  private static Report.Row measureCopy(Backend backend, String optimizer, Workload w, int threads, int fused,
      Config config) {
    long bytes = (long) fused * w.numel();
    Supplier<Floors.Kernel> make = switch (backend) {
      case OpenClBackend o -> () -> Floors.openClCopy(o.device(), bytes);
      case JavaBackend j -> () -> Floors.javaCopy(bytes, threads);
      case CudaBackend c -> () -> Floors.cudaCopy(c.device(), bytes);
      default -> null;
    };
    if (make == null) {
      return skipped(optimizer, backend.name(), "copy", Report.Kind.COPY, w, threads, fused, fused,
          "optc bench has no copy kernel for the " + backend.name() + " backend");
    }
    // Source and destination together hold exactly the bytes the copy moves.
    var skip = tooBig(backend, bytes, 0);
    if (skip != null) {
      return skipped(optimizer, backend.name(), "copy", Report.Kind.COPY, w, threads, fused, fused, skip);
    }
    try (var kernel = make.get()) {
      var m = measure(kernel::run, config.warmup(), config.repeats(), config.minSample(), config.maxCpuWait());
      return new Report.Row(optimizer, backend.name(), "copy", Report.Kind.COPY, w.numel(), w.tensorCount(), threads,
          fused, fused, m.stats(), m.stepsPerSample(), m.retaken(), m.cpuWait(), null);
    } finally {
      System.gc();
    }
  }

  private static Report.Row measureStep(Backend backend, Arenas.Kind arenas, OptProgram program, String optimizer,
      String variant, Report.Kind kind, Fusion fusion, Workload w, int threads, int fused, Map<String, Double> hypers,
      Config config, List<String> notes) {
    var runner = runner(backend, arenas);
    var plan = Planner.plan(program.ir(), fusion);
    int own = Cost.of(plan).bytesPerElement();
    // Per-element arenas the engine allocates: w, g, element states and element temporaries.
    long elemBuffers = 2 + program.ir().states().stream().filter(s -> s.shape().kind() == Kind.ELEM).count()
        + plan.temps().stream().filter(k -> k == Kind.ELEM).count();
    // While the engine is filled, the random weights and one tensor's gradients are on the heap too.
    var skip = tooBig(backend, elemBuffers * 4L * w.numel(), 8L * w.numel());
    if (skip != null) {
      notes.add(runner + " " + optimizer + " " + variant + ": skipped: " + skip);
      return skipped(optimizer, runner, variant, kind, w, threads, own, fused, skip);
    }
    try (var opt = bind(backend, arenas, program, fusion, w, hypers)) {
      var m = measure(opt::step, config.warmup(), config.repeats(), config.minSample(), config.maxCpuWait());
      return new Report.Row(optimizer, runner, variant, kind, w.numel(), w.tensorCount(), threads, own, fused,
          m.stats(), m.stepsPerSample(), m.retaken(), m.cpuWait(), null);
    } catch (OptcException e) {
      // A backend that cannot keep its arenas in native memory (CUDA, OpenCL on a GPU, java64) says why.
      if (arenas == Arenas.Kind.BACKEND) {
        throw e;
      }
      notes.add(runner + " " + optimizer + " " + variant + ": skipped: " + e.getMessage());
      return skipped(optimizer, runner, variant, kind, w, threads, own, fused, e.getMessage());
    } finally {
      System.gc();
    }
  }

  /**
   * {@code program} bound to the tensors of {@code w} on {@code backend}, with random weights and gradients
   * (uniform, fixed seed) and the hypers of {@code hypers} that the program has; ready to step.
   */
  public static Optimizer bind(Backend backend, OptProgram program, Fusion fusion, Workload w,
      Map<String, Double> hypers) {
    return bind(backend, Arenas.Kind.BACKEND, program, fusion, w, hypers);
  }

  /** {@link #bind(Backend, OptProgram, Fusion, Workload, Map)} with the arenas where {@code arenas} says. */
  public static Optimizer bind(Backend backend, Arenas.Kind arenas, OptProgram program, Fusion fusion, Workload w,
      Map<String, Double> hypers) {
    var known = program.ir().hypers().stream().map(h -> h.name()).toList();
    var set = new HashMap<String, Double>();
    hypers.forEach((h, v) -> {
      if (known.contains(h)) {
        set.put(h, v);
      }
    });
    var rnd = new SplittableRandom(42);
    var tensors = new ArrayList<Optimizer.Tensor>();
    for (int i = 0; i < w.shapes().size(); i++) {
      var shape = w.shapes().get(i);
      tensors.add(new Optimizer.Tensor("p" + i, shape, random(rnd, numel(shape), 0.05f)));
    }
    var opt = Optimizer.builder(program).backend(backend).fusion(fusion)
        .arenas(arenas == Arenas.Kind.BACKEND ? Arenas.BACKEND : Arenas.NATIVE).group(set, tensors).build();
    tensors.clear(); // the engine has its own copy; let these go before the gradients are made
    try {
      for (int i = 0; i < w.shapes().size(); i++) {
        opt.setGrad("p" + i, random(rnd, numel(w.shapes().get(i)), 0.01f));
      }
      return opt;
    } catch (RuntimeException e) {
      opt.close();
      throw e;
    }
  }

  private static Report.Row skipped(String optimizer, String runner, String variant, Report.Kind kind, Workload w,
      int threads, int own, int fused, String why) {
    return new Report.Row(optimizer, runner, variant, kind, w.numel(), w.tensorCount(), threads, own, fused, null, 0,
        0, Double.NaN, why);
  }

  /**
   * Why buffers of {@code bytes} bytes (on the Java heap, or on the OpenCL device) plus {@code staged} bytes
   * of host arrays do not fit, or null when they do.
   */
  static String tooBig(Backend backend, long bytes, long staged) {
    var rt = Runtime.getRuntime();
    long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
    if (backend instanceof JavaBackend j && j.precision() == JavaEmitter.Precision.F32) {
      // Its arenas are native memory, beside the Java heap.
      long available = procField("/proc/meminfo", "MemAvailable").map(v -> v.replace("kB", "").strip())
          .filter(v -> v.matches("\\d+")).map(v -> Long.parseLong(v) * 1024).orElse(Long.MAX_VALUE);
      if (bytes > available * 0.9) {
        return "needs " + gib(bytes) + " of native memory, " + gib(available) + " is available";
      }
      return staged > free * 0.95 ? "needs " + gib(staged) + " of Java heap, " + gib(free) + " is free" : null;
    }
    if (!(backend instanceof JavaBackend)) {
      // Device buffers: PoCL's (host memory, but not the Java heap) are checked; other devices' are their own.
      if (backend instanceof OpenClBackend o && bytes > o.device().globalMemSize() * 0.9) {
        return "needs " + gib(bytes) + " of device buffers, the device has " + gib(o.device().globalMemSize());
      }
      if (backend instanceof CudaBackend c && bytes > c.device().totalMemory() * 0.9) {
        return "needs " + gib(bytes) + " of device memory, the GPU has " + gib(c.device().totalMemory());
      }
      return staged > free * 0.95 ? "needs " + gib(staged) + " of Java heap, " + gib(free) + " is free" : null;
    }
    long need = bytes + staged;
    return need > free * 0.95 ? "needs " + gib(need) + " of Java heap, " + gib(free) + " is free (the JVM's -Xmx "
        + "limits it)" : null;
  }

  private static String gib(long bytes) {
    return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
  }

  private static int numel(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return (int) n;
  }

  private static float[] random(SplittableRandom rnd, int n, float scale) {
    var a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (rnd.nextDouble() * 2 - 1) * scale;
    }
    return a;
  }

  // ------------------------------------------------------------------ the machine

  /** Cores, CPU, memory, OS, Java, the date and the load when the run started. */
  static Map<String, Object> machine(Config config) {
    var m = new LinkedHashMap<String, Object>();
    m.put("date", LocalDate.now().toString());
    m.put("cores", Runtime.getRuntime().availableProcessors());
    m.put("cpu", procField("/proc/cpuinfo", "model name").orElse(System.getProperty("os.arch")));
    procField("/proc/meminfo", "MemTotal").ifPresent(v -> {
      var kb = v.replace("kB", "").strip();
      m.put("memory", kb.matches("\\d+") ? gib(Long.parseLong(kb) * 1024) : v);
    });
    m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    m.put("java", Runtime.version().toString());
    m.put("java_max_heap", gib(Runtime.getRuntime().maxMemory()));
    // Other work on the machine shows up as noise: the load says how much there was.
    loadAverage().ifPresent(l -> m.put("load_average", l + " (1 min, at the start)"));
    return m;
  }

  private static java.util.Optional<String> loadAverage() {
    try {
      return java.util.Optional.of(Files.readString(Path.of("/proc/loadavg")).strip().split(" ", 4)[0]);
    } catch (IOException | RuntimeException e) {
      return java.util.Optional.empty(); // not Linux
    }
  }

  private static java.util.Optional<String> procField(String file, String key) {
    try {
      return Files.readAllLines(Path.of(file)).stream().filter(l -> l.startsWith(key))
          .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst();
    } catch (IOException | RuntimeException e) {
      return java.util.Optional.empty();
    }
  }
}
