package dev.optc.bench;

import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.OptcException;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.function.Supplier;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.CategorySeries;
import org.knowm.xchart.style.Styler;

/**
 * The PNG of a report (XChart, headless): for each optimizer, a bar per runner and fusion level (and
 * peer) of time ÷ the probe ({@link Report#referenceOf}): 1.0 is the fastest pass over the step's own memory
 * measured in the run, and lower is better.
 */
public final class Chart {
  private Chart() {}

  /** Renders {@code report} and writes it to {@code path} atomically. */
  public static void writePng(Report report, Path path, String title) {
    AtomicFiles.write(path, png(report, title));
  }

  /** The PNG's bytes, for a caller that writes it with other files as one ({@link AtomicFiles.Batch}). */
  public static byte[] png(Report report, String title) {
    return render(() -> build(report, title));
  }

  /**
   * The PNG's bytes of the chart {@code build} makes, headless: no display is needed or wanted, and the property
   * must be set before the chart is built. Every chart of optc (bench, train, search) is rendered here.
   */
  public static byte[] render(Supplier<? extends org.knowm.xchart.internal.chartpart.Chart<?, ?>> build) {
    System.setProperty("java.awt.headless", "true");
    var chart = build.get();
    try {
      var out = new ByteArrayOutputStream();
      BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
      return out.toByteArray();
    } catch (IOException e) {
      throw new OptcException("cannot render the chart (" + e.getMessage() + ")");
    }
  }

  /** One hue per runner (java blue, opencl green, torch orange), darker for more fusion. */
  static Color color(String label) {
    var parts = label.split(" ", 2);
    float hue = switch (parts[0]) {
      case "java" -> 0.60f;
      case "opencl" -> 0.36f;
      case "torch" -> 0.07f;
      default -> 0.80f;
    };
    float brightness = switch (parts.length > 1 ? parts[1] : "") {
      case "full", "foreach=True" -> 0.55f;
      case "statement", "foreach=False" -> 0.80f;
      default -> 0.97f;
    };
    float saturation = brightness > 0.9f ? 0.35f : 0.75f;
    return Color.getHSBColor(hue, saturation, brightness);
  }

  static CategoryChart build(Report report, String title) {
    var optimizers = new LinkedHashSet<String>();
    var series = new LinkedHashSet<String>();
    for (var r : report.rows()) {
      if (r.measured() && (r.kind() == Report.Kind.STEP || r.kind() == Report.Kind.PEER)) {
        optimizers.add(r.optimizer());
        series.add(r.label());
      }
    }
    int width = Math.max(800, 140 + optimizers.size() * series.size() * 28);
    var chart = new CategoryChartBuilder().width(width).height(520).title(title)
        .xAxisTitle("optimizer").yAxisTitle("time / probe (lower is better; 1 = the fastest pass over the step's memory)").build();
    var st = chart.getStyler();
    st.setLegendPosition(Styler.LegendPosition.OutsideE);
    st.setChartBackgroundColor(Color.WHITE);
    st.setPlotGridVerticalLinesVisible(false);
    st.setAvailableSpaceFill(0.85);
    st.setOverlapped(false);
    st.setLabelsVisible(true);
    st.setDecimalPattern("0.0");
    st.setLabelsFontColorAutomaticEnabled(false);
    st.setLabelsFontColor(Color.DARK_GRAY);
    st.setLabelsRotation(90);
    st.setYAxisMin(0.0);
    var x = new ArrayList<>(optimizers);
    for (var s : series) {
      var ys = new ArrayList<Double>();
      for (var o : x) {
        var row = report.rows().stream().filter(r -> r.optimizer().equals(o) && r.label().equals(s) && r.measured())
            .findFirst();
        double v = row.map(report::timesProbe).orElse(Double.NaN);
        ys.add(Double.isNaN(v) ? 0.0 : v);
      }
      chart.addSeries(s, x, ys).setFillColor(color(s));
    }
    // A line at 1: the probe itself.
    if (!x.isEmpty()) {
      List<Double> ones = x.stream().map(o -> 1.0).toList();
      var floor = chart.addSeries("probe", x, ones);
      floor.setChartCategorySeriesRenderStyle(CategorySeries.CategorySeriesRenderStyle.Line);
      floor.setLineColor(Color.BLACK);
      floor.setMarkerColor(Color.BLACK);
    }
    return chart;
  }
}
