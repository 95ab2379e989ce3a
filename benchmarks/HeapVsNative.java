import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The Java backend's step on heap arrays (a baseline build of optc, before native arenas) against native
 * arenas (this tree), in one JVM, the two measured alternately: memory bandwidth on this shared VM drifts
 * by a quarter from one process to the next (the same copy loop measured 82 and 104 ms at 64M in two
 * runs), which hides a 5% difference between two {@code optc bench} runs. Each build is loaded by its own
 * class loader; each measurement is {@code Harness.measure} of this tree (warm-up, repeats, samples taken
 * again while other work waits for a CPU), a fresh optimizer each time, on one flat tensor of random weights
 * and gradients. Started by {@code benchmarks/heap_vs_native.sh}, which builds the baseline.
 *
 * <p>Arguments: {@code BASELINE_DIR CURRENT_DIR SIZE ROUNDS FUSIONS OPT...}, e.g. {@code /tmp/optc-main .
 * 67108864 3 full,statement,none adamw lion nadam}.
 */
public class HeapVsNative {
  record Side(String label, ClassLoader loader, String classPath) {}

  public static void main(String[] args) throws Throwable {
    var baseline = side("heap arrays", Path.of(args[0]));
    var current = side("native arenas", Path.of(args[1]));
    int n = Integer.parseInt(args[2]);
    int rounds = Integer.parseInt(args[3]);
    var fusions = List.of(args[4].split(","));
    var optimizers = Arrays.asList(args).subList(5, args.length);
    var measure = MethodHandles.publicLookup().findStatic(current.loader().loadClass("dev.optc.bench.Harness"),
        "measure", MethodType.methodType(current.loader().loadClass("dev.optc.bench.Harness$Measured"),
            Runnable.class, int.class, int.class, double.class, double.class));
    var results = new LinkedHashMap<String, List<double[]>>();
    for (int round = 0; round < rounds; round++) {
      for (var opt : optimizers) {
        for (var fusion : fusions) {
          var pair = new double[2];
          // Alternate which goes first, so that neither always follows the other's memory traffic.
          var order = round % 2 == 0 ? List.of(baseline, current) : List.of(current, baseline);
          for (var side : order) {
            pair[side == baseline ? 0 : 1] = median(side, measure, opt, fusion, n);
          }
          results.computeIfAbsent(opt + " " + fusion, k -> new ArrayList<>()).add(pair);
          System.err.printf(Locale.ROOT, "round %d %-18s heap %7.2f ms  native %7.2f ms%n", round + 1,
              opt + " " + fusion, pair[0] * 1e3, pair[1] * 1e3);
        }
      }
    }
    System.out.printf(Locale.ROOT, "%-10s %-10s %28s %28s %9s%n", "optimizer", "fusion", "heap arrays ms (rounds)",
        "native arenas ms (rounds)", "native/heap");
    for (var e : results.entrySet()) {
      var heap = e.getValue().stream().mapToDouble(p -> p[0] * 1e3).toArray();
      var nat = e.getValue().stream().mapToDouble(p -> p[1] * 1e3).toArray();
      var name = e.getKey().split(" ");
      System.out.printf(Locale.ROOT, "%-10s %-10s %7.2f (%18s) %7.2f (%18s) %9.3f%n", name[0], name[1],
          med(heap), list(heap), med(nat), list(nat), med(nat) / med(heap));
    }
  }

  static Side side(String label, Path dir) throws IOException {
    var jars = new ArrayList<Path>();
    jars.add(dir.resolve("cli/target/optc-cli.jar"));
    try (var lib = Files.list(dir.resolve("cli/target/lib"))) {
      lib.filter(p -> p.toString().endsWith(".jar")).sorted().forEach(jars::add);
    }
    var urls = new ArrayList<URL>();
    for (var j : jars) {
      urls.add(j.toUri().toURL());
    }
    var cp = String.join(":", jars.stream().map(Path::toString).toList());
    return new Side(label, new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader()), cp);
  }

  /** The median seconds per step of {@code opt} at {@code fusion} on {@code side}'s build. */
  static double median(Side side, MethodHandle measure, String opt, String fusion, int n) throws Throwable {
    // Each build compiles its generated Java against its own classes (javac reads java.class.path).
    System.setProperty("java.class.path", side.classPath());
    var l = side.loader();
    var programType = l.loadClass("dev.optc.runtime.OptProgram");
    var optimizerType = l.loadClass("dev.optc.runtime.Optimizer");
    var builderType = l.loadClass("dev.optc.runtime.Optimizer$Builder");
    var tensorType = l.loadClass("dev.optc.runtime.Optimizer$Tensor");
    var fusionType = l.loadClass("dev.optc.compiler.plan.Fusion");
    var program = programType.getMethod("load", String.class).invoke(null, opt);
    var builder = optimizerType.getMethod("builder", programType).invoke(null, program);
    @SuppressWarnings({"unchecked", "rawtypes"})
    var level = Enum.valueOf((Class) fusionType, fusion.toUpperCase(Locale.ROOT));
    builderType.getMethod("fusion", fusionType).invoke(builder, level);
    var rnd = new SplittableRandom(42);
    var tensor = tensorType.getConstructor(String.class, long[].class, float[].class)
        .newInstance("p", new long[] {n}, random(rnd, n, 0.05f));
    builderType.getMethod("group", Map.class, List.class).invoke(builder, Map.of(), List.of(tensor));
    var optimizer = (AutoCloseable) builderType.getMethod("build").invoke(builder);
    try (optimizer) {
      optimizerType.getMethod("setGrad", String.class, float[].class).invoke(optimizer, "p", random(rnd, n, 0.01f));
      var step = MethodHandles.publicLookup().findVirtual(optimizerType, "step", MethodType.methodType(void.class))
          .bindTo(optimizer);
      Runnable run = () -> {
        try {
          step.invokeExact();
        } catch (Throwable t) {
          throw new IllegalStateException(t);
        }
      };
      var measured = measure.invoke(run, 2, 5, 0.05, 0.10);
      var stats = measured.getClass().getMethod("stats").invoke(measured);
      return (double) stats.getClass().getMethod("median").invoke(stats);
    } finally {
      System.gc();
    }
  }

  static float[] random(SplittableRandom rnd, int n, float scale) {
    var a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (rnd.nextDouble() * 2 - 1) * scale;
    }
    return a;
  }

  static double med(double[] v) {
    var s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }

  static String list(double[] v) {
    return String.join(" ", Arrays.stream(v).mapToObj(x -> String.format(Locale.ROOT, "%.1f", x)).toList());
  }
}
