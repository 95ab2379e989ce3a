package dev.optc.training.search;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.compiler.frontend.Ast;
import dev.optc.compiler.pass.Pipeline;
import dev.optc.runtime.OptProgram;
import dev.optc.runtime.OptcException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Regularized evolution (Real et al. 2019, "Regularized Evolution for Image Classifier Architecture Search"):
 * a population of {@code population} programs, first the seed and mutants of it; then, per cycle, the best of
 * {@code tournament} members drawn at random is mutated, its child joins and the oldest member leaves.
 *
 * <p>Every child goes through the compiler; a rejected one is counted and another mutation is drawn. A child
 * whose optimized IR ({@link Fingerprint#structural}) or whose update on fixed inputs ({@link
 * Fingerprint#functional}) was seen before takes that evaluation's fitness from the cache. An evaluation trains
 * once per value of the lr grid (a program without {@code lr} once) and keeps the lowest loss.
 *
 * <p>With {@code workers} 1 evaluations run one after the other on the calling thread. With more, each round makes
 * {@code workers} children from tournaments on the population as it stands, trains the new ones on as many threads
 * (each run's model lives and dies on one thread, as libtorch wants: {@code docs/training.md}), then adds them in
 * order. The history is a function of the seed and the number of workers.
 */
public final class Search {
  /**
   * @param maxCandidates stop after this many candidates (compiled children, cache hits included); 0: no limit
   * @param budget stop when this much time has passed; null: no limit
   * @param evalTimeout a single training run past this gets the worst fitness
   */
  public record Config(Genome seed, String seedLabel, Fitness fitness, List<Double> lrGrid, int population,
      int tournament, long randomSeed, int maxCandidates, Duration budget, Duration evalTimeout,
      Mutator.Settings mutations, int workers) {
    public Config(Genome seed, String seedLabel, Fitness fitness, List<Double> lrGrid, int population, int tournament,
        long randomSeed, int maxCandidates, Duration budget, Duration evalTimeout, Mutator.Settings mutations) {
      this(seed, seedLabel, fitness, lrGrid, population, tournament, randomSeed, maxCandidates, budget, evalTimeout,
          mutations, 1);
    }

    public Config {
      if (workers < 1) {
        throw new IllegalArgumentException("workers must be at least 1");
      }
      lrGrid = List.copyOf(lrGrid);
      if (population < 2 || tournament < 1 || tournament > population) {
        throw new IllegalArgumentException("need population >= 2 and 1 <= tournament <= population");
      }
    }
  }

  /**
   * One candidate, in the order the search met it.
   *
   * @param hash the structural hash; {@code parent} the parent's, or "" for the seed
   * @param loss the fitness, lower is better; {@link Double#POSITIVE_INFINITY} for a diverged run
   * @param lr the best lr of the grid, or NaN for a program without one
   * @param cached "" for a fresh evaluation, else "structural" or "functional"
   * @param lineage the mutations from the seed, oldest first (past 12, a summary: {@link #extend})
   * @param runMs the time of each training run of the lr grid, in grid order (the first one builds the step:
   *     javac for the Java backend, unless its cache has the class); empty for a cache hit
   */
  public record Candidate(int index, String hash, String functional, String parent, double loss, double lr,
      double evalMs, double compileMs, String cached, int generation, String lineage, Genome genome,
      List<Double> runMs) {
    public String text() {
      return genome.text();
    }
  }

  /** Counters, after each candidate. */
  public record Stats(int candidates, int evaluations, int invalid, int structuralHits, int functionalHits,
      double best, long elapsedNanos, int generation) {
    public double hitRate() {
      return candidates == 0 ? 0 : (structuralHits + functionalHits) / (double) candidates;
    }

    public double evaluationsPerMinute() {
      return elapsedNanos == 0 ? 0 : evaluations / (elapsedNanos / 60e9);
    }
  }

  @FunctionalInterface
  public interface Listener {
    void candidate(Candidate c, Stats stats);
  }

  public record Result(List<Candidate> history, Stats stats) {
    /** The distinct candidates (by structural hash) with finite loss, best first. */
    public List<Candidate> top(int k) {
      var seen = new java.util.HashSet<String>();
      return history.stream().filter(c -> Double.isFinite(c.loss()))
          .sorted(Comparator.comparingDouble(Candidate::loss).thenComparingInt(Candidate::index))
          .filter(c -> seen.add(c.hash()) && seen.add("f:" + c.functional())).limit(k).toList();
    }
  }

  private record Fit(double loss, double lr) {}

  /**
   * A fresh evaluation of an earlier run of the same search, from its {@code history.jsonl}: {@link #resume} uses it
   * instead of training again.
   */
  public record Recorded(String hash, double loss, double lr, double evalMs, List<Double> runMs) {}


  private final Config config;
  private final Mutator mutator;
  private final SplittableRandom random;
  private final Map<String, Fit> byStructure = new HashMap<>();
  private final Map<String, Fit> byFunction = new HashMap<>();
  private final List<Candidate> history = new ArrayList<>();
  private int evaluations;
  private int invalid;
  private int structuralHits;
  private int functionalHits;
  private double best = Double.POSITIVE_INFINITY;
  private long start;
  /** The earlier run's candidates in order (their structural hashes), and its fresh evaluations by hash. */
  private List<String> replayOrder = List.of();
  private final Map<String, Recorded> replay = new HashMap<>();

  public Search(Config config) {
    this.config = config;
    this.mutator = new Mutator(config.mutations());
    this.random = new SplittableRandom(config.randomSeed());
  }

  /**
   * Continues an earlier run of this search (same settings) whose history is {@code order}, the structural hash of
   * each candidate in order, with {@code evaluated}, its fresh evaluations. The search is deterministic given its
   * fitness values, so it makes the same candidates again, takes their fitness from the record instead of training,
   * and goes on from where the record ends: the result equals an uninterrupted run. A candidate that differs from the
   * record's at its index means the settings differ, and fails the run.
   */
  public Search resume(List<String> order, List<Recorded> evaluated) {
    replayOrder = List.copyOf(order);
    evaluated.forEach(r -> replay.putIfAbsent(r.hash(), r));
    return this;
  }

  public Result run(Listener listener) throws CompileException {
    start = System.nanoTime();
    var population = new ArrayDeque<Candidate>();
    var seedProgram = OptProgram.compile(SourceFile.of(config.seedLabel(), config.seed().text()),
        Pipeline.Options.DEFAULT);
    var seedChild = new Child(config.seed(), seedProgram, null, 0, "", 0);
    var seed = finish(List.of(seedChild), null).getFirst();
    listener.candidate(seed, stats(0));
    population.add(seed);
    var pool = config.workers() > 1 ? java.util.concurrent.Executors.newFixedThreadPool(config.workers()) : null;
    try {
      while (!done()) {
        // a batch of children, one per worker, from tournaments on the population as it stands
        int n = config.workers();
        if (config.maxCandidates() > 0) {
          n = Math.min(n, config.maxCandidates() - history.size());
        }
        var children = new ArrayList<Child>();
        for (int k = 0; k < n; k++) {
          var child = child(select(population, seed));
          if (child != null) {
            children.add(child);
          }
        }
        if (children.isEmpty()) {
          break; // nothing compiles any more: every mutation of every try was rejected
        }
        for (var c : finish(children, pool)) {
          population.add(c);
          if (population.size() > config.population()) {
            population.removeFirst();
          }
          listener.candidate(c, stats(c.generation()));
        }
      }
    } finally {
      if (pool != null) {
        pool.shutdownNow();
      }
    }
    return new Result(List.copyOf(history), stats(history.isEmpty() ? 0 : history.getLast().generation()));
  }

  private Candidate select(ArrayDeque<Candidate> population, Candidate seed) {
    if (population.size() < config.population()) {
      return seed;
    }
    Candidate parent = null;
    var members = new ArrayList<>(population);
    for (int i = 0; i < config.tournament(); i++) {
      var c = members.get(random.nextInt(members.size()));
      if (parent == null || c.loss() < parent.loss()) {
        parent = c;
      }
    }
    return parent;
  }

  private boolean done() {
    if (config.maxCandidates() > 0 && history.size() >= config.maxCandidates()) {
      return true;
    }
    return config.budget() != null && System.nanoTime() - start >= config.budget().toNanos();
  }

  /** A compiled child, not yet evaluated. */
  private record Child(Genome genome, OptProgram program, Candidate parent, int generation, String lineage,
      double compileMs) {}

  /** A compiled mutant of {@code parent}; null after 1,000 rejected tries in a row. */
  private Child child(Candidate parent) {
    var kind = new Mutator.Kind[1];
    for (int tries = 0; tries < 1000; tries++) {
      var g = mutator.mutate(parent.genome(), random, kind);
      if (g == null) {
        continue;
      }
      long t0 = System.nanoTime();
      var result = dev.optc.compiler.Compiler.check(SourceFile.of("candidate.opt", g.text()), Pipeline.Options.DEFAULT);
      if (!result.ok() || result.program().outputs().stream().noneMatch(o -> o.buffer().equals("w"))) {
        invalid++;
        continue;
      }
      var program = new OptProgram(SourceFile.of("candidate.opt", g.text()), result.program(), result.warnings(),
          Fingerprint.sha(g.text()));
      double compileMs = (System.nanoTime() - t0) / 1e6;
      var lineage = extend(parent.lineage(), kind[0].label());
      return new Child(g, program, parent, parent.generation() + 1, lineage, compileMs);
    }
    return null;
  }

  private record Keys(String structural, String functional) {}

  private record Evaluated(Fit fit, double ms, List<Double> runMs) {}

  /**
   * Looks each child up in the cache, trains the misses (in parallel on {@code pool} when there is one; a key met
   * twice in the batch is trained once) and records them in order: the history does not depend on timing.
   */
  private List<Candidate> finish(List<Child> children, java.util.concurrent.ExecutorService pool) {
    var keys = new ArrayList<Keys>();
    var jobs = new java.util.LinkedHashMap<Keys, java.util.concurrent.Callable<Evaluated>>();
    var firstOf = new HashMap<String, Keys>();
    for (var c : children) {
      var hypers = new HashMap<String, Double>();
      if (c.genome().hasHyper("lr")) {
        hypers.put("lr", 1e-2);
      }
      var k = new Keys(Fingerprint.structural(c.genome().text()), Fingerprint.functional(c.program().ir(), hypers));
      keys.add(k);
      if (byStructure.containsKey(k.structural()) || byFunction.containsKey(k.functional())
          || firstOf.containsKey("s:" + k.structural()) || firstOf.containsKey("f:" + k.functional())) {
        continue;
      }
      firstOf.put("s:" + k.structural(), k);
      firstOf.put("f:" + k.functional(), k);
      var recorded = replay.get(k.structural());
      jobs.put(k, recorded != null
          ? () -> new Evaluated(new Fit(recorded.loss(), recorded.lr()), recorded.evalMs(), recorded.runMs())
          : () -> train(c));
    }
    var results = new HashMap<Keys, Evaluated>();
    try {
      if (pool == null || jobs.size() < 2) {
        for (var e : jobs.entrySet()) {
          results.put(e.getKey(), e.getValue().call());
        }
      } else {
        var futures = new java.util.LinkedHashMap<Keys, java.util.concurrent.Future<Evaluated>>();
        jobs.forEach((k, job) -> futures.put(k, pool.submit(job)));
        for (var e : futures.entrySet()) {
          results.put(e.getKey(), e.getValue().get());
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("the search was interrupted", e);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    } catch (Exception e) {
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e);
    }
    var out = new ArrayList<Candidate>();
    for (int i = 0; i < children.size(); i++) {
      var c = children.get(i);
      var k = keys.get(i);
      String cached = "";
      Fit fit;
      var fresh = results.remove(k);
      if (fresh != null) {
        evaluations++;
        fit = fresh.fit();
      } else if ((fit = byStructure.get(k.structural())) != null) {
        structuralHits++;
        cached = "structural";
      } else {
        fit = byFunction.get(k.functional());
        functionalHits++;
        cached = "functional";
      }
      byStructure.putIfAbsent(k.structural(), fit);
      byFunction.putIfAbsent(k.functional(), fit);
      best = Math.min(best, fit.loss());
      var candidate = new Candidate(history.size(), k.structural(), k.functional(),
          c.parent() == null ? "" : c.parent().hash(), fit.loss(), fit.lr(), fresh == null ? 0 : fresh.ms(),
          c.compileMs(), cached, c.generation(), c.lineage(), c.genome(), fresh == null ? List.of() : fresh.runMs());
      if (candidate.index() < replayOrder.size() && !replayOrder.get(candidate.index()).equals(candidate.hash())) {
        throw new OptcException("--resume: candidate " + candidate.index() + " differs from the one in the history "
            + "being resumed; the search's settings (seed, population, tournament, workers, mutations, program) must be "
            + "those of the first run");
      }
      history.add(candidate);
      out.add(candidate);
    }
    return out;
  }

  /** Trains {@code c} once per lr of the grid (once without lr) and keeps the lowest loss. */
  private Evaluated train(Child c) {
    long t0 = System.nanoTime();
    boolean hasLr = c.genome().hasHyper("lr");
    var runMs = new ArrayList<Double>();
    var fit = new Fit(Double.POSITIVE_INFINITY, Double.NaN);
    var grid = hasLr ? config.lrGrid() : List.of(Double.NaN);
    for (double lr : grid) {
      var h = hasLr ? Map.of("lr", lr) : Map.<String, Double>of();
      long r0 = System.nanoTime();
      double loss = config.fitness().loss(c.program(), h, System.nanoTime() + config.evalTimeout().toNanos());
      runMs.add((System.nanoTime() - r0) / 1e6);
      if (loss < fit.loss()) {
        fit = new Fit(loss, lr);
      }
    }
    return new Evaluated(fit, (System.nanoTime() - t0) / 1e6, List.copyOf(runMs));
  }

  private Stats stats(int generation) {
    return new Stats(history.size(), evaluations, invalid, structuralHits, functionalHits, best,
        System.nanoTime() - start, generation);
  }

  /** One line of history.jsonl. */
  public static String json(Candidate c, Stats s) {
    return String.format(Locale.ROOT, "{\"index\":%d,\"hash\":\"%s\",\"functional_hash\":\"%s\",\"parent\":\"%s\","
        + "\"fitness\":%s,\"lr\":%s,\"eval_ms\":%.1f,\"compile_ms\":%.2f,\"cached\":\"%s\",\"generation\":%d,"
        + "\"run_ms\":[%s],\"lineage\":\"%s\",\"program\":%s}", c.index(), c.hash(), c.functional(), c.parent(),
        number(c.loss()), number(c.lr()), c.evalMs(), c.compileMs(), c.cached(), c.generation(),
        String.join(",", c.runMs().stream().map(v -> String.format(Locale.ROOT, "%.1f", v)).toList()), c.lineage(),
        quote(c.text()));
  }

  private static String number(double v) {
    return Double.isFinite(v) ? Double.toString(v) : "null";
  }

  static String quote(String s) {
    var sb = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      switch (ch) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\t' -> sb.append("\\t");
        default -> {
          if (ch < 0x20) {
            sb.append(String.format(Locale.ROOT, "\\u%04x", (int) ch));
          } else {
            sb.append(ch);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  /**
   * {@code g} without what does not change its optimized IR: each statement and each state whose removal leaves
   * the structural hash the same (dead code the compiler already drops from the step), and each hyper but
   * {@code lr} that nothing reads. What is left is the program the step runs, as the user reads it.
   */
  public static Genome clean(Genome g) {
    var key = structural(g);
    if (key == null) {
      return g;
    }
    for (int i = g.statements().size() - 1; i >= 0; i--) {
      var stmts = new ArrayList<>(g.statements());
      stmts.remove(i);
      var smaller = new Genome(g.name(), g.hypers(), g.states(), g.defs(), stmts);
      if (!stmts.isEmpty() && key.equals(structural(smaller))) {
        g = smaller;
      }
    }
    // a select on a literal (a frozen flag: AdamW's `amsgrad ? max_exp_avg_sq : exp_avg_sq`) is the branch it takes
    var taken = new ArrayList<Genome.Stmt>();
    g.statements().forEach(st -> taken.add(st.with(branchTaken(st.value()))));
    var folded = new Genome(g.name(), g.hypers(), g.states(), g.defs(), taken);
    if (key.equals(structural(folded))) {
      g = folded;
    }
    for (int i = g.states().size() - 1; i >= 0; i--) {
      var states = new ArrayList<>(g.states());
      var name = states.remove(i).name();
      if (g.statements().stream().noneMatch(s -> s.target().equals(name))) {
        var smaller = new Genome(g.name(), g.hypers(), states, g.defs(), g.statements());
        if (key.equals(structural(smaller)) || uses(g, name) == 0) {
          g = smaller;
        }
      }
    }
    for (int i = g.hypers().size() - 1; i >= 0; i--) {
      var name = g.hypers().get(i).name();
      if (!name.equals("lr") && uses(g, name) == 1) {
        var hypers = new ArrayList<>(g.hypers());
        hypers.remove(i);
        var smaller = new Genome(g.name(), hypers, g.states(), g.defs(), g.statements());
        if (structural(smaller) != null) {
          g = smaller;
        }
      }
    }
    return g;
  }

  /** {@code e} with each select whose condition is a literal replaced by the branch it takes. */
  private static Ast.Expr branchTaken(Ast.Expr e) {
    return switch (e) {
      case Ast.Number n -> n;
      case Ast.Bool b -> b;
      case Ast.Name n -> n;
      case Ast.Call c -> new Ast.Call(c.function(), c.args().stream().map(Search::branchTaken).toList(), null);
      case Ast.Unary u -> new Ast.Unary(u.op(), branchTaken(u.operand()), null);
      case Ast.Binary b -> new Ast.Binary(b.op(), branchTaken(b.left()), branchTaken(b.right()), null);
      case Ast.Ternary t -> switch (t.cond()) {
        case Ast.Bool b -> branchTaken(b.value() ? t.then() : t.otherwise());
        case Ast.Number n -> branchTaken(n.value() != 0 ? t.then() : t.otherwise());
        default -> new Ast.Ternary(branchTaken(t.cond()), branchTaken(t.then()), branchTaken(t.otherwise()), null);
      };
    };
  }

  /**
   * Ablation: {@code c}'s program, cleaned ({@link #clean}), then without each statement in turn (last first) and
   * each state, a removal kept when the program still compiles and its fitness at {@code c}'s lr is no worse than
   * the best so far. Costs one training run per statement and state.
   *
   * @return the simplified program and its fitness
   */
  public Ablation ablate(Candidate c) {
    var g = clean(c.genome());
    var hypers = Double.isNaN(c.lr()) || !g.hasHyper("lr") ? Map.<String, Double>of() : Map.of("lr", c.lr());
    double best = fitnessOf(g, hypers);
    int removed = 0;
    for (int i = g.statements().size() - 1; i >= 0 && g.statements().size() > 1; i--) {
      if (i >= g.statements().size()) {
        continue;
      }
      var stmts = new ArrayList<>(g.statements());
      stmts.remove(i);
      var smaller = clean(new Genome(g.name(), g.hypers(), g.states(), g.defs(), stmts));
      double f = fitnessOf(smaller, hypers);
      if (f <= best) {
        g = smaller;
        best = f;
        removed++;
      }
    }
    for (int i = g.states().size() - 1; i >= 0; i--) {
      var gone = g.states().get(i).name();
      var stmts = new ArrayList<Genome.Stmt>();
      for (var s : g.statements()) {
        if (!s.target().equals(gone)) {
          stmts.add(s);
        }
      }
      var states = new ArrayList<>(g.states());
      states.remove(i);
      var text = new Genome(g.name(), g.hypers(), states, g.defs(), stmts).text();
      // its reads become g, the quantity a state usually averages
      var smaller = clean(Genome.parse("ablation", text.replaceAll("\\b" + gone + "\\b", "g")));
      double f = stmts.isEmpty() ? Double.POSITIVE_INFINITY : fitnessOf(smaller, hypers);
      if (f <= best) {
        g = smaller;
        best = f;
        removed++;
      }
    }
    return new Ablation(g, best, removed);
  }

  /**
   * {@code c} trained again with {@code fitness} (a longer run, another task seed or task) at each lr of
   * {@code grid}, the best kept; +∞ where it no longer compiles.
   */
  public Rescored rescore(Candidate c, Fitness fitness, List<Double> grid) {
    var program = compileOrNull(c.genome());
    var fit = new Fit(Double.POSITIVE_INFINITY, Double.NaN);
    if (program == null) {
      return new Rescored(c, fit.loss(), fit.lr());
    }
    boolean hasLr = c.genome().hasHyper("lr");
    for (double lr : hasLr ? grid : List.of(Double.NaN)) {
      var h = hasLr ? Map.of("lr", lr) : Map.<String, Double>of();
      double loss = fitness.loss(program, h, System.nanoTime() + config.evalTimeout().toNanos());
      if (loss < fit.loss()) {
        fit = new Fit(loss, lr);
      }
    }
    return new Rescored(c, fit.loss(), fit.lr());
  }

  /** A candidate's fitness in the funnel. */
  public record Rescored(Candidate candidate, double loss, double lr) {}

  private static OptProgram compileOrNull(Genome g) {
    var r = dev.optc.compiler.Compiler.check(SourceFile.of("candidate.opt", g.text()), Pipeline.Options.DEFAULT);
    return r.ok() ? new OptProgram(SourceFile.of("candidate.opt", g.text()), r.program(), r.warnings(),
        Fingerprint.sha(g.text())) : null;
  }

  /** What {@link #ablate} left: the program, its fitness at the candidate's lr, and how many removals it kept. */
  public record Ablation(Genome genome, double loss, int removed) {}

  private double fitnessOf(Genome g, Map<String, Double> hypers) {
    var r = dev.optc.compiler.Compiler.check(SourceFile.of("ablation.opt", g.text()), Pipeline.Options.DEFAULT);
    if (!r.ok() || r.program().outputs().stream().noneMatch(o -> o.buffer().equals("w"))) {
      return Double.POSITIVE_INFINITY;
    }
    var program = new OptProgram(SourceFile.of("ablation.opt", g.text()), r.program(), r.warnings(),
        Fingerprint.sha(g.text()));
    return config.fitness().loss(program, hypers, System.nanoTime() + config.evalTimeout().toNanos());
  }

  /** How many times {@code name} occurs as a word in the program's text (its declaration included). */
  private static int uses(Genome g, String name) {
    var m = java.util.regex.Pattern.compile("\\b" + java.util.regex.Pattern.quote(name) + "\\b").matcher(g.text());
    int n = 0;
    while (m.find()) {
      n++;
    }
    return n;
  }

  private static String structural(Genome g) {
    return Fingerprint.structural(g.text());
  }

  private static final java.util.regex.Pattern SUMMARY =
      java.util.regex.Pattern.compile("(\\d+) mutations \\((.*)\\), the last 12: (.*)");

  /**
   * {@code lineage} with one more mutation. Up to 12 mutations a lineage lists them; past that it is their count,
   * the count per kind and the last 12 (a long search's lineages would otherwise grow with every generation: 151 MB
   * of history for a 30-minute one). The whole chain is in the history's parent hashes.
   */
  static String extend(String lineage, String kind) {
    var counts = new java.util.TreeMap<String, Integer>();
    var last = new ArrayList<String>();
    int total;
    var m = SUMMARY.matcher(lineage);
    if (m.matches()) {
      total = Integer.parseInt(m.group(1));
      for (var part : m.group(2).split(", ")) {
        int space = part.lastIndexOf(' ');
        counts.put(part.substring(0, space), Integer.parseInt(part.substring(space + 1)));
      }
      last.addAll(List.of(m.group(3).split(" ")));
    } else {
      for (var w : lineage.isBlank() ? new String[0] : lineage.strip().split(" ")) {
        counts.merge(w, 1, Integer::sum);
        last.add(w);
      }
      total = last.size();
    }
    counts.merge(kind, 1, Integer::sum);
    last.add(kind);
    total++;
    if (total <= 12) {
      return String.join(" ", last);
    }
    var kinds = new ArrayList<String>();
    counts.forEach((k, n) -> kinds.add(k + " " + n));
    return total + " mutations (" + String.join(", ", kinds) + "), the last 12: "
        + String.join(" ", last.subList(last.size() - 12, last.size()));
  }

  /** {@code c} as a .opt file with a header comment: where it came from and how it scored. */
  public static String opt(Candidate c, String seedLabel, Fitness fitness, long randomSeed, String command) {
    var sb = new StringBuilder();
    sb.append("# Found by optc search");
    if (command != null) {
      sb.append(": ").append(command);
    }
    sb.append('\n');
    sb.append(String.format(Locale.ROOT, "# seed program %s, search seed %d, generation %d, candidate %d (hash %s, "
        + "parent %s)%n", seedLabel, randomSeed, c.generation(), c.index(), c.hash(),
        c.parent().isEmpty() ? "none" : c.parent()));
    sb.append("# lineage: ").append(c.lineage().isEmpty() ? "(the seed)" : c.lineage()).append('\n');
    sb.append(String.format(Locale.ROOT, "# fitness %.6g on %s; lr %s (the best of the grid)%n", c.loss(),
        fitness.describe(), Double.isNaN(c.lr()) ? "none" : Genome.format(c.lr())));
    var text = clean(c.genome()).withName("found_" + c.hash()).text();
    if (!Double.isNaN(c.lr())) {
      text = text.replaceFirst("(?m)^hyper lr = .*$", "hyper lr = " + Genome.format(c.lr()));
    }
    return sb.append(text).toString();
  }
}
