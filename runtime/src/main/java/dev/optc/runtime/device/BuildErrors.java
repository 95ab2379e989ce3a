package dev.optc.runtime.device;

import dev.optc.runtime.OptcException;
import java.util.regex.Pattern;

/**
 * Turns a device compiler's log into an error a user can act on: each error with the generated line it
 * points at and the DSL statement that line came from (the emitters put a {@code // statement} comment
 * before each statement's code).
 */
public final class BuildErrors {
  private BuildErrors() {}

  /**
   * @param location finds the line number (group 1) of an error in a log line
   */
  public static OptcException explain(String what, String source, String log, Pattern location,
      Throwable cause) {
    var lines = source.split("\n", -1);
    var sb = new StringBuilder(what);
    for (var logLine : log.split("\n")) {
      var m = location.matcher(logLine);
      if (!logLine.contains("error") || !m.find()) {
        continue;
      }
      int line = Integer.parseInt(m.group(1));
      sb.append("\n  ").append(logLine.strip());
      if (line >= 1 && line <= lines.length) {
        sb.append("\n    generated line ").append(line).append(": ").append(lines[line - 1].strip());
        for (int i = line - 1; i >= 0; i--) {
          var l = lines[i].strip();
          if (l.startsWith("// ") && !l.startsWith("// u") && !l.startsWith("// Phase")) {
            sb.append("\n    from the statement: ").append(l.substring(3));
            break;
          }
          if (l.contains("__kernel") || l.contains("__global__")) {
            break;
          }
        }
      }
    }
    sb.append("\n(full log follows)\n").append(log.strip());
    return new OptcException(sb.toString(), cause);
  }
}
