package dev.optc.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * What one {@code optc bench} run measured: its rows, and the machine and settings they were measured
 * with. Renders the table, CSV and JSON.
 *
 * @param machine facts about the machine and run (cores, CPU, memory, date, load, versions), for the record
 * @param settings the workload and measuring settings
 * @param notes lines printed under the table: skipped measurements and why
 */
public record Report(Map<String, Object> machine, Map<String, Object> settings, List<Row> rows,
    List<String> notes) {

  public Report {
    machine = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(machine));
    settings = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    rows = List.copyOf(rows);
    notes = List.copyOf(notes);
  }

  /** What a row measured. */
  public enum Kind {
    /** optc's step at one fusion level. */
    STEP,
    /** The hand-written copy over the fused step's bytes. */
    COPY,
    /** optc's probe with the step's access pattern. */
    PROBE,
    /** A peer framework's step (torch.optim). */
    PEER
  }

  /**
   * One measurement.
   *
   * @param optimizer the optimizer whose group the row belongs to
   * @param runner {@code java}, {@code opencl} or {@code torch}
   * @param variant {@code full}, {@code statement}, {@code none}, {@code copy}, {@code probe} or
   *     {@code foreach=False}/{@code foreach=True}
   * @param bytesPerParam the bytes this row's code moves per parameter: optc's planned traffic at its
   *     fusion level, the fused step's for copy and probe, and the least the algorithm needs for a peer
   * @param fusedBytesPerParam the bytes the fused optc step moves per parameter: the bytes every row of the
   *     optimizer is judged by (GB/s, the copy floor)
   * @param stats the timed repeats, seconds per step; null when the measurement was skipped
   * @param stepsPerSample steps timed together in each repeat (more than one for very short steps)
   * @param retaken samples taken again because other work competed for the CPU during them
   * @param cpuWait mean share of the kept samples' time during which a runnable thread waited for a CPU
   *     (Linux PSI; other work on the machine), NaN where unknown
   */
  public record Row(String optimizer, String runner, String variant, Kind kind, long numel, int tensors,
      int threads, int bytesPerParam, int fusedBytesPerParam, Stats stats, int stepsPerSample, int retaken,
      double cpuWait, String note) {

    public boolean measured() {
      return stats != null;
    }

    /** Effective bandwidth: the fused step's bytes over this row's median time, in GB/s (10^9 bytes). */
    public double gbPerSecond() {
      return (double) fusedBytesPerParam * numel / stats.median() / 1e9;
    }

    public String label() {
      return runner + " " + variant;
    }
  }

  /** The copy-floor row of {@code row}'s optimizer on {@code row}'s runner. */
  public Optional<Row> copyOf(Row row) {
    return find(row.optimizer(), row.runner(), Kind.COPY);
  }

  public Optional<Row> probeOf(Row row) {
    return find(row.optimizer(), row.runner(), Kind.PROBE);
  }

  public Optional<Row> find(String optimizer, String runner, Kind kind) {
    return rows.stream().filter(r -> r.optimizer().equals(optimizer) && r.runner().equals(runner)
        && r.kind() == kind && r.measured()).findFirst();
  }

  public Optional<Row> find(String optimizer, String runner, String variant) {
    return rows.stream().filter(r -> r.optimizer().equals(optimizer) && r.runner().equals(runner)
        && r.variant().equals(variant) && r.measured()).findFirst();
  }

  /** Median time ÷ the copy floor's median on the same runner, or NaN without one. */
  public double timesCopy(Row row) {
    return ratio(row, copyOf(row));
  }

  /**
   * What rows are judged by: the probe, the fastest pass measured with the step's own access pattern
   * (its reads and in-place writes, trivial arithmetic). A copy is no floor for an in-place update: its
   * destination is read before it is written, so the copy moves more and an optimizer step can beat it.
   */
  public static final String REFERENCE = "the probe: the fused step's own reads and in-place writes with trivial "
      + "arithmetic, the fastest pass over that memory measured in this run";

  /**
   * The probe a row is judged by: its own runner's, else (a peer such as torch, which has none) the fastest
   * probe of the optimizer measured on any runner of this machine.
   */
  public Optional<Row> referenceOf(Row row) {
    var own = probeOf(row);
    if (own.isPresent()) {
      return own;
    }
    return rows.stream().filter(r -> r.optimizer().equals(row.optimizer()) && r.kind() == Kind.PROBE && r.measured())
        .min(java.util.Comparator.comparingDouble(r -> r.stats().median()));
  }

  /** Median time ÷ the reference probe's median ({@link #referenceOf}), or NaN without one. */
  public double timesProbe(Row row) {
    return ratio(row, referenceOf(row));
  }

  private static double ratio(Row row, Optional<Row> base) {
    if (!row.measured() || base.isEmpty()) {
      return Double.NaN;
    }
    return row.stats().median() / base.get().stats().median();
  }

  // ------------------------------------------------------------------ rendering

  private static final String[] HEADER = {"optimizer", "runner", "variant", "B/param", "median ms", "min ms",
      "max ms", "GB/s", "x probe", "x copy", "cpu wait"};

  /** The table {@code optc bench} prints: one line per row, grouped by optimizer, then notes. */
  public String table() {
    var lines = new ArrayList<String[]>();
    lines.add(HEADER);
    for (var r : rows) {
      if (!r.measured()) {
        lines.add(new String[] {r.optimizer(), r.runner(), r.variant(), Integer.toString(r.bytesPerParam()),
            "skipped", "", "", "", "", "", ""});
        continue;
      }
      var s = r.stats();
      lines.add(new String[] {r.optimizer(), r.runner(), r.variant(), Integer.toString(r.bytesPerParam()),
          ms(s.median()), ms(s.min()), ms(s.max()), fmt("%.1f", r.gbPerSecond()),
          r.kind() == Kind.STEP || r.kind() == Kind.PEER ? times(timesProbe(r)) : "", times(timesCopy(r)), wait(r)});
    }
    int[] width = new int[HEADER.length];
    for (var l : lines) {
      for (int i = 0; i < l.length; i++) {
        width[i] = Math.max(width[i], l[i].length());
      }
    }
    var sb = new StringBuilder();
    String previous = null;
    for (int k = 0; k < lines.size(); k++) {
      var l = lines.get(k);
      if (k > 1 && !l[0].equals(previous)) {
        sb.append('\n');
      }
      previous = k == 0 ? null : l[0];
      var line = new StringBuilder();
      for (int i = 0; i < l.length; i++) {
        // Text columns left-aligned, numbers right-aligned.
        var cell = i < 3 ? String.format("%-" + width[i] + "s", l[i]) : String.format("%" + width[i] + "s", l[i]);
        line.append(i == 0 ? "" : "  ").append(cell);
      }
      sb.append(line.toString().stripTrailing()).append('\n');
    }
    for (var n : notes) {
      sb.append(n).append('\n');
    }
    return sb.toString();
  }

  private static String ms(double seconds) {
    double ms = seconds * 1e3;
    return ms >= 100 ? fmt("%.1f", ms) : ms >= 1 ? fmt("%.2f", ms) : fmt("%.4f", ms);
  }

  /** The CPU wait, and how many samples were taken again because of it. */
  private static String wait(Row r) {
    var w = Double.isNaN(r.cpuWait()) ? "-" : fmt("%.0f%%", 100 * r.cpuWait());
    return r.retaken() == 0 ? w : w + " (" + r.retaken() + " retaken)";
  }

  private static String times(double x) {
    return Double.isNaN(x) ? "-" : fmt("%.2f", x);
  }

  private static String fmt(String f, double v) {
    return String.format(Locale.ROOT, f, v);
  }

  private static final String[] CSV_HEADER = {"optimizer", "runner", "variant", "kind", "params", "tensors",
      "threads", "bytes_per_param", "fused_bytes_per_param", "median_s", "min_s", "max_s", "q1_s", "q3_s",
      "repeats", "steps_per_sample", "gb_per_s", "x_copy", "x_probe", "retaken", "cpu_wait", "note"};

  public String csv() {
    var sb = new StringBuilder(String.join(",", CSV_HEADER)).append('\n');
    for (var r : rows) {
      var s = r.stats();
      var cells = new ArrayList<String>(List.of(r.optimizer(), r.runner(), r.variant(),
          r.kind().name().toLowerCase(Locale.ROOT), Long.toString(r.numel()), Integer.toString(r.tensors()),
          Integer.toString(r.threads()), Integer.toString(r.bytesPerParam()),
          Integer.toString(r.fusedBytesPerParam())));
      if (s == null) {
        cells.addAll(List.of("", "", "", "", "", "0", "", "", "", "", "", ""));
      } else {
        cells.addAll(List.of(num(s.median()), num(s.min()), num(s.max()), num(s.q1()), num(s.q3()),
            Integer.toString(s.repeats()), Integer.toString(r.stepsPerSample()), num(r.gbPerSecond()),
            num(timesCopy(r)), num(timesProbe(r)), Integer.toString(r.retaken()), num(r.cpuWait())));
      }
      cells.add(r.note() == null ? "" : r.note());
      sb.append(String.join(",", cells.stream().map(Report::csvCell).toList())).append('\n');
    }
    return sb.toString();
  }

  private static String num(double v) {
    return Double.isNaN(v) ? "" : Double.toString(v);
  }

  private static String csvCell(String s) {
    if (s.contains(",") || s.contains("\"") || s.contains("\n")) {
      return "\"" + s.replace("\"", "\"\"") + "\"";
    }
    return s;
  }

  public String json() {
    var doc = new LinkedHashMap<String, Object>();
    doc.put("machine", machine);
    doc.put("settings", settings);
    doc.put("reference", "probe"); // x_probe is the headline ratio; x_copy stays for comparison
    var list = new ArrayList<Object>();
    for (var r : rows) {
      var m = new LinkedHashMap<String, Object>();
      m.put("optimizer", r.optimizer());
      m.put("runner", r.runner());
      m.put("variant", r.variant());
      m.put("kind", r.kind().name().toLowerCase(Locale.ROOT));
      if (r.kind() == Kind.STEP || r.kind() == Kind.COPY || r.kind() == Kind.PROBE) {
        m.put("fusion", r.variant()); // the level (or "copy", "probe"), under the name other tools look for
      }
      m.put("params", r.numel());
      m.put("tensors", r.tensors());
      m.put("threads", r.threads());
      m.put("bytes_per_param", r.bytesPerParam());
      m.put("fused_bytes_per_param", r.fusedBytesPerParam());
      m.put("bytes", (long) r.fusedBytesPerParam() * r.numel()); // what the step must move: GB/s's numerator
      if (r.measured()) {
        var s = r.stats();
        m.put("median_s", s.median());
        m.put("min_s", s.min());
        m.put("max_s", s.max());
        m.put("q1_s", s.q1());
        m.put("q3_s", s.q3());
        m.put("steps_per_sample", r.stepsPerSample());
        m.put("seconds", s.seconds());
        m.put("gb_per_s", r.gbPerSecond());
        m.put("x_copy", nanToNull(timesCopy(r)));
        m.put("x_probe", nanToNull(timesProbe(r)));
        m.put("retaken", r.retaken());
        m.put("cpu_wait", nanToNull(r.cpuWait()));
      }
      m.put("note", r.note());
      list.add(m);
    }
    doc.put("rows", list);
    doc.put("notes", notes);
    return Json.write(doc);
  }

  private static Double nanToNull(double v) {
    return Double.isNaN(v) ? null : v;
  }
}
