package dev.optc.training.tasks;

import dev.optc.runtime.OptcException;
import dev.optc.training.Task;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.GELUImpl;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * The 1,797 8×8 handwritten digits scikit-learn ships, classified by an MLP: 64 → 128 → 128 → 10 with a
 * LayerNorm and GELU after each hidden layer (26,634 parameters in 10 tensors; the norms' gains and biases go
 * without weight decay). Pixels are scaled to 0..1. The split is fixed: the digits are shuffled once with a
 * constant seed, the first 1,437 train and the last 360 validate.
 */
public final class DigitsTask implements Task {
  static final int PIXELS = 64;
  static final int CLASSES = 10;
  static final int HIDDEN = 128;
  static final int VALIDATION = 360;
  /** The split's shuffle: a constant, so that --seed changes initial weights and batches only. */
  private static final long SPLIT_SEED = 0x5EED_D161L;

  @Override
  public String name() {
    return "digits";
  }

  @Override
  public String description() {
    return "1,797 8x8 handwritten digits (scikit-learn's), MLP 64-128-128-10 with LayerNorm; 1,437 train, 360 val";
  }

  @Override
  public Settings defaults() {
    return new Settings(500, 64, 25);
  }

  @Override
  public Settings tiny() {
    return new Settings(40, 32, 10);
  }

  @Override
  public java.util.Set<String> head() {
    return java.util.Set.of("out.weight", "out.bias");
  }

  @Override
  public Map<String, Double> hypers(String optimizer) {
    // Measured on this task (docs/training.md): each reaches >= 95% validation accuracy in the default steps.
    // An 8- or 4-bit library optimizer (adamw8bit, lion8bit, ...) takes its float32 sibling's settings.
    return switch (optimizer.replaceFirst("[48]bit$", "")) {
      case "sgd" -> Map.of("lr", 0.05, "momentum", 0.9);
      case "adagrad", "rmsprop" -> Map.of("lr", 3e-3);
      case "lion" -> Map.of("lr", 3e-4);
      case "muon" -> Map.of("lr", 5e-3); // on the hidden matrices of muon+adamw: 0.005-0.1 swept (docs/training.md)
      case "adadelta" -> Map.of("lr", 1.0);
      case "adam", "adamw", "nadam", "radam", "adamax", "adan", "lamb", "adamw_clip", "adam_mini" -> Map.of("lr", 3e-3);
      default -> Map.of();
    };
  }

  @Override
  public Quality quality() {
    return Quality.ACCURACY;
  }

  @Override
  public Model open(long seed, int batch) {
    return new Mlp(seed, batch);
  }

  /** The data, parsed once per process: pixels (scaled) and labels, in the split's order. */
  private static final class Data {
    static final float[] PIXELS_ALL;
    static final long[] LABELS_ALL;

    static {
      var lines = new String(Resources.gunzip("digits.csv.gz"), StandardCharsets.US_ASCII).strip().split("\n");
      int n = lines.length;
      var pixels = new float[n * PIXELS];
      var labels = new long[n];
      var order = new int[n];
      for (int i = 0; i < n; i++) {
        order[i] = i;
      }
      shuffle(order, new SplittableRandom(SPLIT_SEED));
      for (int i = 0; i < n; i++) {
        var cells = lines[order[i]].strip().split(",");
        if (cells.length != PIXELS + 1) {
          throw new IllegalStateException("digits.csv.gz line " + (order[i] + 1) + " has " + cells.length + " values");
        }
        for (int j = 0; j < PIXELS; j++) {
          pixels[i * PIXELS + j] = Integer.parseInt(cells[j]) / 16f;
        }
        labels[i] = Integer.parseInt(cells[PIXELS]);
      }
      PIXELS_ALL = pixels;
      LABELS_ALL = labels;
    }
  }

  static void shuffle(int[] a, SplittableRandom random) {
    for (int i = a.length - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
  }

  private static final class Mlp implements Model {
    private final long seed;
    private final int batch;
    private final int train;
    private final Module root = new Module("digits");
    private final LinearImpl fc1;
    private final LayerNormImpl ln1;
    private final LinearImpl fc2;
    private final LayerNormImpl ln2;
    private final LinearImpl out;
    private final GELUImpl gelu = new GELUImpl();
    private final Tensor trainX;
    private final Tensor trainY;
    private final Tensor valX;
    private final Tensor valY;
    private int[] order;
    private long orderEpoch = -1;

    Mlp(long seed, int batch) {
      int n = Data.LABELS_ALL.length;
      this.train = n - VALIDATION;
      if (batch < 1 || batch > train) {
        throw new OptcException("--batch for digits must be from 1 to " + train + " (the training set), not " + batch);
      }
      this.seed = seed;
      this.batch = batch;
      torch.manual_seed(seed);
      fc1 = root.register_module("fc1", new LinearImpl(PIXELS, HIDDEN));
      ln1 = root.register_module("ln1", Resources.layerNorm(HIDDEN));
      fc2 = root.register_module("fc2", new LinearImpl(HIDDEN, HIDDEN));
      ln2 = root.register_module("ln2", Resources.layerNorm(HIDDEN));
      out = root.register_module("out", new LinearImpl(HIDDEN, CLASSES));
      var x = torch.tensor(Data.PIXELS_ALL).reshape(n, PIXELS);
      var y = torch.tensor(Data.LABELS_ALL, new TensorOptions(torch.ScalarType.Long));
      trainX = x.narrow(0, 0, train).contiguous();
      trainY = y.narrow(0, 0, train).contiguous();
      valX = x.narrow(0, train, VALIDATION).contiguous();
      valY = y.narrow(0, train, VALIDATION).contiguous();
    }

    @Override
    public Module module() {
      return root;
    }

    private Tensor logits(Tensor x) {
      var h = gelu.forward(ln1.forward(fc1.forward(x)));
      h = gelu.forward(ln2.forward(fc2.forward(h)));
      return out.forward(h);
    }

    @Override
    public Tensor loss(long step) {
      int perEpoch = train / batch;
      long epoch = (step - 1) / perEpoch;
      int first = (int) ((step - 1) % perEpoch) * batch;
      if (epoch != orderEpoch) {
        order = new int[train];
        for (int i = 0; i < train; i++) {
          order[i] = i;
        }
        shuffle(order, new SplittableRandom(Resources.mix(seed, epoch)));
        orderEpoch = epoch;
      }
      var index = new long[batch];
      for (int i = 0; i < batch; i++) {
        index[i] = order[first + i];
      }
      var idx = torch.tensor(index, new TensorOptions(torch.ScalarType.Long));
      return torch.cross_entropy_loss(logits(trainX.index_select(0, idx)), trainY.index_select(0, idx));
    }

    @Override
    @SuppressWarnings("try") // the scope and the no-grad guard act by existing
    public Evaluation evaluate() {
      try (var scope = new PointerScope(); var noGrad = new NoGradGuard()) {
        var logits = logits(valX);
        double loss = torch.cross_entropy_loss(logits, valY).item_double();
        double right = logits.argmax(new org.bytedeco.pytorch.LongOptional(1), false).eq(valY).sum().item_double();
        return new Evaluation(loss, right / VALIDATION);
      }
    }

    @Override
    public void close() {
      for (var t : new Tensor[] {trainX, trainY, valX, valY}) {
        t.close();
      }
    }
  }
}
