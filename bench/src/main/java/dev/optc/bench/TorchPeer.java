package dev.optc.bench;

import dev.optc.runtime.OptcException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * torch.optim on the CPU as the peer: runs {@code torch_bench.py} (shipped in this jar) with Debian's
 * {@code python3-torch} and turns its JSON into report rows.
 */
public final class TorchPeer {
  /** Debian's python3, where {@code apt-get install python3-torch} puts torch (not a pyenv or venv one). */
  public static final Path PYTHON = Path.of("/usr/bin/python3");

  /** The optc library optimizers torch.optim has, by the names torch_bench.py knows. */
  public static final Set<String> SUPPORTED = Set.of("sgd", "adam", "adamw", "adagrad", "rmsprop", "nadam",
      "radam", "adamax", "adadelta");

  private TorchPeer() {}

  /** What the script measured, or why it did not run. */
  public record Result(List<Report.Row> rows, String version, String skipped) {}

  /** Why torch cannot be run here, or null when it can. Costs one Python start (about a second). */
  public static String unavailableReason() {
    if (!Files.isExecutable(PYTHON)) {
      return PYTHON + " does not exist (install Debian's python3-torch: apt-get install python3-torch)";
    }
    try {
      var p = new ProcessBuilder(PYTHON.toString(), "-c", "import torch").redirectErrorStream(true).start();
      var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.waitFor() != 0) {
        var last = out.strip().lines().reduce((a, b) -> b).orElse("no output");
        return PYTHON + " cannot import torch (" + last + "; apt-get install python3-torch)";
      }
      return null;
    } catch (IOException e) {
      return "cannot run " + PYTHON + " (" + e.getMessage() + ")";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    }
  }

  /**
   * Runs the script for {@code optimizers} (those torch has) on {@code workload}.
   *
   * @param fusedBytes the fused optc step's bytes per parameter for each optimizer: torch's copy floor
   *     for it moves as many, so its rows are judged against a copy of the same size as optc's
   * @param progress called with a label before each measurement the script starts
   */
  public static Result run(List<String> optimizers, Workload workload, int threads, int warmup, int repeats,
      double minSample, double maxCpuWait, Map<String, Integer> fusedBytes, Consumer<String> progress) {
    var names = optimizers.stream().filter(SUPPORTED::contains).distinct().toList();
    if (names.isEmpty()) {
      return new Result(List.of(), null, "torch.optim has none of " + String.join(", ", optimizers));
    }
    var reason = unavailableReason();
    if (reason != null) {
      return new Result(List.of(), null, reason);
    }
    Path script = null;
    Path errors = null;
    try {
      script = Files.createTempFile("optc-torch-bench", ".py");
      try (InputStream in = TorchPeer.class.getResourceAsStream("torch_bench.py")) {
        if (in == null) {
          throw new IllegalStateException("torch_bench.py is missing from the optc-bench jar");
        }
        Files.write(script, in.readAllBytes());
      }
      errors = Files.createTempFile("optc-torch-bench", ".err");
      var cmd = new ArrayList<>(List.of(PYTHON.toString(), script.toString()));
      cmd.addAll(names);
      cmd.addAll(workload.torchArgs());
      cmd.addAll(List.of("--threads", Integer.toString(threads), "--warmup", Integer.toString(warmup),
          "--repeats", Integer.toString(repeats), "--min-sample", Double.toString(minSample),
          "--max-cpu-wait", Double.toString(maxCpuWait), "--progress"));
      var copy = names.stream().filter(fusedBytes::containsKey).map(n -> n + "=" + fusedBytes.get(n)).toList();
      if (!copy.isEmpty()) {
        cmd.addAll(List.of("--copy-bytes", String.join(",", copy)));
      }
      var process = new ProcessBuilder(cmd).redirectError(errors.toFile()).start();
      // Progress lines come on stdout before the JSON, one per measurement: "progress: LABEL".
      var json = new StringBuilder();
      try (var reader = process.inputReader(StandardCharsets.UTF_8)) {
        String line;
        while ((line = reader.readLine()) != null) {
          if (line.startsWith("progress: ")) {
            progress.accept("torch " + line.substring("progress: ".length()));
          } else {
            json.append(line).append('\n');
          }
        }
      }
      int rc = process.waitFor();
      if (rc != 0) {
        var err = Files.readString(errors).strip();
        var last = err.lines().reduce((a, b) -> b).orElse("no output");
        throw new OptcException("the torch peer (" + PYTHON + " torch_bench.py) failed with exit code " + rc + ": "
            + last);
      }
      return parse(json.toString(), fusedBytes);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new OptcException("interrupted while torch ran");
    } finally {
      deleteQuietly(script);
      deleteQuietly(errors);
    }
  }

  /** Rows from torch_bench.py's JSON. */
  @SuppressWarnings("unchecked")
  static Result parse(String json, Map<String, Integer> fusedBytes) {
    Map<String, Object> doc;
    try {
      doc = (Map<String, Object>) Json.parse(json);
    } catch (Json.ParseException | ClassCastException e) {
      throw new OptcException("the torch peer printed something that is not its JSON report (" + e.getMessage() + ")");
    }
    long numel = ((Number) doc.get("numel")).longValue();
    int tensors = ((Number) doc.get("tensors")).intValue();
    int threads = ((Number) doc.get("threads")).intValue();
    var rows = new ArrayList<Report.Row>();
    for (var o : (List<Object>) doc.get("rows")) {
      var r = (Map<String, Object>) o;
      var name = (String) r.get("optimizer");
      var variant = (String) r.get("variant");
      var secs = ((List<Object>) r.get("seconds")).stream().mapToDouble(x -> ((Number) x).doubleValue()).toArray();
      int bytes = ((Number) r.get("bytes_per_param")).intValue();
      boolean copy = variant.equals("copy");
      rows.add(new Report.Row(name, "torch", variant, copy ? Report.Kind.COPY : Report.Kind.PEER, numel, tensors,
          threads, bytes, fusedBytes.getOrDefault(name, bytes), Stats.of(secs),
          ((Number) r.get("steps_per_sample")).intValue(),
          r.get("retaken") instanceof Number n ? n.intValue() : 0,
          r.get("cpu_wait") instanceof Number w ? w.doubleValue() : Double.NaN, null));
    }
    return new Result(rows, (String) doc.get("torch"), null);
  }

  private static void deleteQuietly(Path p) {
    if (p != null) {
      try {
        Files.deleteIfExists(p);
      } catch (IOException ignored) {
        // A temporary file; the OS cleans /tmp.
      }
    }
  }
}
