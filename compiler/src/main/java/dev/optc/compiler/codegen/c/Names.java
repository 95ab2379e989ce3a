package dev.optc.compiler.codegen.c;

import dev.optc.compiler.plan.Plan;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The identifiers of one phase's kernels, unique across them: C-safe, never a keyword, a loop variable or
 * an {@code optc_} name. Each is given on first use, so names follow the order of the text.
 */
final class Names {
  /** Names a generated identifier may not take: C and OpenCL/CUDA keywords and our loop variables. */
  static final Set<String> RESERVED = Set.of("i", "j", "k", "r", "c", "line", "lo", "hi", "mid", "h", "float", "int",
      "double", "half", "const", "static", "inline", "return", "if", "else", "for", "while", "do", "break", "continue",
      "switch", "case", "default", "char", "short", "long", "unsigned", "signed", "void", "struct", "union", "enum",
      "sizeof", "typedef", "volatile", "restrict", "register", "auto", "extern", "goto", "kernel",
      "global", "local", "constant", "private", "uint", "ushort", "uchar", "ulong", "bool", "true",
      "false", "min", "max", "floor", "sqrt", "exp", "log", "sign", "pow", "fabs", "tanh", "sin", "cos", "rsqrt",
      "__global", "__local", "__kernel", "new", "delete", "class", "this", "template", "namespace",
      "operator", "public", "protected", "virtual", "friend", "using", "asm", "signbit");

  private final Set<String> used = new HashSet<>();
  private final Map<String, String> params = new HashMap<>();
  private final Map<String, String> lanes = new HashMap<>();
  private final Map<String, String> storeLanes = new HashMap<>();

  /** A new identifier made from {@code base}: its C-safe form, or that with {@code _2}, {@code _3}, …. */
  String fresh(String base) {
    var clean = base.replaceAll("[^A-Za-z0-9_]", "_");
    var name = clean;
    for (int n = 2; used.contains(name) || name.startsWith("optc_") || RESERVED.contains(name); n++) {
      name = clean + "_" + n;
    }
    used.add(name);
    return name;
  }

  /** The pointer parameter of a buffer (temporary {@code %tmp0}'s is {@code tmp0}). */
  String param(String buffer) {
    return params.computeIfAbsent(buffer, b -> fresh(Plan.isTemp(b) ? b.substring(1) : b));
  }

  /** The parameter of the second copy of a double-buffered buffer. */
  String next(String buffer) {
    var base = param(buffer);
    return params.computeIfAbsent(buffer + "@next", b -> fresh(base + "_next"));
  }

  /** The array holding a quad's four values of {@code buffer}, loaded before the lane loop. */
  String lane(String buffer) {
    return lanes.computeIfAbsent(buffer, b -> fresh(param(b) + "_l"));
  }

  /** The array the lane loop writes for store parameter {@code target}, stored after it. */
  String storeLane(String target) {
    return storeLanes.computeIfAbsent(target, t -> fresh(t + "_s"));
  }
}
