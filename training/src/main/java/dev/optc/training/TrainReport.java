package dev.optc.training;

import dev.optc.bench.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;

/**
 * The runs of one {@code optc train}: the table, the JSON (fields stable for scripts), the CSV of the curves
 * and the PNG of the loss curves ({@link LossChart}).
 */
public record TrainReport(Task task, long seed, int steps, int batch, List<Trainer.Run> runs) {
  public TrainReport {
    runs = List.copyOf(runs);
  }

  /** The table: one row per run. */
  public String table() {
    boolean bpc = task.quality() == Task.Quality.BITS_PER_CHAR;
    var sb = new StringBuilder();
    sb.append(String.format(Locale.ROOT, "%-12s %-9s %10s %9s %8s %11s %9s %6s%n", "optimizer", "runner",
        "train loss", "val loss", bpc ? "val bpc" : "val acc", "fwd+bwd ms", "step ms", "step"));
    for (var r : runs) {
      var quality = bpc ? String.format(Locale.ROOT, "%.3f", r.valLoss() / Math.log(2))
          : String.format(Locale.ROOT, "%.1f%%", 100 * r.valAccuracy());
      sb.append(String.format(Locale.ROOT, "%-12s %-9s %10.4f %9.4f %8s %11.3f %9.3f %5.0f%%%s%n", r.optimizer(),
          r.runner(), r.trainLoss(), r.valLoss(), quality, r.forwardBackwardMs(), r.stepMs(), 100 * r.stepShare(),
          r.diverged() == 0 ? "" : "  diverged at step " + r.diverged()));
    }
    return sb.toString();
  }

  /**
   * {@code {"task", "seed", "steps", "runs": [{"optimizer", "runner": "optc"|"libtorch", "train_loss", "val_loss",
   * "val_accuracy", "step_ms", "forward_backward_ms", "curve": [[step, train_loss, val_loss]...]}]}}; a number that
   * is not finite (a diverged run) is null.
   */
  public String json() {
    var doc = new LinkedHashMap<String, Object>();
    doc.put("task", task.name());
    doc.put("seed", seed);
    doc.put("steps", (long) steps);
    var list = new ArrayList<Object>();
    for (var r : runs) {
      var m = new LinkedHashMap<String, Object>();
      m.put("optimizer", r.optimizer());
      m.put("runner", r.runner());
      m.put("train_loss", r.trainLoss());
      m.put("val_loss", r.valLoss());
      m.put("val_accuracy", r.valAccuracy());
      m.put("step_ms", r.stepMs());
      m.put("forward_backward_ms", r.forwardBackwardMs());
      var curve = new ArrayList<Object>();
      for (var p : r.curve()) {
        curve.add(List.of((long) p.step(), p.trainLoss(), p.valLoss()));
      }
      m.put("curve", curve);
      list.add(m);
    }
    doc.put("runs", list);
    return Json.write(doc);
  }

  /** Every point of every curve: {@code optimizer,runner,step,train_loss,val_loss,val_accuracy}. */
  public String csv() {
    var sb = new StringBuilder("optimizer,runner,step,train_loss,val_loss,val_accuracy\n");
    for (var r : runs) {
      for (var p : r.curve()) {
        sb.append(csvCell(r.optimizer())).append(',').append(r.runner()).append(',').append(p.step()).append(',')
            .append(num(p.trainLoss())).append(',').append(num(p.valLoss())).append(',')
            .append(num(p.valAccuracy())).append('\n');
      }
    }
    return sb.toString();
  }

  private static String num(double v) {
    return Double.isFinite(v) ? Double.toString(v) : "";
  }

  private static String csvCell(String s) {
    return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
  }
}
