package dev.optc.training;

import dev.optc.bench.Chart;
import java.awt.BasicStroke;
import java.awt.Color;
import java.util.ArrayList;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The PNG of a training comparison (XChart, headless, as {@code optc bench}'s chart): per run one colour, its
 * validation loss solid and its training loss dashed, against the step; the loss axis is logarithmic.
 */
public final class LossChart {
  private static final Color[] COLORS = {
      new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c), new Color(0xd62728), new Color(0x9467bd),
      new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f), new Color(0xbcbd22), new Color(0x17becf)};

  private LossChart() {}

  /** The PNG's bytes, for a caller that writes it with other files as one batch. */
  public static byte[] png(TrainReport report, String title) {
    return Chart.render(() -> build(report, title));
  }


  static XYChart build(TrainReport report, String title) {
    var chart = new XYChartBuilder().width(960).height(560).title(title).xAxisTitle("step")
        .yAxisTitle("cross-entropy loss (nats; solid: validation, dashed: training)").build();
    var st = chart.getStyler();
    st.setLegendPosition(Styler.LegendPosition.OutsideE);
    st.setChartBackgroundColor(Color.WHITE);
    st.setYAxisLogarithmic(true);
    st.setPlotGridVerticalLinesVisible(false);
    int i = 0;
    for (var r : report.runs()) {
      var color = COLORS[i++ % COLORS.length];
      var label = r.optimizer() + (r.runner().equals("optc") ? "" : " (" + r.runner() + ")");
      var steps = new ArrayList<Double>();
      var train = new ArrayList<Double>();
      var val = new ArrayList<Double>();
      for (var p : r.curve()) {
        if (Double.isFinite(p.trainLoss()) && Double.isFinite(p.valLoss()) && p.trainLoss() > 0 && p.valLoss() > 0) {
          steps.add((double) p.step());
          train.add(p.trainLoss());
          val.add(p.valLoss());
        }
      }
      if (steps.isEmpty()) {
        continue;
      }
      var v = chart.addSeries(label + " val", steps, val);
      v.setLineColor(color);
      v.setMarker(SeriesMarkers.NONE);
      v.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
      var t = chart.addSeries(label + " train", steps, train);
      t.setLineColor(color);
      t.setMarker(SeriesMarkers.NONE);
      t.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f},
          0f));
    }
    return chart;
  }
}
