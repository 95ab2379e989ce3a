package dev.optc.cli;

import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.OptcException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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
