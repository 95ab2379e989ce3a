package dev.optc.compiler.frontend;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** "Did you mean" candidates by edit distance. */
final class Suggest {
  private Suggest() {}

  /** Up to three candidates close to {@code name}, best first; empty when none is close. */
  static List<String> similar(String name, Collection<String> candidates) {
    int limit = Math.max(1, Math.min(3, name.length() / 3));
    return candidates.stream()
        .distinct()
        .filter(c -> !c.equals(name))
        .filter(c -> distance(name, c) <= limit
            || (name.length() >= 3 && (c.startsWith(name) || name.startsWith(c)) && c.length() > 1))
        .sorted(Comparator.<String>comparingInt(c -> distance(name, c)).thenComparing(c -> c))
        .limit(3)
        .toList();
  }

  /** "did you mean 'a' or 'b'?", or null. */
  static String didYouMean(String name, Collection<String> candidates) {
    var close = similar(name, candidates);
    if (close.isEmpty()) {
      return null;
    }
    var quoted = close.stream().map(c -> "'" + c + "'").toList();
    var joined = quoted.size() == 1 ? quoted.getFirst()
        : String.join(", ", quoted.subList(0, quoted.size() - 1)) + " or " + quoted.getLast();
    return "did you mean " + joined + "?";
  }

  static int distance(String a, String b) {
    var prev = new int[b.length() + 1];
    var cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      var t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }
}
