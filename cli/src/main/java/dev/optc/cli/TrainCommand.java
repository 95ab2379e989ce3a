package dev.optc.cli;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.BackendProvider;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.training.LossChart;
import dev.optc.training.Natives;
import dev.optc.training.OptcStepRunner;
import dev.optc.training.StepRunner;
import dev.optc.training.Task;
import dev.optc.training.Tasks;
import dev.optc.training.TorchStepRunner;
import dev.optc.training.TrainReport;
import dev.optc.training.Trainer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Train a real model with each optimizer and compare them: forward and backward by libtorch "
        + "(JavaCPP's PyTorch presets, in the jars), the step by optc; with --peers also by libtorch's own optimizers.",
        "Every run starts from the seed's weights and sees the seed's batches. The table: final training loss (the "
            + "mean since the last evaluation), validation loss and accuracy (charlm: bits per character), the "
            + "median ms of forward+backward and of the optimizer step, and the step's share.",
        "TASK: digits (1,797 8x8 digits, an MLP; 500 steps, under a minute) or charlm (a character GPT on "
            + "fortune-cookie text; 1,500 steps, minutes).",
        "A progress bar shows on a terminal's stderr, else a line per evaluation; the table goes to stdout."},
    footer = {"%nExamples:",
        "  optc train digits --optimizer sgd,adamw,lion --plot train.png",
        "  optc train digits --optimizer adamw,adam,sgd --peers --json runs.json",
        "  optc train charlm --optimizer adamw --set lr=1e-3 --steps 500",
        "  optc train digits --optimizer my.opt,adamw --set my:lr=0.01",
        "  optc train charlm --optimizer lion+adamw,adamw --set lion:lr=1e-4",
        "%nOn this task each library optimizer runs with the lr (and for sgd momentum=0.9) that docs/training.md "
            + "lists, unless --set gives one. libtorch runs on $OPTC_TORCH_THREADS threads (default 1)."})
final class TrainCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "TASK", description = "digits or charlm")
  String taskName;

  @Option(names = "--optimizer", defaultValue = "adamw", paramLabel = "A[+B][,C...]",
      description = "Optimizers: library names or .opt files, separated by commas (default adamw). A+B runs two "
          + "programs in one optimizer, as Muon is used: A on the hidden matrices, B on the embeddings, the output "
          + "head, biases and norm gains (muon+adamw).")
  String optimizerList;

  /** The --optimizer entries, stripped; an empty entry is an error. */
  private List<String> optimizers;

  /**
   * One --optimizer entry: one program, or two (A+B: A on the hidden matrices, B on the rest).
   *
   * @param text the entry as given
   * @param given each program's text
   * @param programs the programs
   */
  record Entry(String text, List<String> given, List<OptProgram> programs) {
    String name() {
      return String.join("+", programs.stream().map(OptProgram::name).toList());
    }
  }

  @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps per run (default: the task's).")
  Integer steps;

  @Option(names = "--batch", paramLabel = "B", description = "Examples per step (default: the task's).")
  Integer batch;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "S",
      description = "Initial weights and batches (default 0); the train/validation split is fixed.")
  long seed;

  @Option(names = "--eval-every", paramLabel = "N",
      description = "Steps between validation evaluations, the points of the curves (default: the task's).")
  Integer evalEvery;

  @Option(names = "--set", paramLabel = "[OPT:]NAME=VALUE",
      description = "Set a hyper of every optimizer that has it, or of one (lion:lr=3e-4: every lion, alone or in "
          + "A+B; lion+adamw:lr=1e-3: each program of that entry that has it); repeatable.")
  List<String> sets = List.of();

  @Option(names = "--quantize-from", defaultValue = "4096", paramLabel = "N",
      description = "Quantized states (as q8, as q4: adamw8bit, adamw4bit, ...) are stored as codes in tensors of "
          + "at least N elements; smaller ones keep float32 (default 4096, bitsandbytes' min_8bit_size).")
  int quantizeFrom;

  @Option(names = "--stable-embeddings",
      description = "Keep the quantized states of the model's embedding tables in float32, as bitsandbytes "
          + "recommends (its StableEmbedding): a rarely seen row's second moment falls to the map's zero while its "
          + "momentum does not, and its step becomes lr * m / eps.")
  boolean stableEmbeddings;

  @Option(names = "--backend", defaultValue = "java", paramLabel = "BACKEND",
      description = "optc's backend: java, opencl[:PLATFORM:DEVICE] or cuda[:DEVICE] (default java).")
  String backend;

  @Option(names = "--peers", description = "Also run libtorch's own AdamW, Adam, SGD, Adagrad or RMSprop for each "
      + "optimizer of those names, with the same hyper values, model, seed and batches (an A+B has no peer).")
  boolean peers;

  @Option(names = "--json", paramLabel = "FILE", description = "Write the runs and their curves as JSON.")
  Path json;

  @Option(names = "--csv", paramLabel = "FILE",
      description = "Write every point of the curves as CSV (optimizer,runner,step,train_loss,val_loss,val_accuracy).")
  Path csv;

  @Option(names = "--plot", paramLabel = "FILE.png", description = "Write the loss curves (PNG).")
  Path plot;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  /** Steps and batches beyond these are mistakes, not experiments on this machine. */
  static final int MAX_STEPS = 10_000_000;

  @Override
  public Integer call() throws CompileException {
    var out = spec.commandLine().getOut();
    var task = Tasks.named(taskName);
    var d = task.defaults();
    int n = steps == null ? d.steps() : check("--steps", steps, 1, MAX_STEPS);
    int b = batch == null ? d.batch() : check("--batch", batch, 1, MAX_STEPS);
    int every = evalEvery == null ? Math.min(d.evalEvery(), n) : check("--eval-every", evalEvery, 1, MAX_STEPS);
    optimizers = new ArrayList<>();
    var texts = new ArrayList<List<String>>();
    for (var opt : optimizerList.split(",", -1)) {
      if (opt.isBlank()) {
        throw new OptcException("--optimizer '" + optimizerList + "' has an empty entry; e.g. --optimizer sgd,adamw");
      }
      optimizers.add(opt.strip());
      texts.add(parts(opt.strip()));
    }
    checkOutputs(texts);
    if (quantizeFrom < 1) {
      throw new OptcException("--quantize-from " + quantizeFrom + ": give a number of elements, 1 or more");
    }
    var entries = new ArrayList<Entry>();
    for (int i = 0; i < optimizers.size(); i++) {
      var programs = new ArrayList<OptProgram>();
      for (var text : texts.get(i)) {
        programs.add(OptProgram.load(text));
      }
      entries.add(new Entry(optimizers.get(i), texts.get(i), programs));
    }
    var hypers = hypers(task, entries, sets);
    var optcBackend = BackendProvider.forName(backend, Natives.configuredThreads());
    Natives.load();
    var factories = new ArrayList<StepRunner.Factory>();
    var unquantized = stableEmbeddings ? task.embeddings() : java.util.Set.<String>of();
    var notHidden = notHidden(task);
    boolean anyPeer = false;
    for (int i = 0; i < entries.size(); i++) {
      var ps = entries.get(i).programs();
      var h = hypers.get(i);
      if (ps.size() == 2) {
        factories.add(OptcStepRunner.factory(new OptcStepRunner.Part(ps.get(0), h.get(0)),
            new OptcStepRunner.Part(ps.get(1), h.get(1)), optcBackend, quantizeFrom, unquantized, notHidden));
        continue;
      }
      var p = ps.getFirst();
      factories.add(OptcStepRunner.factory(p, optcBackend, h.getFirst(), quantizeFrom, unquantized));
      if (peers && TorchStepRunner.hasPeer(p.name())) {
        factories.add(TorchStepRunner.factory(p.name(), HostEvaluator.hyperValues(p.ir(), h.getFirst())));
        anyPeer = true;
      }
    }
    if (peers && !anyPeer) {
      throw new OptcException("--peers: libtorch has a peer of adamw, adam, sgd, adagrad and rmsprop only, and none "
          + "of the optimizers is one of them" + (entries.stream().anyMatch(e -> e.programs().size() > 1)
          ? " (an A+B combination has no libtorch peer)" : ""));
    }
    if (peers) {
      for (var e : entries) {
        if (e.programs().size() > 1) {
          spec.commandLine().getErr().println("--peers: " + e.name() + " runs in optc only; libtorch has no "
              + "optimizer that steps its groups with two programs");
        }
      }
    }
    var config = new Trainer.Config(task, n, b, every, seed);
    var progress = new Lines(factories.size() * n, task, spec.commandLine().getErr());
    var runs = new ArrayList<Trainer.Run>();
    try {
      for (var f : factories) {
        runs.add(Trainer.run(config, f, progress));
        progress.finished(n);
      }
    } finally {
      progress.done();
    }
    var report = new TrainReport(task, seed, n, b, runs);
    out.print(header(task, config, entries, hypers));
    out.println();
    out.print(report.table());
    out.print(LEGEND);
    out.flush();
    try (var batchFiles = new AtomicFiles.Batch()) {
      if (json != null) {
        batchFiles.add(json, AtomicFiles.content(report.json()));
      }
      if (csv != null) {
        batchFiles.add(csv, AtomicFiles.content(report.csv()));
      }
      if (plot != null) {
        batchFiles.add(plot, AtomicFiles.content(LossChart.png(report, String.format(Locale.ROOT,
            "optc train %s: %d steps of %d, seed %d", task.name(), n, b, seed))));
      }
      batchFiles.commit();
    }
    return 0;
  }

  static final String LEGEND = """

      train loss: mean over the steps since the last evaluation. fwd+bwd ms: median time of zeroing the gradients,
        forward and backward (libtorch); step ms: median time of the optimizer step; step: its share of the two.
        optc steps the model's own memory: its parameters and gradients are views of optc's arenas (no copies).
      """;

  private static int check(String option, int value, int min, int max) {
    if (value < min || value > max) {
      throw new OptcException(option + " must be from " + min + " to " + max + ", not " + value);
    }
    return value;
  }

  /**
   * The programs of one --optimizer entry: {@code A}, or {@code A+B} (A on the hidden matrices, B on the rest);
   * an empty program or a third one is an error.
   */
  static List<String> parts(String entry) {
    var parts = entry.split("\\+", -1);
    for (var p : parts) {
      if (p.isBlank()) {
        throw new OptcException("--optimizer '" + entry + "' has an empty program; a combination is A+B, e.g. "
            + "--optimizer muon+adamw");
      }
    }
    if (parts.length > 2) {
      throw new OptcException("--optimizer '" + entry + "' names " + parts.length + " programs; a combination is two, "
          + "A+B: A on the hidden matrices, B on the embeddings, output head, biases and norm gains");
    }
    return java.util.Arrays.stream(parts).map(String::strip).toList();
  }

  /**
   * Each program's hyper values, per entry and program: the task's recommendation for a library optimizer of that
   * name, then every unprefixed --set the program has, then the --set values prefixed with the entry (each of its
   * programs that has the hyper), or with the program's name or text (that program wherever it runs).
   */
  static List<List<Map<String, Double>>> hypers(Task task, List<Entry> entries, List<String> sets) {
    var global = new LinkedHashMap<String, String>();
    var specific = new LinkedHashMap<String, Map<String, String>>();
    for (var s : sets) {
      int eq = s.indexOf('=');
      int colon = s.indexOf(':');
      if (colon > 0 && (eq < 0 || colon < eq)) {
        var who = s.substring(0, colon).strip();
        if (entries.stream().noneMatch(e -> addresses(e, who, 0) || addresses(e, who, e.programs().size() - 1))) {
          throw new OptcException("--set " + s + ": '" + who + "' is none of the optimizers ("
              + String.join(", ", entries.stream().map(Entry::name).toList()) + ")");
        }
        specific.computeIfAbsent(who, k -> new LinkedHashMap<>()).put(s, s.substring(colon + 1));
      } else {
        global.put(s, s);
      }
    }
    var parsedGlobal = SimulateCommand.parseSets(List.copyOf(global.values()));
    for (var h : parsedGlobal.keySet()) {
      if (entries.stream().flatMap(e -> e.programs().stream()).noneMatch(p -> has(p, h))) {
        throw new OptcException("--set " + h + ": none of the optimizers has a hyper '" + h + "'");
      }
    }
    var result = new ArrayList<List<Map<String, Double>>>();
    for (var entry : entries) {
      var perProgram = new ArrayList<Map<String, Double>>();
      for (var p : entry.programs()) {
        var m = new LinkedHashMap<String, Double>();
        task.hypers(p.name()).forEach((k, v) -> {
          if (has(p, k)) {
            m.put(k, v);
          }
        });
        parsedGlobal.forEach((k, v) -> {
          if (has(p, k)) {
            m.put(k, v);
          }
        });
        perProgram.add(m);
      }
      for (var e : specific.entrySet()) {
        var parsed = SimulateCommand.parseSets(List.copyOf(e.getValue().values()));
        var addressed = new ArrayList<Integer>();
        for (int k = 0; k < entry.programs().size(); k++) {
          if (addresses(entry, e.getKey(), k)) {
            addressed.add(k);
          }
        }
        if (addressed.isEmpty()) {
          continue;
        }
        for (var h : parsed.entrySet()) {
          var having = addressed.stream().filter(k -> has(entry.programs().get(k), h.getKey())).toList();
          if (having.isEmpty()) {
            var p = entry.programs().get(addressed.getFirst());
            var names = p.ir().hypers().stream().map(x -> x.name()).toList();
            throw new OptcException("--set " + e.getKey() + ":" + h.getKey() + ": " + (addressed.size() == 1 ? p.name()
                + " has no hyper '" + h.getKey() + "' (its hypers: " + (names.isEmpty() ? "none" : String.join(", ",
                names)) + ")" : "neither program of " + entry.name() + " has a hyper '" + h.getKey() + "'"));
          }
          having.forEach(k -> perProgram.get(k).put(h.getKey(), h.getValue()));
        }
      }
      result.add(perProgram);
    }
    return result;
  }

  /**
   * Whether a --set prefix {@code who} names program {@code k} of {@code entry}: the entry's text or name (all its
   * programs), or the program's name or text.
   */
  private static boolean addresses(Entry entry, String who, int k) {
    return entry.text().equals(who) || entry.name().equals(who) || entry.programs().get(k).name().equals(who)
        || entry.given().get(k).equals(who);
  }

  private static boolean has(OptProgram p, String hyper) {
    return p.ir().hypers().stream().anyMatch(h -> h.name().equals(hyper));
  }

  private String header(Task task, Trainer.Config c, List<Entry> entries, List<List<Map<String, Double>>> hypers) {
    var sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "optc train %s: %s%n", task.name(), task.description()));
    sb.append(String.format(Locale.ROOT, "%d steps of %d, seed %d, evaluated every %d steps; optc on %s, libtorch on "
        + "%d thread%s%n", c.steps(), c.batch(), c.seed(), c.evalEvery(), backend, Natives.threads(),
        Natives.threads() == 1 ? "" : "s"));
    var parts = new ArrayList<String>();
    for (int i = 0; i < entries.size(); i++) {
      var entry = entries.get(i);
      for (int k = 0; k < entry.programs().size(); k++) {
        if (!hypers.get(i).get(k).isEmpty()) {
          var sorted = new TreeMap<>(hypers.get(i).get(k));
          var kv = new ArrayList<String>();
          sorted.forEach((key, v) -> kv.add(key + "=" + fmt(v)));
          var where = entry.programs().size() == 1 ? "" : " (" + (k == 0 ? "hidden matrices" : "the rest") + " in "
              + entry.name() + ")";
          parts.add(entry.programs().get(k).name() + where + " " + String.join(" ", kv));
        }
      }
    }
    if (!parts.isEmpty()) {
      sb.append("hypers (the rest are defaults): ").append(String.join("; ", parts)).append('\n');
    }
    if (entries.stream().anyMatch(e -> e.programs().size() > 1)) {
      sb.append("A+B: A steps the hidden matrices (2+ dimensions, not ").append(String.join(", ",
          new java.util.TreeSet<>(notHidden(task)))).append("), B the rest\n");
    }
    return sb.toString();
  }

  private static java.util.Set<String> notHidden(Task task) {
    var s = new java.util.HashSet<>(task.embeddings());
    s.addAll(task.head());
    return s;
  }

  private static String fmt(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
  }

  /** Fails before any training if a result file could not be written. */
  private void checkOutputs(List<List<String>> texts) {
    OutputFiles.checkReports(json, csv, plot, "--optimizer", texts.stream().flatMap(List::stream).toList());
  }

  /** Progress: a bar on a terminal's stderr, otherwise a line on stderr per point of the curves. */
  static final class Lines implements Trainer.Listener {
    private final boolean terminal = Progress.stderrIsTerminal();
    private final Progress bar;
    private final int total;
    private final Task task;
    private final java.io.PrintWriter err;
    private int before;

    Lines(int total, Task task, java.io.PrintWriter err) {
      this.total = total;
      this.task = task;
      this.err = err;
      this.bar = Progress.forItems(err, "train", total, "step");
    }

    @Override
    public void point(String optimizer, String runner, Trainer.Point p, int steps) {
      var quality = task.quality() == Task.Quality.BITS_PER_CHAR
          ? String.format(Locale.ROOT, "%.3f bpc", p.valLoss() / Math.log(2))
          : String.format(Locale.ROOT, "acc %.1f%%", 100 * p.valAccuracy());
      var label = String.format(Locale.ROOT, "%s %s: step %d/%d train %.4f val %.4f %s", optimizer, runner, p.step(),
          steps, p.trainLoss(), p.valLoss(), quality);
      if (terminal) {
        bar.update(before + p.step(), total, label);
      } else {
        err.println(label);
        err.flush();
      }
    }

    void finished(int steps) {
      before += steps;
    }

    void done() {
      bar.done();
    }
  }
}
