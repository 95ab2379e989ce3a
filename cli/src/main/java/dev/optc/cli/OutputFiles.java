package dev.optc.cli;

import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.OptcException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The check every command that writes files makes before any work: each output can be written (see
 * {@link AtomicFiles#target}) and is neither an input nor another output. Files are compared as the
 * file system sees them: through symbolic links (to the file or to a folder above it) and hard links.
 */
final class OutputFiles {
  private OutputFiles() {}

  /**
   * @param inputs files the command reads, by the option that names them ("--params")
   * @param outputs files it writes, by option
   * @throws OptcException "OPTION PATH: REASON" for the first output that cannot be written safely
   */
  static void check(Map<String, Path> inputs, Map<String, Path> outputs) {
    var targets = new LinkedHashMap<String, Path>();
    for (var o : outputs.entrySet()) {
      var option = o.getKey();
      var path = o.getValue();
      Path target;
      try {
        target = AtomicFiles.target(path);
      } catch (OptcException e) {
        throw new OptcException(option + " " + e.getMessage());
      }
      for (var t : targets.entrySet()) {
        if (t.getValue().equals(target) || same(t.getValue(), target)) {
          throw new OptcException(option + " " + path + ": the same file as " + t.getKey() + " "
              + outputs.get(t.getKey()) + "; give each output its own file");
        }
      }
      for (var i : inputs.entrySet()) {
        if (same(i.getValue(), target)) {
          throw new OptcException(option + " " + path + ": the same file as the input " + i.getKey() + " "
              + i.getValue() + "; writing it would destroy the input");
        }
      }
      targets.put(option, target);
    }
  }

  /** The file at {@code opt}, when OPT names one rather than a library optimizer. */
  /**
   * Fails before any work if a report (--json, --csv, --plot; the chart must be a .png) could not be written
   * or would replace one of the .opt files {@code opts}, named {@code label} ({@code label #2} when several).
   */
  static void checkReports(Path json, Path csv, Path plot, String label, List<String> opts) {
    var files = new LinkedHashMap<String, Path>();
    if (json != null) {
      files.put("--json", json);
    }
    if (csv != null) {
      files.put("--csv", csv);
    }
    if (plot != null) {
      if (!plot.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png")) {
        throw new OptcException("--plot " + plot + ": the chart is a PNG; give a file name ending in .png");
      }
      files.put("--plot", plot);
    }
    var inputs = new LinkedHashMap<String, Path>();
    for (int i = 0; i < opts.size(); i++) {
      var name = label + (opts.size() > 1 ? " #" + (i + 1) : "");
      optInput(opts.get(i)).forEach((k, v) -> inputs.put(name, v));
    }
    check(inputs, files);
  }

  static Map<String, Path> optInput(String opt) {
    var inputs = new LinkedHashMap<String, Path>();
    try {
      var path = Path.of(opt);
      if (!opt.isEmpty() && Files.exists(path)) {
        inputs.put("OPT", path);
      }
    } catch (InvalidPathException e) {
      // Not a file name: a library name or an error the loader reports.
    }
    return inputs;
  }

  /** Both exist and are one file (device and inode: links of either kind followed). */
  private static boolean same(Path a, Path b) {
    try {
      return Files.exists(a) && Files.exists(b) && Files.isSameFile(a, b);
    } catch (IOException | SecurityException e) {
      return false;
    }
  }
}
