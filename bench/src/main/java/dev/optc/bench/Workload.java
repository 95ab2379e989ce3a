package dev.optc.bench;

import dev.optc.runtime.OptcException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The parameter tensors a benchmark steps, as one parameter group. {@code torch_bench.py} builds the same
 * shapes from the same arguments ({@link #torchArgs()}); keep the two in step.
 *
 * @param name how tables and files name it, e.g. {@code flat 64M}
 * @param shapes one shape per tensor
 */
public record Workload(String name, List<long[]> shapes) {

  /** Elements per tensor of {@link #tensors(int)}: small enough that per-tensor overheads dominate. */
  public static final int SMALL_TENSOR = 1024;

  public Workload {
    shapes = List.copyOf(shapes);
    if (shapes.isEmpty()) {
      throw new OptcException("a workload needs at least one tensor");
    }
  }

  /** One flat tensor of {@code n} float32 parameters. */
  public static Workload flat(long n) {
    if (n < 1 || n > Integer.MAX_VALUE - 8) {
      throw new OptcException("--size must be between 1 and " + (Integer.MAX_VALUE - 8) + " parameters, not " + n);
    }
    return new Workload("flat " + formatCount(n), List.of(new long[] {n}));
  }

  /** {@code k} tensors of {@link #SMALL_TENSOR} parameters each: what launch and per-tensor overheads cost. */
  public static Workload tensors(int k) {
    if (k < 1 || (long) k * SMALL_TENSOR > Integer.MAX_VALUE - 8) {
      throw new OptcException("--tensors must be between 1 and " + (Integer.MAX_VALUE - 8) / SMALL_TENSOR + ", not " + k);
    }
    var shapes = new ArrayList<long[]>();
    for (int i = 0; i < k; i++) {
      shapes.add(new long[] {SMALL_TENSOR});
    }
    return new Workload(k + " tensors x " + SMALL_TENSOR, shapes);
  }

  /**
   * The parameter shapes of GPT-2 small (124M parameters, 148 tensors), in the order
   * {@code model.named_parameters()} lists them: token and position embeddings, 12 blocks of LayerNorm,
   * attention and MLP weights and biases (Conv1D weights are in×out), and the final LayerNorm.
   */
  public static Workload gpt2Small() {
    int d = 768;
    var shapes = new ArrayList<long[]>();
    shapes.add(new long[] {50257, d}); // wte
    shapes.add(new long[] {1024, d}); // wpe
    for (int b = 0; b < 12; b++) {
      shapes.add(new long[] {d}); // ln_1.weight
      shapes.add(new long[] {d}); // ln_1.bias
      shapes.add(new long[] {d, 3 * d}); // attn.c_attn.weight
      shapes.add(new long[] {3 * d}); // attn.c_attn.bias
      shapes.add(new long[] {d, d}); // attn.c_proj.weight
      shapes.add(new long[] {d}); // attn.c_proj.bias
      shapes.add(new long[] {d}); // ln_2.weight
      shapes.add(new long[] {d}); // ln_2.bias
      shapes.add(new long[] {d, 4 * d}); // mlp.c_fc.weight
      shapes.add(new long[] {4 * d}); // mlp.c_fc.bias
      shapes.add(new long[] {4 * d, d}); // mlp.c_proj.weight
      shapes.add(new long[] {d}); // mlp.c_proj.bias
    }
    shapes.add(new long[] {d}); // ln_f.weight
    shapes.add(new long[] {d}); // ln_f.bias
    return new Workload("gpt2-small", shapes);
  }

  /** A model by its {@code --model} name. */
  public static Workload model(String name) {
    if (name.equals("gpt2-small")) {
      return gpt2Small();
    }
    throw new OptcException("unknown model '" + name + "' (available: gpt2-small)");
  }

  /**
   * A parameter count such as {@code 67108864}, {@code 64M}, {@code 16m}, {@code 512K} or {@code 1G}
   * (binary multiples: M = 2^20).
   */
  public static long parseCount(String text) {
    var t = text.strip().toUpperCase(Locale.ROOT).replace("_", "");
    long mult = 1;
    if (!t.isEmpty()) {
      switch (t.charAt(t.length() - 1)) {
        case 'K' -> mult = 1L << 10;
        case 'M' -> mult = 1L << 20;
        case 'G' -> mult = 1L << 30;
        default -> { }
      }
    }
    var digits = mult == 1 ? t : t.substring(0, t.length() - 1);
    try {
      long v = Long.parseLong(digits);
      if (v < 0 || v > Long.MAX_VALUE / mult) {
        throw new NumberFormatException();
      }
      return v * mult;
    } catch (NumberFormatException e) {
      throw new OptcException("--size " + text + ": expected a parameter count such as 67108864, 64M or 512K");
    }
  }

  /** {@code 64M} for 67108864, {@code 3K} for 3072, otherwise the number. */
  public static String formatCount(long n) {
    if (n >= 1L << 20 && n % (1L << 20) == 0) {
      return (n >> 20) + "M";
    }
    if (n >= 1L << 10 && n % (1L << 10) == 0) {
      return (n >> 10) + "K";
    }
    return Long.toString(n);
  }

  public long numel() {
    long n = 0;
    for (var s : shapes) {
      long e = 1;
      for (long d : s) {
        e *= d;
      }
      n += e;
    }
    return n;
  }

  public int tensorCount() {
    return shapes.size();
  }

  /** The arguments of {@code torch_bench.py} that build these shapes. */
  public List<String> torchArgs() {
    if (name.equals("gpt2-small")) {
      return List.of("--model", "gpt2-small");
    }
    if (shapes.size() == 1) {
      return List.of("--size", Long.toString(numel()));
    }
    return List.of("--tensors", Integer.toString(shapes.size()));
  }
}
