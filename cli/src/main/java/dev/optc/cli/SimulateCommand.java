package dev.optc.cli;

import dev.optc.compiler.diag.CompileException;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Fusion;
import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.Backend;
import dev.optc.runtime.BackendProvider;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.Simulation;
import dev.optc.runtime.io.Npy;
import dev.optc.runtime.java.JavaBackend;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

@Command(name = "simulate", mixinStandardHelpOptions = true,
    description = {"Replay recorded gradients through an optimizer.",
        "P.npy holds the initial parameters (float32, any shape), G.npy the gradients of T steps with shape "
            + "(T, *P.shape). OUT.npy receives the parameters after T steps; --trajectory the parameters after "
            + "every step, shape (T, *P.shape). A program that declares 'input NAME' (read each step besides the "
            + "gradient, e.g. sophia's Hessian estimate h) takes its values as --input NAME=FILE.npy, shape "
            + "(T, *P.shape) like G.npy. Nothing is written unless the whole run succeeds."})
final class SimulateCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "OPT", description = ".opt file or library name")
  String opt;

  @Option(names = "--params", required = true, paramLabel = "P.npy", description = "Initial parameters.")
  Path params;

  @Option(names = "--grads", required = true, paramLabel = "G.npy", description = "Gradients, (T, *P.shape).")
  Path grads;

  @Option(names = "--input", paramLabel = "NAME=FILE.npy",
      description = "Values of the program's input NAME for every step, (T, *P.shape) like --grads; repeatable, "
          + "one per input the program declares (e.g. --input h=hess.npy for sophia).")
  List<String> inputSpecs = new ArrayList<>();

  @Option(names = "--out", required = true, paramLabel = "OUT.npy", description = "Where to write the result.")
  Path out;

  @Option(names = "--trajectory", paramLabel = "TRAJ.npy", description = "Also write every step's parameters.")
  Path trajectory;

  @Option(names = "--set", paramLabel = "NAME=VALUE",
      description = "Set a hyper (a number, or true/false); repeatable, e.g. --set lr=0.01 --set amsgrad=true.")
  List<String> sets = List.of();

  @Option(names = "--backend", defaultValue = "java", paramLabel = "BACKEND",
      description = "java (float32 reference, the default), java64 (the same in float64, to measure error), "
          + "opencl[:PLATFORM:DEVICE] (fused OpenCL kernels; 'optc devices' lists devices; $OPTC_DEVICE "
          + "also selects one) or cuda[:DEVICE] (fused CUDA kernels through NVRTC and the driver).")
  String backend;

  @Option(names = "--fusion", defaultValue = "full", paramLabel = "LEVEL",
      description = "full (one kernel per phase, the default), statement (one per DSL statement) or none "
          + "(one per operation): the same result, for benchmarks.")
  String fusion;

  @Option(names = "--threads", paramLabel = "N", description = "Threads of the java backend (default: all cores).")
  Integer threads;

  @Option(names = "--quantize-from", defaultValue = "4096", paramLabel = "N",
      description = "Quantized states (as q8, as q4) are stored as codes when the tensor has at least N elements; "
          + "below, float32 (default 4096, bitsandbytes' min_8bit_size).")
  int quantizeFrom;

  @Option(names = "--metrics", description = "Print metrics after every step: the program's own and the "
      + "standard ones (grad_norm, weight_norm, update_norm, update_ratio, effective_lr).")
  boolean metrics;

  @Mixin
  Common common;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CompileException, IOException {
    var err = spec.commandLine().getErr();
    var hypers = parseSets(sets);
    var inputFiles = parseInputs(inputSpecs);
    checkFiles(inputFiles);
    var f = parseFusion(fusion);
    int n = threads == null ? Runtime.getRuntime().availableProcessors()
        : JavaBackend.checkThreads(threads, "--threads");
    Backend b = backend(backend, n);
    var loaded = common.load(opt, err);
    var program = metrics ? loaded.withStandardMetrics() : loaded;
    for (var h : hypers.keySet()) {
      if (program.ir().hypers().stream().noneMatch(x -> x.name().equals(h))) {
        var names = program.ir().hypers().stream().map(x -> x.name()).collect(Collectors.joining(", "));
        throw new OptcException("--set " + h + ": " + program.name() + " has no hyper '" + h + "' (its hypers: "
            + (names.isEmpty() ? "none" : names) + ")");
      }
    }
    var files = new ArrayList<Map.Entry<String, Path>>(List.of(Map.entry("--params", params),
        Map.entry("--grads", grads)));
    inputFiles.forEach((name, path) -> files.add(Map.entry("--input " + name, path)));
    for (var input : files) {
      if (Npy.elementType(input.getValue()).equals("float64") && !common.quiet) {
        // Said, not done silently: optc's parameters are float32 on every backend (java64 computes each
        // step in float64 but takes and returns float32 values).
        err.println("optc: warning: " + input.getKey() + " " + input.getValue() + " is float64; simulate rounds "
            + "it to float32 and writes float32");
      }
    }
    var p = Npy.readFloat32(params);
    var g = Npy.readFloat32(grads);
    var expected = new long[p.shape().length + 1];
    System.arraycopy(p.shape(), 0, expected, 1, p.shape().length);
    var gs = g.shape();
    if (gs.length != expected.length || !Arrays.equals(Arrays.copyOfRange(gs, 1, gs.length), p.shape())) {
      throw new OptcException(grads + ": shape " + shape(gs) + " does not match the parameters: expected (T, "
          + (p.shape().length == 0 ? "" : shape(p.shape()).substring(1, shape(p.shape()).length() - 1))
          + ") for params of shape " + shape(p.shape()));
    }
    int steps = (int) gs[0];
    var inputValues = new LinkedHashMap<String, float[]>();
    for (var e : inputFiles.entrySet()) {
      var x = Npy.readFloat32(e.getValue());
      if (!Arrays.equals(x.shape(), gs)) {
        throw new OptcException(e.getValue() + ": shape " + shape(x.shape()) + " of --input " + e.getKey()
            + " does not match the gradients' " + shape(gs));
      }
      inputValues.put(e.getKey(), x.data());
    }
    if (quantizeFrom < 1) {
      throw new OptcException("--quantize-from " + quantizeFrom + ": give a number of elements, 1 or more");
    }
    boolean quantized = Quantization.of(program.ir()).any();
    if (quantized && p.data().length < quantizeFrom && !common.quiet) {
      // Said, not done silently: below the threshold a quantized program steps exactly as its float32 sibling.
      err.println("optc: note: " + program.name() + "'s quantized states stay float32 for these " + p.data().length
          + " parameters (fewer than --quantize-from " + quantizeFrom + ")");
    }
    var printer = metrics ? new MetricsPrinter(spec.commandLine().getOut(), steps) : null;
    var progress = Progress.forSteps(err, "simulate", steps, (long) steps * p.data().length);
    long start = System.nanoTime();
    var result = Simulation.run(program, b, f, p.shape(), p.data(), g.data(), inputValues, steps, hypers,
        trajectory != null,
        printer, progress, quantizeFrom);
    progress.done();
    // Both complete as temporaries before either is renamed: a failure leaves both files as they were.
    try (var batch = new AtomicFiles.Batch()) {
      if (trajectory != null) {
        batch.add(trajectory, Npy.content(gs, result.trajectory()));
      }
      batch.add(out, Npy.content(p.shape(), result.params()));
      batch.commit();
    }
    if (!common.quiet) {
      err.printf("simulate: %d step%s of %s over %d parameter%s %s (%s, fusion %s) in %.3f s; wrote %s%s%n",
          steps, steps == 1 ? "" : "s", program.name(), p.data().length, p.data().length == 1 ? "" : "s",
          shape(p.shape()), b.name(), f.label(), (System.nanoTime() - start) / 1e9, out,
          trajectory == null ? "" : " and " + trajectory);
    }
    return 0;
  }

  /** A backend by its command-line name: java, java64, opencl[:P:D], cuda[:N] (see BackendProvider). */
  static Backend backend(String name, int threads) {
    return BackendProvider.forName(name, threads);
  }

  static Fusion parseFusion(String s) {
    return switch (s) {
      case "full" -> Fusion.FULL;
      case "statement" -> Fusion.STATEMENT;
      case "none" -> Fusion.NONE;
      default -> throw new OptcException("--fusion must be full, statement or none, not '" + s + "'");
    };
  }

  static Map<String, Path> parseInputs(List<String> specs) {
    var map = new LinkedHashMap<String, Path>();
    for (var s : specs) {
      int eq = s.indexOf('=');
      if (eq <= 0 || eq == s.length() - 1) {
        throw new OptcException("--input " + s + ": expected NAME=FILE.npy, e.g. --input h=hess.npy");
      }
      var name = s.substring(0, eq).strip();
      if (map.put(name, Path.of(s.substring(eq + 1))) != null) {
        throw new OptcException("--input " + name + " is given twice");
      }
    }
    return map;
  }

  static Map<String, Double> parseSets(List<String> sets) {
    var map = new LinkedHashMap<String, Double>();
    for (var s : sets) {
      int eq = s.indexOf('=');
      if (eq <= 0) {
        throw new OptcException("--set " + s + ": expected NAME=VALUE, e.g. --set lr=0.01");
      }
      var name = s.substring(0, eq).strip();
      var text = s.substring(eq + 1).strip();
      double v;
      if (text.equals("true")) {
        v = 1;
      } else if (text.equals("false")) {
        v = 0;
      } else {
        try {
          v = Double.parseDouble(text);
        } catch (NumberFormatException e) {
          throw new OptcException("--set " + s + ": '" + text + "' is not a number (or true/false)");
        }
        if (text.endsWith("d") || text.endsWith("f") || text.endsWith("D") || text.endsWith("F")) {
          throw new OptcException("--set " + s + ": '" + text + "' is not a number (write it without a suffix)");
        }
        if (!Double.isFinite(v)) {
          throw new OptcException("--set " + s + ": '" + text + "' is not a finite number");
        }
      }
      map.put(name, v);
    }
    return map;
  }

  /**
   * Fails before any work if a result could not be written where asked, or would replace an input or the
   * other result (compared as files, through links).
   */
  private void checkFiles(Map<String, Path> inputFiles) {
    var inputs = OutputFiles.optInput(opt);
    inputs.put("--params", params);
    inputs.put("--grads", grads);
    inputFiles.forEach((name, path) -> inputs.put("--input " + name, path));
    var outputs = new LinkedHashMap<String, Path>();
    outputs.put("--out", out);
    if (trajectory != null) {
      outputs.put("--trajectory", trajectory);
    }
    OutputFiles.check(inputs, outputs);
  }

  static String shape(long[] s) {
    if (s.length == 1) {
      return "(" + s[0] + ",)";
    }
    return Arrays.stream(s).mapToObj(Long::toString).collect(Collectors.joining(", ", "(", ")"));
  }

  /** Prints metrics as a table, a header first. */
  static final class MetricsPrinter implements java.util.function.Consumer<Optimizer.StepMetrics> {
    private final PrintWriter out;
    /** Width of the step column: the last step's digits, at least "step". */
    private final int stepWidth;
    private boolean header;

    MetricsPrinter(PrintWriter out, long steps) {
      this.out = out;
      this.stepWidth = Math.max(4, Long.toString(steps).length());
    }

    @Override
    public void accept(Optimizer.StepMetrics m) {
      if (!header) {
        var sb = new StringBuilder(String.format("%" + stepWidth + "s", "step"));
        for (var k : m.values().keySet()) {
          sb.append("  ").append(String.format("%" + width(k) + "s", k));
        }
        out.println(sb);
        header = true;
      }
      var sb = new StringBuilder(String.format("%" + stepWidth + "d", m.t()));
      for (var e : m.values().entrySet()) {
        sb.append("  ").append(String.format("%" + width(e.getKey()) + ".7g", e.getValue()[0]));
      }
      out.println(sb);
      out.flush();
    }

    /** A column fits its name and a 7-digit number in %g (14 characters with sign and exponent). */
    private static int width(String name) {
      return Math.max(14, name.length());
    }
  }
}
