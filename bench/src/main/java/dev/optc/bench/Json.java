package dev.optc.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Just enough JSON for the benchmark reports and the torch script's output: values are {@code Map} (key
 * order kept), {@code List}, {@code String}, {@code Double}/{@code Long} numbers, {@code Boolean} and
 * {@code null}. Not a general-purpose library: no streaming, whole documents in memory.
 */
public final class Json {
  private Json() {}

  /** Thrown for text that is not JSON; says where. */
  public static final class ParseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ParseException(String message) {
      super(message);
    }
  }

  // ------------------------------------------------------------------ writing

  /** Pretty-printed with two-space indents; arrays of numbers on one line. */
  public static String write(Object value) {
    var sb = new StringBuilder();
    write(sb, value, 0);
    return sb.append('\n').toString();
  }

  private static void write(StringBuilder sb, Object v, int indent) {
    switch (v) {
      case null -> sb.append("null");
      case String s -> quote(sb, s);
      case Boolean b -> sb.append(b);
      case Double d -> number(sb, d);
      case Float f -> number(sb, f.doubleValue());
      case Number n -> sb.append(n.longValue());
      case Map<?, ?> m -> {
        if (m.isEmpty()) {
          sb.append("{}");
          return;
        }
        sb.append("{\n");
        int i = 0;
        for (var e : m.entrySet()) {
          sb.append("  ".repeat(indent + 1));
          quote(sb, String.valueOf(e.getKey()));
          sb.append(": ");
          write(sb, e.getValue(), indent + 1);
          sb.append(++i < m.size() ? ",\n" : "\n");
        }
        sb.append("  ".repeat(indent)).append('}');
      }
      case List<?> l -> {
        boolean flat = l.stream().allMatch(x -> x == null || x instanceof Number || x instanceof String
            || x instanceof Boolean);
        if (flat) {
          sb.append('[');
          for (int i = 0; i < l.size(); i++) {
            write(sb, l.get(i), indent);
            sb.append(i + 1 < l.size() ? ", " : "");
          }
          sb.append(']');
          return;
        }
        sb.append("[\n");
        for (int i = 0; i < l.size(); i++) {
          sb.append("  ".repeat(indent + 1));
          write(sb, l.get(i), indent + 1);
          sb.append(i + 1 < l.size() ? ",\n" : "\n");
        }
        sb.append("  ".repeat(indent)).append(']');
      }
      case double[] a -> {
        var list = new ArrayList<Object>();
        for (double d : a) {
          list.add(d);
        }
        write(sb, list, indent);
      }
      default -> throw new IllegalArgumentException("no JSON form for " + v.getClass().getName());
    }
  }

  private static void number(StringBuilder sb, double d) {
    if (!Double.isFinite(d)) {
      sb.append("null"); // JSON has no NaN or infinity
    } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      sb.append((long) d);
    } else {
      sb.append(d);
    }
  }

  private static void quote(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  // ------------------------------------------------------------------ reading

  public static Object parse(String text) {
    var p = new Parser(text);
    p.space();
    var v = p.value(0);
    p.space();
    if (p.pos != text.length()) {
      throw p.error("text after the JSON value");
    }
    return v;
  }

  private static final class Parser {
    private static final int MAX_DEPTH = 200;
    private final String s;
    private int pos;

    Parser(String s) {
      this.s = s;
    }

    ParseException error(String what) {
      return new ParseException(what + " at offset " + pos);
    }

    void space() {
      while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
        pos++;
      }
    }

    Object value(int depth) {
      if (depth > MAX_DEPTH) {
        throw error("JSON nested too deeply");
      }
      if (pos >= s.length()) {
        throw error("unexpected end of JSON");
      }
      char c = s.charAt(pos);
      return switch (c) {
        case '{' -> object(depth);
        case '[' -> array(depth);
        case '"' -> string();
        case 't' -> literal("true", Boolean.TRUE);
        case 'f' -> literal("false", Boolean.FALSE);
        case 'n' -> literal("null", null);
        case 'N' -> literal("NaN", Double.NaN);
        case 'I' -> literal("Infinity", Double.POSITIVE_INFINITY);
        default -> {
          if (c == '-' || Character.isDigit(c)) {
            yield number();
          }
          throw error("unexpected '" + c + "'");
        }
      };
    }

    Object literal(String word, Object v) {
      if (!s.startsWith(word, pos)) {
        throw error("expected " + word);
      }
      pos += word.length();
      return v;
    }

    // Python's json module writes NaN and Infinity unless told not to; accept them.
    Object number() {
      int start = pos;
      if (s.startsWith("-Infinity", pos)) {
        pos += 9;
        return Double.NEGATIVE_INFINITY;
      }
      while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0) {
        pos++;
      }
      var t = s.substring(start, pos);
      try {
        if (t.matches("-?\\d+")) {
          return Long.parseLong(t);
        }
        return Double.parseDouble(t);
      } catch (NumberFormatException e) {
        pos = start;
        throw error("bad number '" + t + "'");
      }
    }

    String string() {
      pos++;
      var sb = new StringBuilder();
      while (true) {
        if (pos >= s.length()) {
          throw error("unterminated string");
        }
        char c = s.charAt(pos++);
        if (c == '"') {
          return sb.toString();
        }
        if (c != '\\') {
          sb.append(c);
          continue;
        }
        if (pos >= s.length()) {
          throw error("unterminated string");
        }
        char e = s.charAt(pos++);
        switch (e) {
          case '"', '\\', '/' -> sb.append(e);
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'n' -> sb.append('\n');
          case 'r' -> sb.append('\r');
          case 't' -> sb.append('\t');
          case 'u' -> {
            if (pos + 4 > s.length()) {
              throw error("bad \\u escape");
            }
            try {
              sb.append((char) Integer.parseInt(s.substring(pos, pos + 4), 16));
            } catch (NumberFormatException ex) {
              throw error("bad \\u escape");
            }
            pos += 4;
          }
          default -> throw error("bad escape \\" + e);
        }
      }
    }

    List<Object> array(int depth) {
      pos++;
      var list = new ArrayList<Object>();
      space();
      if (pos < s.length() && s.charAt(pos) == ']') {
        pos++;
        return list;
      }
      while (true) {
        space();
        list.add(value(depth + 1));
        space();
        if (pos < s.length() && s.charAt(pos) == ',') {
          pos++;
        } else if (pos < s.length() && s.charAt(pos) == ']') {
          pos++;
          return list;
        } else {
          throw error("expected ',' or ']'");
        }
      }
    }

    Map<String, Object> object(int depth) {
      pos++;
      var map = new LinkedHashMap<String, Object>();
      space();
      if (pos < s.length() && s.charAt(pos) == '}') {
        pos++;
        return map;
      }
      while (true) {
        space();
        if (pos >= s.length() || s.charAt(pos) != '"') {
          throw error("expected a key");
        }
        var key = string();
        space();
        if (pos >= s.length() || s.charAt(pos) != ':') {
          throw error("expected ':'");
        }
        pos++;
        space();
        map.put(key, value(depth + 1));
        space();
        if (pos < s.length() && s.charAt(pos) == ',') {
          pos++;
        } else if (pos < s.length() && s.charAt(pos) == '}') {
          pos++;
          return map;
        } else {
          throw error("expected ',' or '}'");
        }
      }
    }
  }
}
