package dev.optc.training.search;

import dev.optc.bench.Chart;
import java.awt.Color;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * {@code fitness.png} of a search (XChart, headless, as the other charts): over the candidates in the order they
 * were made, the best fitness so far and the median fitness of the last {@code window} candidates (the size of
 * the population: what the search is breeding from). Diverged candidates (infinite loss) count in neither.
 */
public final class FitnessChart {
  private FitnessChart() {}

  /** The PNG's bytes, for a caller that writes it with other files as one batch. */
  public static byte[] png(List<Search.Candidate> history, int window, String title) {
    return Chart.render(() -> build(history, window, title));
  }


  static XYChart build(List<Search.Candidate> history, int window, String title) {
    var chart = new XYChartBuilder().width(960).height(520).title(title).xAxisTitle("candidate")
        .yAxisTitle("fitness: the task's loss (lower is better)").build();
    var st = chart.getStyler();
    st.setLegendPosition(Styler.LegendPosition.InsideNE);
    st.setChartBackgroundColor(Color.WHITE);
    st.setPlotGridVerticalLinesVisible(false);
    var x = new ArrayList<Double>();
    var best = new ArrayList<Double>();
    var median = new ArrayList<Double>();
    double bestSoFar = Double.POSITIVE_INFINITY;
    for (int i = 0; i < history.size(); i++) {
      double loss = history.get(i).loss();
      if (Double.isFinite(loss)) {
        bestSoFar = Math.min(bestSoFar, loss);
      }
      var recent = history.subList(Math.max(0, i - window + 1), i + 1).stream().mapToDouble(Search.Candidate::loss)
          .filter(Double::isFinite).sorted().toArray();
      if (Double.isFinite(bestSoFar) && recent.length > 0) {
        x.add((double) i + 1);
        best.add(bestSoFar);
        median.add(median(recent));
      }
    }
    if (x.isEmpty()) {
      x.add(0.0);
      best.add(0.0);
      median.add(0.0);
    }
    style(chart.addSeries("best so far", x, best), new Color(0x1f77b4));
    style(chart.addSeries("median of the last " + window, x, median), new Color(0xff7f0e));
    return chart;
  }

  private static void style(XYSeries s, Color color) {
    s.setLineColor(color);
    s.setMarker(SeriesMarkers.NONE);
    s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
  }

  static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
