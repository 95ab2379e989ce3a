package dev.optc.training.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.runtime.OptProgram;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The funnel's arithmetic: ratios to the seed per task (averaged over the task's seeds), the geometric-mean score,
 * and admission only for a candidate that beats the seed on every task.
 */
class FunnelTest {
  /** A fitness that only names a stage; the rescorer below decides the losses. */
  private record Named(String describe) implements Fitness {
    @Override
    public double loss(OptProgram program, Map<String, Double> hypers, long deadlineNanos) {
      throw new AssertionError("not trained here");
    }
  }

  private static Search.Candidate candidate(String hash, double loss) {
    return new Search.Candidate(0, hash, hash, "", loss, 0.1, 0, 0, "", 0, "",
        Genome.parse("c.opt", "hyper lr = 0.1\nw -= lr * g\n"), List.of());
  }

  @Test
  void admitsOnlyWhatBeatsTheSeedOnEveryTask() {
    var stages = List.of(new Funnel.Stage("a", 1, new Named("a1"), List.of(0.1)),
        new Funnel.Stage("a", 2, new Named("a2"), List.of(0.1)),
        new Funnel.Stage("b", 1, new Named("b1"), List.of(0.1)));
    // losses per candidate and stage: the seed 1, 1, 2; "both" better everywhere; "one" better on a only;
    // "diverges" infinite on b; "mixed" worse on one seed of a but better on average there and on b
    var losses = Map.of("seed", new double[] {1, 1, 2}, "both", new double[] {0.5, 0.9, 1.0},
        "one", new double[] {0.2, 0.2, 2.5}, "diverges", new double[] {0.1, 0.1, Double.POSITIVE_INFINITY},
        "mixed", new double[] {1.2, 0.6, 1.8});
    Funnel.Rescorer rescorer = (c, fitness, grid) -> {
      int k = List.of("a1", "a2", "b1").indexOf(fitness.describe());
      return new Search.Rescored(c, losses.get(c.hash())[k], grid.getFirst());
    };
    var top = List.of(candidate("one", 0.1), candidate("both", 0.2), candidate("seed", 0.9),
        candidate("diverges", 0.3), candidate("mixed", 0.4));
    var entries = Funnel.run(rescorer, candidate("seed", 1), top, stages, null);
    assertEquals(List.of("seed", "one", "both", "diverges", "mixed"),
        entries.stream().map(e -> e.candidate().hash()).toList(), "the seed first, once");
    var seed = entries.getFirst();
    assertEquals(1.0, seed.score(), 1e-12);
    assertFalse(seed.admitted());
    var both = entries.get(2);
    assertEquals(0.7, both.ratios().get("a"), 1e-12);
    assertEquals(0.5, both.ratios().get("b"), 1e-12);
    assertEquals(Math.cbrt(0.5 * 0.9 * 0.5), both.score(), 1e-12);
    assertTrue(both.admitted());
    assertFalse(entries.get(1).admitted(), "worse on b");
    assertFalse(entries.get(3).admitted(), "diverged on b");
    assertEquals(Double.POSITIVE_INFINITY, entries.get(3).score());
    assertTrue(entries.get(4).admitted(), "the mean over a's seeds is 0.9");
    // mixed: (1.2 * 0.6 * 0.9)^(1/3) = 0.865; both: 0.608
    assertEquals(List.of("both", "mixed"), Funnel.hallOfFame(entries).stream().map(e -> e.candidate().hash()).toList());
  }

  @Test
  void ratiosOfDivergedRuns() {
    assertEquals(0.5, Funnel.ratio(1, 2), 0);
    assertEquals(Double.POSITIVE_INFINITY, Funnel.ratio(Double.POSITIVE_INFINITY, 2), 0);
    assertEquals(0, Funnel.ratio(3, Double.POSITIVE_INFINITY), 0);
    assertEquals(1, Funnel.ratio(Double.NaN, Double.POSITIVE_INFINITY), 0);
  }
}
