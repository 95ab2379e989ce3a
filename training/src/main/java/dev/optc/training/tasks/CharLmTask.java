package dev.optc.training.tasks;

import dev.optc.runtime.OptcException;
import dev.optc.training.Task;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.EmbeddingImpl;
import org.bytedeco.pytorch.GELUImpl;
import org.bytedeco.pytorch.LayerNormImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;

/**
 * A small GPT-style character language model on 588 KB of English text (seven fortune-cookie files Debian's
 * {@code fortunes} ships): byte-level vocabulary of 128 (the few non-ASCII bytes read as '?'), a context of
 * {@value #CONTEXT} characters, {@value #LAYERS} pre-LayerNorm transformer blocks of width {@value #WIDTH} with
 * {@value #HEADS} causal attention heads and a 4× GELU MLP, learned position embeddings, an untied output layer
 * (366,560 parameters in 42 tensors). The first 90% of the text trains, the last 10% validates: the quality is
 * bits per character on {@value #VAL_WINDOWS} fixed windows of it.
 */
public final class CharLmTask implements Task {
  static final int VOCAB = 128;
  static final int CONTEXT = 64;
  static final int WIDTH = 96;
  static final int LAYERS = 3;
  static final int HEADS = 4;
  static final int VAL_WINDOWS = 256;

  @Override
  public String name() {
    return "charlm";
  }

  @Override
  public String description() {
    return "character GPT (" + LAYERS + " layers, width " + WIDTH + ", context " + CONTEXT + ") on 588 KB of fortunes "
        + "text; 90% train, 10% val, bits per character";
  }

  @Override
  public Settings defaults() {
    return new Settings(1500, 32, 100);
  }

  @Override
  public Settings tiny() {
    return new Settings(12, 4, 6);
  }

  @Override
  public java.util.Set<String> embeddings() {
    return java.util.Set.of("tok.weight", "pos.weight");
  }

  @Override
  public java.util.Set<String> head() {
    return java.util.Set.of("head.weight", "head.bias");
  }

  @Override
  public Map<String, Double> hypers(String optimizer) {
    // An 8- or 4-bit library optimizer (adamw8bit, lion8bit, ...) takes its float32 sibling's settings.
    return switch (optimizer.replaceFirst("[48]bit$", "")) {
      case "sgd" -> Map.of("lr", 0.3, "momentum", 0.9);
      case "adagrad" -> Map.of("lr", 1e-2);
      case "rmsprop" -> Map.of("lr", 1e-3);
      case "lion" -> Map.of("lr", 3e-4);
      // On the hidden matrices of muon+adamw, torch's match_rms_adamw with AdamW's lr (docs/training.md: swept).
      case "muon" -> Map.of("lr", 3e-3, "match_rms_adamw", 1.0);
      case "adadelta" -> Map.of("lr", 1.0);
      case "adam", "adamw", "nadam", "radam", "adamax", "adan", "lamb", "adamw_clip", "adam_mini" -> Map.of("lr", 3e-3);
      default -> Map.of();
    };
  }

  @Override
  public Quality quality() {
    return Quality.BITS_PER_CHAR;
  }

  @Override
  public Model open(long seed, int batch) {
    return new Gpt(seed, batch);
  }

  /** The text as token ids, once per process. */
  private static final class Text {
    static final byte[] IDS;

    static {
      var bytes = Resources.gunzip("fortunes.txt.gz");
      for (int i = 0; i < bytes.length; i++) {
        if (bytes[i] < 0) {
          bytes[i] = '?';
        }
      }
      IDS = bytes;
    }
  }

  private static final class Block {
    final LayerNormImpl ln1;
    final LinearImpl qkv;
    final LinearImpl proj;
    final LayerNormImpl ln2;
    final LinearImpl fc;
    final LinearImpl out;

    Block(Module m) {
      ln1 = m.register_module("ln1", Resources.layerNorm(WIDTH));
      qkv = m.register_module("qkv", new LinearImpl(WIDTH, 3 * WIDTH));
      proj = m.register_module("proj", new LinearImpl(WIDTH, WIDTH));
      ln2 = m.register_module("ln2", Resources.layerNorm(WIDTH));
      fc = m.register_module("fc", new LinearImpl(WIDTH, 4 * WIDTH));
      out = m.register_module("out", new LinearImpl(4 * WIDTH, WIDTH));
    }
  }

  private static final class Gpt implements Model {
    private final long seed;
    private final int batch;
    private final int trainEnd;
    private final Module root = new Module("charlm");
    private final EmbeddingImpl tok;
    private final EmbeddingImpl pos;
    private final List<Block> blocks = new ArrayList<>();
    private final LayerNormImpl lnF;
    private final LinearImpl head;
    private final GELUImpl gelu = new GELUImpl();
    private final Tensor positions;
    private final Tensor valX;
    private final Tensor valY;

    Gpt(long seed, int batch) {
      var ids = Text.IDS;
      trainEnd = ids.length * 9 / 10;
      if (batch < 1 || batch > 4096) {
        throw new OptcException("--batch for charlm must be from 1 to 4096 sequences of " + CONTEXT
            + " characters, not " + batch);
      }
      this.seed = seed;
      this.batch = batch;
      torch.manual_seed(seed);
      tok = root.register_module("tok", new EmbeddingImpl(VOCAB, WIDTH));
      pos = root.register_module("pos", new EmbeddingImpl(CONTEXT, WIDTH));
      for (int i = 0; i < LAYERS; i++) {
        blocks.add(new Block(root.register_module("h" + i, new Module("block"))));
      }
      lnF = root.register_module("ln_f", Resources.layerNorm(WIDTH));
      head = root.register_module("head", new LinearImpl(WIDTH, VOCAB));
      positions = torch.arange(new Scalar(CONTEXT), new TensorOptions(torch.ScalarType.Long));
      // Validation: the first VAL_WINDOWS non-overlapping windows of the last 10%.
      int windows = Math.min(VAL_WINDOWS, (ids.length - trainEnd - 1) / CONTEXT);
      var x = new long[windows * CONTEXT];
      var y = new long[windows * CONTEXT];
      for (int w = 0; w < windows; w++) {
        for (int j = 0; j < CONTEXT; j++) {
          x[w * CONTEXT + j] = ids[trainEnd + w * CONTEXT + j];
          y[w * CONTEXT + j] = ids[trainEnd + w * CONTEXT + j + 1];
        }
      }
      valX = torch.tensor(x, new TensorOptions(torch.ScalarType.Long)).reshape(windows, CONTEXT);
      valY = torch.tensor(y, new TensorOptions(torch.ScalarType.Long)).reshape(windows, CONTEXT);
    }

    @Override
    public Module module() {
      return root;
    }

    /** Logits (B, T, VOCAB) of ids (B, T). */
    private Tensor logits(Tensor idx) {
      long b = idx.size(0);
      long t = idx.size(1);
      var x = tok.forward(idx).add(pos.forward(positions.narrow(0, 0, t)));
      long hd = WIDTH / HEADS;
      for (var blk : blocks) {
        var qkv = blk.qkv.forward(blk.ln1.forward(x)).chunk(3, -1);
        var q = qkv.get(0).view(b, t, HEADS, hd).transpose(1, 2);
        var k = qkv.get(1).view(b, t, HEADS, hd).transpose(1, 2);
        var v = qkv.get(2).view(b, t, HEADS, hd).transpose(1, 2);
        var a = torch.scaled_dot_product_attention(q, k, v, new TensorOptional(), 0.0, true, new DoubleOptional(),
            false);
        x = x.add(blk.proj.forward(a.transpose(1, 2).contiguous().view(b, t, WIDTH)));
        x = x.add(blk.out.forward(gelu.forward(blk.fc.forward(blk.ln2.forward(x)))));
      }
      return head.forward(lnF.forward(x));
    }

    private static Tensor crossEntropy(Tensor logits, Tensor targets) {
      return torch.cross_entropy_loss(logits.reshape(-1, VOCAB), targets.reshape(-1));
    }

    @Override
    public Tensor loss(long step) {
      var random = new SplittableRandom(Resources.mix(seed, step));
      var ids = Text.IDS;
      var x = new long[batch * CONTEXT];
      var y = new long[batch * CONTEXT];
      for (int s = 0; s < batch; s++) {
        int start = random.nextInt(trainEnd - CONTEXT - 1);
        for (int j = 0; j < CONTEXT; j++) {
          x[s * CONTEXT + j] = ids[start + j];
          y[s * CONTEXT + j] = ids[start + j + 1];
        }
      }
      var options = new TensorOptions(torch.ScalarType.Long);
      var xs = torch.tensor(x, options).reshape(batch, CONTEXT);
      var ys = torch.tensor(y, options).reshape(batch, CONTEXT);
      return crossEntropy(logits(xs), ys);
    }

    @Override
    @SuppressWarnings("try") // the scope and the no-grad guard act by existing
    public Evaluation evaluate() {
      try (var scope = new PointerScope(); var noGrad = new NoGradGuard()) {
        long windows = valX.size(0);
        double lossSum = 0;
        double right = 0;
        long chunk = 64;
        for (long w = 0; w < windows; w += chunk) {
          long n = Math.min(chunk, windows - w);
          var xs = valX.narrow(0, w, n);
          var ys = valY.narrow(0, w, n);
          var logits = logits(xs);
          lossSum += crossEntropy(logits, ys).item_double() * n;
          right += logits.argmax(new LongOptional(-1), false).eq(ys).sum().item_double();
        }
        return new Evaluation(lossSum / windows, right / (windows * CONTEXT));
      }
    }

    @Override
    public void close() {
      for (var t : new Tensor[] {positions, valX, valY}) {
        t.close();
      }
    }
  }
}
