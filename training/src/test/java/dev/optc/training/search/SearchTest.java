package dev.optc.training.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.compiler.Compiler;
import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.diag.SourceFile;
import dev.optc.runtime.Library;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The search on the toy quadratic: it improves on its seed, a seed reproduces it, duplicates share evaluations. */
class SearchTest {
  private static Genome library(String name) {
    return Genome.parse(name + ".opt", Library.source(name).orElseThrow());
  }

  private static Search.Config config(Genome seed, long randomSeed, int candidates) {
    return new Search.Config(seed, "sgd", new ToyFitness(60, 7), List.of(0.03, 0.3, 3.0), 12, 4, randomSeed,
        candidates, null, Duration.ofSeconds(20), Mutator.Settings.DEFAULT);
  }

  @Test
  void everyLibraryProgramPrintsBackToTheSameIr() throws CompileException {
    for (var name : Library.NAMES) {
      var text = Library.source(name).orElseThrow();
      var printed = Genome.parse(name, text).text();
      assertNotNull(Fingerprint.structural(text), name);
      assertEquals(Fingerprint.structural(text), Fingerprint.structural(printed), name + ":\n" + printed);
    }
  }

  @Test
  void mutantsAreMostlyValidPrograms() {
    var mutator = new Mutator(Mutator.Settings.DEFAULT);
    var random = new SplittableRandom(1);
    var kind = new Mutator.Kind[1];
    int valid = 0;
    int made = 0;
    var g = library("adamw");
    for (int i = 0; i < 300; i++) {
      var child = mutator.mutate(g, random, kind);
      if (child == null) {
        continue;
      }
      made++;
      if (Compiler.check(SourceFile.of("c.opt", child.text())).ok()) {
        valid++;
        if (random.nextBoolean()) {
          g = child;
        }
      }
    }
    assertTrue(valid > made / 2, valid + " of " + made + " valid");
  }

  @Test
  void aTinySearchBeatsItsSeed() throws CompileException {
    var result = new Search(config(library("sgd").frozen(), 1, 120)).run((c, s) -> { });
    var seed = result.history().getFirst().loss();
    var best = result.top(1).getFirst().loss();
    assertTrue(best < 0.8 * seed, "best " + best + " vs seed " + seed);
  }

  @Test
  void theSameSeedGivesTheSameHistory() throws CompileException {
    var a = new Search(config(library("sgd"), 5, 40)).run((c, s) -> { }).history();
    var b = new Search(config(library("sgd"), 5, 40)).run((c, s) -> { }).history();
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) {
      assertEquals(a.get(i).text(), b.get(i).text());
      assertEquals(a.get(i).loss(), b.get(i).loss());
      assertEquals(a.get(i).cached(), b.get(i).cached());
    }
    var c = new Search(config(library("sgd"), 6, 40)).run((x, s) -> { }).history();
    assertNotEquals(a.stream().map(Search.Candidate::text).toList(), c.stream().map(Search.Candidate::text).toList());
  }

  @Test
  void twoWorkersAreReproducibleToo() throws CompileException {
    var base = config(library("sgd").frozen(), 9, 50);
    var two = new Search.Config(base.seed(), base.seedLabel(), base.fitness(), base.lrGrid(), base.population(),
        base.tournament(), base.randomSeed(), base.maxCandidates(), null, base.evalTimeout(), base.mutations(), 2);
    var a = new Search(two).run((c, s) -> { });
    var b = new Search(two).run((c, s) -> { });
    assertEquals(a.history().stream().map(c -> c.text() + c.loss()).toList(),
        b.history().stream().map(c -> c.text() + c.loss()).toList());
    var s = a.stats();
    assertEquals(50, s.candidates());
    assertEquals(s.candidates(), s.evaluations() + s.structuralHits() + s.functionalHits());
  }

  @Test
  void programsEqualAfterCanonicalizationShareOneEvaluation() throws CompileException {
    // The same update spelled three ways: dead code, folded constants, a local.
    var one = "optimizer a\nhyper lr = 0.1\nw -= lr * g\n";
    var two = "optimizer b\nhyper lr = 0.1\nunused = exp(g)\nw -= (lr * 1) * g\n";
    var three = "optimizer c\nhyper lr = 0.1\nu = g * lr\nw = w - u\n";
    var ir1 = Compiler.compile(SourceFile.of("1", one));
    var ir3 = Compiler.compile(SourceFile.of("3", three));
    assertEquals(Fingerprint.structural(one), Fingerprint.structural(two));
    // a dead statement made nodes first: the operands of lr * s1 came out in another order
    assertEquals(Fingerprint.structural("optimizer x\nhyper lr = 1e-3\nstate s1\ns1 = lerp(g, s1, 0.7)\nw -= lr * s1\n"),
        Fingerprint.structural("optimizer x\nhyper lr = 1e-3\nstate mb\nstate s1\nv1 = lr - mb / (mean(mb) + 1e-8)\n"
            + "s1 = lerp(g, s1, 0.7)\nw -= lr * s1\n"));
    // a state that never reaches w is dead for the search
    assertEquals(Fingerprint.structural(one),
        Fingerprint.structural("optimizer e\nhyper lr = 0.1\nstate m\nm = lerp(g, m, 0.9)\nw -= lr * g\n"));
    var lr = Map.of("lr", 0.01);
    assertEquals(Fingerprint.functional(ir1, lr), Fingerprint.functional(ir3, lr));
    var other = Compiler.compile(SourceFile.of("4", "optimizer d\nhyper lr = 0.1\nw -= lr * sign(g)\n"));
    assertNotEquals(Fingerprint.functional(ir1, lr), Fingerprint.functional(other, lr));

    // In a search: a population of one program's mutants meets many duplicates; each is evaluated once.
    int[] evaluated = {0};
    Fitness counting = new Fitness() {
      @Override
      public String describe() {
        return "counting";
      }

      @Override
      public double loss(dev.optc.runtime.OptProgram program, Map<String, Double> hypers, long deadline) {
        evaluated[0]++;
        return new ToyFitness(20, 1).loss(program, hypers, deadline);
      }
    };
    var config = new Search.Config(Genome.parse("1", one), "one", counting, List.of(0.1), 4, 2, 3, 60, null,
        Duration.ofSeconds(20), Mutator.Settings.DEFAULT);
    var result = new Search(config).run((c, s) -> { });
    var stats = result.stats();
    assertEquals(stats.evaluations(), evaluated[0]);
    assertEquals(60, stats.candidates());
    assertEquals(stats.candidates(), stats.evaluations() + stats.structuralHits() + stats.functionalHits());
    assertTrue(stats.structuralHits() > 0, stats.toString());
    for (var c : result.history()) {
      for (var d : result.history()) {
        if (c.hash().equals(d.hash())) {
          assertEquals(c.loss(), d.loss());
        }
      }
    }
  }

  /** Lineages list up to 12 mutations, then summarize: a count per kind and the last 12, never growing past that. */
  @Test
  void lineagesStaySmall() {
    String lineage = "";
    var kinds = List.of("insert", "modify", "constant");
    for (int i = 0; i < 12; i++) {
      lineage = Search.extend(lineage, kinds.get(i % 3));
    }
    assertEquals("insert modify constant insert modify constant insert modify constant insert modify constant", lineage);
    for (int i = 12; i < 1000; i++) {
      lineage = Search.extend(lineage, kinds.get(i % 3));
    }
    assertEquals("1000 mutations (constant 333, insert 334, modify 333), the last 12: modify constant insert modify "
        + "constant insert modify constant insert modify constant insert", lineage);
  }

  /** Cleaning AdamW with its hypers frozen leaves the branch amsgrad = false takes, and drops max_exp_avg_sq. */
  @Test
  void cleaningTakesTheBranchOfAFrozenFlag() {
    var cleaned = Search.clean(library("adamw").frozen()).text();
    assertFalse(cleaned.contains("?"), cleaned);
    assertFalse(cleaned.contains("max_exp_avg_sq"), cleaned);
    assertEquals(Fingerprint.structural(library("adamw").frozen().text()), Fingerprint.structural(cleaned), cleaned);
  }
}
