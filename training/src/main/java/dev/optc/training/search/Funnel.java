package dev.optc.training.search;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;

/**
 * The funnel before the hall of fame. The search scores candidates on one short run; its best are partly lucky on
 * that run (a short proxy ranks programs only roughly). The funnel trains the seed and the top candidates again on
 * every stage: each task given, on task seeds the search did not use, with longer runs, each over its lr grid, the
 * best lr kept. A candidate enters the hall of fame when, on every task, its loss divided by the seed's (averaged
 * over that task's stages) is below 1: it beats the program the search started from everywhere it was tried.
 * Entries are ranked by their score, the geometric mean of those ratios over all stages.
 */
public final class Funnel {
  private Funnel() {}

  /** One re-evaluation: a task at one task seed, by {@code fitness}, over {@code lrGrid}. */
  public record Stage(String task, long taskSeed, Fitness fitness, List<Double> lrGrid) {
    public Stage {
      lrGrid = List.copyOf(lrGrid);
    }
  }

  /** A candidate's best loss on a stage and the lr that gave it. */
  public record Score(Stage stage, double loss, double lr) {}

  /**
   * @param scores one per stage, in the stages' order
   * @param ratios per task (in the order tasks first appear), the mean over its stages of loss / the seed's loss
   * @param score the geometric mean over stages of loss / the seed's loss (the seed's own is 1)
   * @param admitted below 1 on every task (never the seed)
   */
  public record Entry(Search.Candidate candidate, List<Score> scores, LinkedHashMap<String, Double> ratios,
      double score, boolean admitted) {}

  /** Trains a candidate again: {@link Search#rescore}. */
  public interface Rescorer {
    Search.Rescored rescore(Search.Candidate c, Fitness fitness, List<Double> grid);
  }

  /** Called after each candidate is scored on every stage (for progress). */
  public interface Listener {
    void scored(int done, int total);
  }

  /**
   * Scores {@code seed} and each of {@code top} on every stage. Returns the seed's entry first, then the others
   * in the order given.
   */
  public static List<Entry> run(Rescorer search, Search.Candidate seed, List<Search.Candidate> top, List<Stage> stages,
      Listener listener) {
    var all = new ArrayList<Search.Candidate>();
    all.add(seed);
    top.stream().filter(c -> !c.hash().equals(seed.hash())).forEach(all::add);
    var scores = new ArrayList<List<Score>>();
    for (var c : all) {
      var list = new ArrayList<Score>();
      for (var stage : stages) {
        var r = search.rescore(c, stage.fitness(), stage.lrGrid());
        list.add(new Score(stage, r.loss(), r.lr()));
      }
      scores.add(list);
      if (listener != null) {
        listener.scored(scores.size(), all.size());
      }
    }
    var base = scores.getFirst();
    var entries = new ArrayList<Entry>();
    for (int i = 0; i < all.size(); i++) {
      var mine = scores.get(i);
      var sums = new LinkedHashMap<String, double[]>();
      double logs = 0;
      for (int k = 0; k < stages.size(); k++) {
        double r = ratio(mine.get(k).loss(), base.get(k).loss());
        logs += Math.log(r);
        var sum = sums.computeIfAbsent(stages.get(k).task(), t -> new double[2]);
        sum[0] += r;
        sum[1]++;
      }
      var ratios = new LinkedHashMap<String, Double>();
      sums.forEach((task, s) -> ratios.put(task, s[0] / s[1]));
      double score = stages.isEmpty() ? 1 : Math.exp(logs / stages.size());
      boolean admitted = i > 0 && !ratios.isEmpty() && ratios.values().stream().allMatch(r -> r < 1);
      entries.add(new Entry(all.get(i), List.copyOf(mine), ratios, score, admitted));
    }
    return entries;
  }

  /** The admitted entries, best score first. */
  public static List<Entry> hallOfFame(List<Entry> entries) {
    return entries.stream().filter(Entry::admitted).sorted(Comparator.comparingDouble(Entry::score)).toList();
  }

  /**
   * loss / the seed's loss: a diverged run (infinite loss) is worse than any finite one, and against a diverged
   * seed a finite loss counts as a ratio of 0 (an infinite improvement), a diverged one as 1 (no change).
   */
  static double ratio(double loss, double seedLoss) {
    if (!Double.isFinite(seedLoss)) {
      return Double.isFinite(loss) ? 0 : 1;
    }
    if (!Double.isFinite(loss)) {
      return Double.POSITIVE_INFINITY;
    }
    return seedLoss == 0 ? (loss == 0 ? 1 : Double.POSITIVE_INFINITY) : loss / seedLoss;
  }

  /** The header lines an admitted program's file gets: its score per stage against the seed's. */
  public static String header(Entry e, Entry seed) {
    var sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "# funnel: score %.4g (geometric mean of loss / the seed's loss over %d "
        + "runs); per task %s%n", e.score(), e.scores().size(), ratiosText(e)));
    for (int k = 0; k < e.scores().size(); k++) {
      var s = e.scores().get(k);
      sb.append(String.format(Locale.ROOT, "#   %s: %.6g at lr %s (the seed: %.6g at lr %s)%n",
          s.stage().fitness().describe(), s.loss(), lr(s.lr()), seed.scores().get(k).loss(),
          lr(seed.scores().get(k).lr())));
    }
    return sb.toString();
  }

  /** One line of {@code funnel.jsonl}: hash, search fitness, score, ratio per task, admitted, and every run. */
  public static String json(Entry e) {
    var ratios = new ArrayList<String>();
    e.ratios().forEach((task, r) -> ratios.add(Search.quote(task) + ":" + number(r)));
    var runs = new ArrayList<String>();
    for (var s : e.scores()) {
      runs.add(String.format(Locale.ROOT, "{\"task\":%s,\"task_seed\":%d,\"fitness\":%s,\"lr\":%s}",
          Search.quote(s.stage().task()), s.stage().taskSeed(), number(s.loss()), number(s.lr())));
    }
    return String.format(Locale.ROOT, "{\"hash\":\"%s\",\"search_fitness\":%s,\"score\":%s,\"ratio_per_task\":{%s},"
        + "\"admitted\":%b,\"runs\":[%s]}", e.candidate().hash(), number(e.candidate().loss()), number(e.score()),
        String.join(",", ratios), e.admitted(), String.join(",", runs));
  }

  private static String number(double v) {
    return Double.isFinite(v) ? Double.toString(v) : "null";
  }

  /** "task ratio, ..." for a table. */
  public static String ratiosText(Entry e) {
    var parts = new ArrayList<String>();
    e.ratios().forEach((task, r) -> parts.add(String.format(Locale.ROOT, "%s %.4g", task, r)));
    return String.join(", ", parts);
  }

  private static String lr(double v) {
    return Double.isNaN(v) ? "none" : Genome.format(v);
  }
}
