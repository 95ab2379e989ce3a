package dev.optc.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.optc.bench.Json;
import dev.optc.runtime.OptcException;
import dev.optc.training.tasks.CharLmTask;
import dev.optc.training.tasks.DigitsTask;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The report's formats, from hand-made runs (no libtorch needed). */
class TrainReportTest {
  static TrainReport report(Task task) {
    var curve = List.of(new Trainer.Point(10, 1.5, 1.25, 0.5), new Trainer.Point(20, 0.5, 0.75, 0.875));
    var a = new Trainer.Run("adamw", "optc", Map.of("lr", 1e-3), 0.5, 0.75, 0.875, 0.25, 1.0, curve, 0);
    var b = new Trainer.Run("adamw", "libtorch", Map.of(), Double.NaN, Double.NaN, 0.1, 0.5, 1.0,
        List.of(new Trainer.Point(3, Double.NaN, Double.NaN, 0.1)), 3);
    return new TrainReport(task, 7, 20, 16, List.of(a, b));
  }

  @Test
  void jsonHasTheIssuesFieldsInOrder() {
    var doc = (Map<?, ?>) Json.parse(report(new DigitsTask()).json());
    assertEquals(List.of("task", "seed", "steps", "runs"), List.copyOf(doc.keySet()));
    assertEquals("digits", doc.get("task"));
    var runs = (List<?>) doc.get("runs");
    var run = (Map<?, ?>) runs.getFirst();
    assertEquals(List.of("optimizer", "runner", "train_loss", "val_loss", "val_accuracy", "step_ms",
        "forward_backward_ms", "curve"), List.copyOf(run.keySet()));
    assertEquals(List.of(List.of(10L, 1.5, 1.25), List.of(20L, 0.5, 0.75)), normalize(run.get("curve")));
    var diverged = (Map<?, ?>) runs.get(1);
    assertEquals(null, diverged.get("train_loss"), "JSON has no NaN: a diverged run's loss is null");
  }

  private static Object normalize(Object o) {
    if (o instanceof List<?> l) {
      return l.stream().map(TrainReportTest::normalize).toList();
    }
    return o instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) ? (Object) n.longValue() : o;
  }

  @Test
  void tableShowsAccuracyOrBitsPerCharAndTheStepShare() {
    var digits = report(new DigitsTask()).table();
    assertTrue(digits.lines().findFirst().orElseThrow().contains("val acc"), digits);
    assertTrue(digits.contains("adamw        optc          0.5000    0.7500    87.5%       1.000     0.250    20%"),
        digits);
    assertTrue(digits.contains("diverged at step 3"), digits);
    var charlm = report(new CharLmTask()).table();
    assertTrue(charlm.lines().findFirst().orElseThrow().contains("val bpc"), charlm);
    assertTrue(charlm.contains(String.format(java.util.Locale.ROOT, "%.3f", 0.75 / Math.log(2))), charlm);
  }

  @Test
  void csvHasAPointPerLine() {
    var lines = report(new DigitsTask()).csv().lines().toList();
    assertEquals("optimizer,runner,step,train_loss,val_loss,val_accuracy", lines.getFirst());
    assertEquals("adamw,optc,10,1.5,1.25,0.5", lines.get(1));
    assertEquals("adamw,libtorch,3,,,0.1", lines.get(3));
  }

  @Test
  void chartIsAPng() {
    var png = LossChart.png(report(new DigitsTask()), "test");
    assertTrue(png.length > 1000);
    assertEquals((byte) 0x89, png[0]);
    assertEquals('P', png[1]);
  }

  @Test
  void libtorchPeersAreTheFiveAndRefuseWhatTheyCannotDo() {
    assertEquals(java.util.Set.of("adamw", "adam", "sgd", "adagrad", "rmsprop"), TorchStepRunner.PEERS);
    var e = assertThrows(OptcException.class, () -> TorchStepRunner.factory("lion", Map.of()));
    assertTrue(e.getMessage().startsWith("libtorch has no peer of 'lion'"), e.getMessage());
    e = assertThrows(OptcException.class, () -> TorchStepRunner.factory("adamw", Map.of("lr", 1e-3, "maximize", 1.0)));
    assertEquals("libtorch's adamw has no option 'maximize' (set to 1.0); leave it at 0 or drop --peers",
        e.getMessage());
  }
}
