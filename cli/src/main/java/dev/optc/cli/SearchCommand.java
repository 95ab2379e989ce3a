package dev.optc.cli;

import dev.optc.bench.Json;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.ir.HostEvaluator;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.cache.ProgramCache;
import dev.optc.training.Tasks;
import dev.optc.training.search.Fitness;
import dev.optc.training.search.FitnessChart;
import dev.optc.training.search.Funnel;
import dev.optc.training.search.Genome;
import dev.optc.training.search.Mutator;
import dev.optc.training.search.Search;
import dev.optc.training.search.TaskFitness;
import dev.optc.training.search.ToyFitness;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "search", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Discover optimizers by program search (regularized evolution over .opt programs), as Lion was "
        + "found: from a seed program, mutants (insert, delete or modify a statement, perturb a constant, add or "
        + "remove a state) are compiled, deduplicated by their optimized IR and by their update on fixed inputs, "
        + "and scored by a short training run, the best lr of a 3-value grid taken.",
        "With --workers N, N candidates train at once, each on its own thread with its own model (libtorch wants a "
            + "model's calls from one thread). The same --seed and --workers give the same history.",
        "DIR gets best.opt, top-01.opt ... (a header comment says where each came from and how it scored) and "
            + "history.jsonl (one line per candidate: hash, parent hash, fitness, lr, eval ms, program) and fitness.png "
            + "(the best fitness so far and the population's median over the candidates).",
        "With --funnel K the seed and the top K are trained again, longer, on unseen task seeds of every --task; "
            + "those that beat the seed on every task enter the hall of fame (DIR/hall-of-fame-NN.opt, funnel.jsonl)."},
    footer = {"%nExamples:",
        "  optc search --task digits --from sgd --evals 200 --out runs/sgd",
        "  optc search --task digits --from adamw --budget 10m --population 24 --tournament 6 --out runs/adamw",
        "  optc search --task digits --from sgd --budget 30m --workers 2 --funnel 5 --out runs/sgd-30m",
        "  optc search --task toy --from sgd --evals 300 --out /tmp/toy"})
final class SearchCommand implements Callable<Integer> {
  @Option(names = "--task", required = true, split = ",", paramLabel = "TASK",
      description = "digits, charlm, or toy (a noisy quadratic, no libtorch: seconds). The first task scores the "
          + "search; with --funnel every task given (repeat the option or separate by commas) scores its finalists.")
  List<String> taskNames;

  @Option(names = "--from", required = true, paramLabel = "PROGRAM",
      description = "The seed: a library name (sgd, adamw, ...) or a .opt file.")
  String from;

  @Option(names = "--evals", paramLabel = "N",
      description = "Stop after N candidates (cache hits included; default 200 unless --budget is given).")
  Integer evals;

  @Option(names = "--budget", paramLabel = "TIME", description = "Stop after this long: 90s, 30m, 2h.")
  String budget;

  @Option(names = "--population", defaultValue = "20", paramLabel = "P", description = "Population size (default 20).")
  int population;

  @Option(names = "--tournament", defaultValue = "5", paramLabel = "K",
      description = "Members drawn per tournament (default 5).")
  int tournament;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "S",
      description = "The search's random seed (default 0); the task's weights and batches use --task-seed.")
  long seed;

  @Option(names = "--workers", defaultValue = "1", paramLabel = "N", description = "Candidates trained at once, "
      + "each on its own thread with its own model (default 1). The history depends on the seed and N.")
  int workers;

  @Option(names = "--task-seed", defaultValue = "0", paramLabel = "S", description = "The task's seed (default 0).")
  long taskSeed;

  @Option(names = "--steps", paramLabel = "N", description = "Training steps per evaluation (default 100; toy 60).")
  Integer steps;

  @Option(names = "--lr-grid", paramLabel = "A,B,C",
      description = "The lr values tried per candidate (default: the seed's lr on this task times 0.1, 1, 10; "
          + "toy: 0.03, 0.3, 3).")
  String lrGrid;

  @Option(names = "--engine", defaultValue = "interpreted", paramLabel = "E", description = "How candidates' steps "
      + "run: interpreted (default: the plan run op by op, no javac and no warm-up per candidate) or javac (a "
      + "generated class per candidate). Both give the same bits, so the same fitness.")
  String engine;

  @Option(names = "--eval-timeout", defaultValue = "60", paramLabel = "SECONDS",
      description = "A training run past this gets the worst fitness (default 60).")
  int evalTimeout;

  @Option(names = "--mutations", paramLabel = "KIND=W,...", description = "Mutation weights (default insert=2,"
      + "delete=1,modify=3,constant=2,add-state=0.5,remove-state=0.5).")
  String mutations;

  @Option(names = "--max-states", defaultValue = "4", paramLabel = "N", description = "Cap on states (default 4).")
  int maxStates;

  @Option(names = "--max-statements", defaultValue = "16", paramLabel = "N",
      description = "Cap on statements (default 16).")
  int maxStatements;

  @Option(names = "--keep-hypers", description = "Keep the seed's hypers other than lr as hypers (default: "
      + "replace them by their values, which the search then perturbs and the compiler folds).")
  boolean keepHypers;

  @Option(names = "--ablate", description = "Simplify the best program by ablation: drop each statement and state "
      + "in turn, keeping a removal when fitness at its lr does not get worse (one training run each); written as "
      + "DIR/best-ablated.opt.")
  boolean ablate;

  @Option(names = "--funnel", defaultValue = "0", paramLabel = "K", description = "Train the seed and the top K "
      + "again on every --task, on task seeds the search did not use, with longer runs, each over its lr grid; those "
      + "that beat the seed on every task enter the hall of fame, DIR/hall-of-fame-01.opt ... (default 0: no funnel).")
  int funnel;

  @Option(names = "--funnel-seeds", paramLabel = "N",
      description = "Task seeds per task in the funnel: --task-seed + 1 ... + N (default 2).")
  Integer funnelSeeds;

  @Option(names = "--funnel-steps", paramLabel = "N", description = "Training steps per funnel run (default 5 x "
      + "--steps).")
  Integer funnelSteps;

  @Option(names = "--top", defaultValue = "5", paramLabel = "K", description = "How many top-N.opt files (default 5).")
  int top;

  @Option(names = "--out", required = true, paramLabel = "DIR", description = "Where the results go (made if absent).")
  Path out;

  @Option(names = "--resume", description = "Continue the search whose DIR/search.json and DIR/history.jsonl are in "
      + "--out (written as it goes): give the first run's options, with a larger --evals or a new --budget; its "
      + "candidates are made again and take their recorded fitness, so the result equals an uninterrupted run.")
  boolean resume;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)([smh])");

  static Duration duration(String text) {
    var m = DURATION.matcher(text.strip());
    if (!m.matches()) {
      throw new OptcException("--budget '" + text + "': give a number and a unit, e.g. 90s, 30m or 2h");
    }
    double v = Double.parseDouble(m.group(1));
    double seconds = v * switch (m.group(2)) {
      case "s" -> 1;
      case "m" -> 60;
      default -> 3600;
    };
    if (seconds < 1 || seconds > 7 * 86400) {
      throw new OptcException("--budget '" + text + "': must be from 1 s to 7 days");
    }
    return Duration.ofMillis((long) (seconds * 1000));
  }

  private static int check(String option, int value, int min, int max) {
    if (value < min || value > max) {
      throw new OptcException(option + " must be from " + min + " to " + max + ", not " + value);
    }
    return value;
  }

  @Override
  public Integer call() throws CompileException {
    var outWriter = spec.commandLine().getOut();
    Duration limit = budget == null ? null : duration(budget);
    int maxCandidates = evals != null ? check("--evals", evals, 1, 10_000_000) : limit == null ? 200 : 0;
    check("--population", population, 2, 100_000);
    check("--tournament", tournament, 1, population);
    check("--eval-timeout", evalTimeout, 1, 86_400);
    check("--workers", workers, 1, 256);
    check("--max-states", maxStates, 0, 64);
    check("--max-statements", maxStatements, 1, 256);
    check("--top", top, 1, 1000);
    check("--funnel", funnel, 0, 1000);
    if (funnel == 0 && (funnelSeeds != null || funnelSteps != null)) {
      throw new OptcException((funnelSeeds != null ? "--funnel-seeds" : "--funnel-steps") + " shapes the funnel: "
          + "give --funnel K too");
    }
    int seedsPerTask = funnelSeeds == null ? 2 : check("--funnel-seeds", funnelSeeds, 1, 100);
    var taskName = taskNames.getFirst();
    boolean toy = taskName.equals("toy");
    if (toy && taskNames.size() > 1) {
      throw new OptcException("--task toy: cannot be combined with other tasks (it has no model to train)");
    }
    if (taskNames.stream().distinct().count() < taskNames.size()) {
      throw new OptcException("--task " + String.join(",", taskNames) + ": a task is given twice");
    }
    var tasks = new ArrayList<dev.optc.training.Task>();
    if (!toy) {
      taskNames.forEach(t -> tasks.add(Tasks.named(t)));
    }
    if (!engine.equals("interpreted") && !engine.equals("javac")) {
      throw new OptcException("--engine '" + engine + "': give interpreted or javac");
    }
    boolean interpreted = engine.equals("interpreted");
    var task = toy ? null : tasks.getFirst();
    int n = steps == null ? (toy ? 60 : 100) : check("--steps", steps, 1, 1_000_000);
    var settings = new Mutator.Settings(Mutator.Settings.DEFAULT.weights(), maxStates, maxStatements);
    if (mutations != null) {
      settings = settings.withWeights(mutations);
    }
    checkOut();
    var source = OptProgram.resolve(from);
    var program = OptProgram.compile(source, Pipeline.Options.DEFAULT);
    var genome = Genome.parse(source.name(), source.text());
    if (!keepHypers) {
      genome = genome.frozen();
    }
    var grid = grid(task, program);
    Fitness fitness = toy ? new ToyFitness(n, taskSeed)
        : new TaskFitness(task, n, task.defaults().batch(), taskSeed, interpreted);
    var command = "optc " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
    var config = new Search.Config(genome, from, fitness, grid, population, tournament, seed, maxCandidates, limit,
        Duration.ofSeconds(evalTimeout), settings, workers);
    // What decides the candidates and their fitness; a resumed search must have the same.
    var state = new java.util.LinkedHashMap<String, Object>();
    state.put("program", ProgramCache.hash(genome.text()));
    state.put("fitness", fitness.describe());
    state.put("lr_grid", grid.toString());
    state.put("seed", Long.toString(seed));
    state.put("population", Integer.toString(population));
    state.put("tournament", Integer.toString(tournament));
    state.put("workers", Integer.toString(workers));
    var weights = new java.util.TreeMap<String, Double>();
    settings.weights().forEach((kind, w) -> weights.put(kind.name(), w));
    state.put("mutations", weights + ", max states " + settings.maxStates() + ", max statements "
        + settings.maxStatements());
    var stateFile = out.resolve("search.json");
    List<String> order = List.of();
    var recorded = new ArrayList<Search.Recorded>();
    if (resume) {
      order = readHistory(stateFile, state, recorded);
    }
    var stateText = Json.write(state) + "\n";
    int replayed = order.size();
    var progress = Progress.forItems(spec.commandLine().getErr(), "search",
        maxCandidates > 0 ? maxCandidates : (int) limit.toSeconds(), maxCandidates > 0 ? "candidate" : "s");
    var history = new StringBuilder();
    long[] lastSave = {System.nanoTime()};
    Search.Result result;
    Search search;
    try {
      search = new Search(config).resume(order, recorded);
      result = search.run((c, s) -> {
        history.append(Search.json(c, s)).append('\n');
        var label = String.format(Locale.ROOT, "gen %d, %.0f evals/min, cache hits %.0f%%, best %.5g",
            s.generation(), s.evaluationsPerMinute(), 100 * s.hitRate(), s.best());
        progress.update(maxCandidates > 0 ? s.candidates()
            : (int) Math.min(limit.toSeconds(), s.elapsedNanos() / 1_000_000_000L),
            maxCandidates > 0 ? maxCandidates : (int) limit.toSeconds(), label);
        if (s.candidates() > replayed && System.nanoTime() - lastSave[0] > 60_000_000_000L) {
          // a long search keeps its history on disk as it goes (never shorter than the one being resumed)
          try (var batch = new AtomicFiles.Batch()) {
            batch.add(stateFile, AtomicFiles.content(stateText));
            batch.add(out.resolve("history.jsonl"), AtomicFiles.content(history.toString()));
            batch.commit();
          }
          lastSave[0] = System.nanoTime();
        }
      });
    } finally {
      progress.done();
    }
    var best = result.top(top);
    List<Funnel.Entry> funnelled = List.of();
    List<Funnel.Entry> fame = List.of();
    if (funnel > 0) {
      int longer = funnelSteps != null ? check("--funnel-steps", funnelSteps, 1, 1_000_000)
          : (int) Math.min(5L * n, 1_000_000);
      var stages = new ArrayList<Funnel.Stage>();
      for (int k = 0; k < (toy ? 1 : tasks.size()); k++) {
        var t = toy ? null : tasks.get(k);
        var tGrid = k == 0 ? grid : grid(t, program);
        for (int j = 1; j <= seedsPerTask; j++) {
          stages.add(new Funnel.Stage(toy ? "toy" : t.name(), taskSeed + j, toy ? new ToyFitness(longer, taskSeed + j)
              : new TaskFitness(t, longer, t.defaults().batch(), taskSeed + j, interpreted), tGrid));
        }
      }
      var seedCandidate = result.history().getFirst();
      var finalists = result.top(funnel + 1).stream().filter(c -> !c.hash().equals(seedCandidate.hash()))
          .limit(funnel).toList();
      var funnelProgress = Progress.forItems(spec.commandLine().getErr(), "funnel", finalists.size() + 1, "candidate");
      try {
        funnelled = Funnel.run(search::rescore, seedCandidate, finalists, stages,
            (done, total) -> funnelProgress.update(done, total, "candidates scored on " + stages.size() + " runs"));
      } finally {
        funnelProgress.done();
      }
      fame = Funnel.hallOfFame(funnelled);
    }
    Search.Ablation ablation = ablate && !best.isEmpty() ? search.ablate(best.getFirst()) : null;
    try (var batch = new AtomicFiles.Batch()) {
      if (ablation != null) {
        var b = best.getFirst();
        var ablated = new Search.Candidate(b.index(), b.hash(), b.functional(), b.parent(), ablation.loss(), b.lr(),
            b.evalMs(), b.compileMs(), b.cached(), b.generation(), b.lineage() + " (then ablation: " + ablation.removed()
            + " removals kept)", ablation.genome(), b.runMs());
        batch.add(out.resolve("best-ablated.opt"), AtomicFiles.content(Search.opt(ablated, from, fitness, seed,
            command)));
      }
      batch.add(out.resolve("search.json"), AtomicFiles.content(stateText));
      batch.add(out.resolve("history.jsonl"), AtomicFiles.content(history.toString()));
      batch.add(out.resolve("fitness.png"), AtomicFiles.content(FitnessChart.png(result.history(), population,
          "optc search from " + from + ": " + fitness.describe())));
      if (!funnelled.isEmpty()) {
        var lines = new StringBuilder();
        for (var e : funnelled) {
          lines.append(Funnel.json(e)).append('\n');
        }
        batch.add(out.resolve("funnel.jsonl"), AtomicFiles.content(lines.toString()));
        for (int i = 0; i < fame.size(); i++) {
          batch.add(out.resolve(String.format(Locale.ROOT, "hall-of-fame-%02d.opt", i + 1)),
              AtomicFiles.content(withFunnel(Search.opt(fame.get(i).candidate(), from, fitness, seed, command),
                  Funnel.header(fame.get(i), funnelled.getFirst()))));
        }
      }
      if (!best.isEmpty()) {
        batch.add(out.resolve("best.opt"), AtomicFiles.content(Search.opt(best.getFirst(), from, fitness, seed,
            command)));
      }
      for (int i = 0; i < best.size(); i++) {
        batch.add(out.resolve(String.format(Locale.ROOT, "top-%02d.opt", i + 1)),
            AtomicFiles.content(Search.opt(best.get(i), from, fitness, seed, command)));
      }
      batch.commit();
    }
    var s = result.stats();
    var seedFit = result.history().getFirst();
    outWriter.printf(Locale.ROOT, "optc search: %s from %s, seed %d%n", fitness.describe(), from, seed);
    outWriter.printf(Locale.ROOT, "%d candidates in %.1f s: %d evaluated (%.1f per minute), %d cache hits (%d "
        + "structural, %d functional; %.0f%%), %d invalid children discarded%n", s.candidates(),
        s.elapsedNanos() / 1e9, s.evaluations(), s.evaluationsPerMinute(), s.structuralHits() + s.functionalHits(),
        s.structuralHits(), s.functionalHits(), 100 * s.hitRate(), s.invalid());
    var compile = result.history().stream().skip(1).mapToDouble(Search.Candidate::compileMs).sorted().toArray();
    if (compile.length > 0) {
      outWriter.printf(Locale.ROOT, "compile (parse, check, optimize) per candidate: median %.2f ms%n",
          compile[compile.length / 2]);
    }
    outWriter.printf(Locale.ROOT, "seed %s: fitness %.6g (lr %s)%n", from, seedFit.loss(), lr(seedFit.lr()));
    if (!best.isEmpty()) {
      var b = best.getFirst();
      outWriter.printf(Locale.ROOT, "best: fitness %.6g (lr %s), generation %d, hash %s; written to %s%n%n%s",
          b.loss(), lr(b.lr()), b.generation(), b.hash(), out.resolve("best.opt"),
          Search.opt(b, from, fitness, seed, command));
    }
    if (!funnelled.isEmpty()) {
      var first = funnelled.getFirst().scores();
      outWriter.printf(Locale.ROOT, "%nfunnel: %d runs per candidate (%s), each the best of its lr grid%n", first.size(),
          String.join("; ", first.stream().map(sc -> sc.stage().fitness().describe()).toList()));
      outWriter.printf(Locale.ROOT, "%-18s %-14s %-10s %s%n", "hash", "search fitness", "score", "loss / seed's, per task");
      for (int i = 0; i < funnelled.size(); i++) {
        var e = funnelled.get(i);
        outWriter.printf(Locale.ROOT, "%-18s %-14.6g %-10.4g %s%s%n", e.candidate().hash(), e.candidate().loss(),
            e.score(), Funnel.ratiosText(e), i == 0 ? "  (the seed)" : e.admitted() ? "  hall of fame" : "");
      }
      outWriter.printf(Locale.ROOT, "hall of fame: %d of %d beat the seed on every task%s%n", fame.size(),
          funnelled.size() - 1, fame.isEmpty() ? "" : "; written to " + out.resolve("hall-of-fame-01.opt")
              + (fame.size() > 1 ? " ..." : ""));
    }
    if (ablation != null) {
      outWriter.printf(Locale.ROOT, "%nablation: %d removals kept, fitness %.6g at the same lr; written to %s%n",
          ablation.removed(), ablation.loss(), out.resolve("best-ablated.opt"));
    }
    outWriter.flush();
    return 0;
  }

  /** A found program's text with the funnel's lines added at the end of its header comment. */
  private static String withFunnel(String opt, String funnelLines) {
    var m = Pattern.compile("(?m)^[^#]").matcher(opt);
    int at = m.find() ? m.start() : opt.length();
    return opt.substring(0, at) + funnelLines + opt.substring(at);
  }

  private static String lr(double v) {
    return Double.isNaN(v) ? "none" : String.format(Locale.ROOT, "%.3g", v);
  }

  /** --lr-grid, or the seed's lr (the task's recommendation for a library optimizer) times 0.1, 1 and 10. */
  private List<Double> grid(dev.optc.training.Task task, OptProgram program) {
    if (lrGrid != null) {
      var values = new ArrayList<Double>();
      for (var part : lrGrid.split(",", -1)) {
        double v;
        try {
          v = Double.parseDouble(part.strip());
        } catch (NumberFormatException e) {
          v = Double.NaN;
        }
        if (!(v > 0) || Double.isInfinite(v)) {
          throw new OptcException("--lr-grid '" + lrGrid + "': give positive numbers separated by commas");
        }
        values.add(v);
      }
      return values;
    }
    Map<String, Double> set = task == null ? Map.of() : new LinkedHashMap<>(task.hypers(program.name()));
    set.keySet().retainAll(program.ir().hypers().stream().map(h -> h.name()).toList());
    var values = HostEvaluator.hyperValues(program.ir(), set);
    // the toy quadratic's curvatures are at most 1: SGD is stable below lr 2
    double center = task == null ? 0.3 : values.getOrDefault("lr", 1e-3);
    return Arrays.stream(new double[] {0.1, 1, 10}).mapToObj(f -> center * f).toList();
  }

  /** DIR is a directory (made if absent) and its files can be written. */
  /**
   * The candidates of the search being resumed (their structural hashes, in order), after checking that its settings
   * are {@code state}; its fresh evaluations go to {@code recorded}.
   */
  private List<String> readHistory(Path stateFile, Map<String, Object> state, List<Search.Recorded> recorded) {
    var history = out.resolve("history.jsonl");
    if (!Files.isRegularFile(stateFile) || !Files.isRegularFile(history)) {
      throw new OptcException("--resume: " + out + " holds no search to resume (search.json and history.jsonl)");
    }
    Map<?, ?> before;
    try {
      before = (Map<?, ?>) Json.parse(Files.readString(stateFile));
    } catch (IOException | RuntimeException e) {
      throw new OptcException("--resume: " + stateFile + " is not a search's settings (" + e.getMessage() + ")");
    }
    for (var e : state.entrySet()) {
      if (!e.getValue().equals(before.get(e.getKey()))) {
        throw new OptcException("--resume: the search in " + out + " ran with " + e.getKey() + " " + before.get(e.getKey())
            + ", not " + e.getValue() + "; give the first run's options");
      }
    }
    var order = new ArrayList<String>();
    try {
      for (var line : Files.readAllLines(history)) {
        if (line.isBlank()) {
          continue;
        }
        var c = (Map<?, ?>) Json.parse(line);
        var hash = (String) c.get("hash");
        order.add(hash);
        if ("".equals(c.get("cached"))) {
          var runs = ((List<?>) c.get("run_ms")).stream().map(v -> ((Number) v).doubleValue()).toList();
          recorded.add(new Search.Recorded(hash, c.get("fitness") instanceof Number f ? f.doubleValue()
              : Double.POSITIVE_INFINITY, c.get("lr") instanceof Number l ? l.doubleValue() : Double.NaN,
              ((Number) c.get("eval_ms")).doubleValue(), runs));
        }
      }
    } catch (IOException | RuntimeException e) {
      throw new OptcException("--resume: " + history + " is not a search's history (" + e.getMessage() + ")");
    }
    return order;
  }

  private void checkOut() {
    try {
      Files.createDirectories(out);
    } catch (IOException | RuntimeException e) {
      throw new OptcException("--out " + out + ": cannot make the directory (" + e.getMessage() + ")");
    }
    var outputs = new LinkedHashMap<String, Path>();
    outputs.put("--out history.jsonl", out.resolve("history.jsonl"));
    outputs.put("--out best.opt", out.resolve("best.opt"));
    outputs.put("--out fitness.png", out.resolve("fitness.png"));
    outputs.put("--out search.json", out.resolve("search.json"));
    outputs.put("--out best-ablated.opt", out.resolve("best-ablated.opt"));
    outputs.put("--out funnel.jsonl", out.resolve("funnel.jsonl"));
    var inputs = new LinkedHashMap<String, Path>();
    OutputFiles.optInput(from).forEach((k, v) -> inputs.put("--from", v));
    OutputFiles.check(inputs, outputs);
  }
}
