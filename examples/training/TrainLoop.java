import dev.optc.runtime.OptProgram;
import dev.optc.runtime.Optimizer;
import dev.optc.runtime.Schedules;
import dev.optc.runtime.io.Npy;
import dev.optc.runtime.java.JavaBackend;
import dev.optc.training.Natives;
import dev.optc.training.OptcStepRunner;
import dev.optc.training.Task;
import dev.optc.training.Tasks;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;

/**
 * A training loop in plain Java on optc's public API: a libtorch model (the digits MLP) whose parameters and
 * gradients are views of optc's arenas, AdamW from the library with a warm-up + cosine learning-rate schedule
 * (no rebuild: the schedule sets the lr hyper each step), and a checkpoint halfway through. It trains the
 * same run twice — straight through, and stopped at the checkpoint, closed, and resumed in a fresh model and
 * optimizer — and checks that both end with bit-identical weights.
 *
 * <pre>
 *   bash examples/training/run.sh [STEPS]    # default 400
 * </pre>
 */
public class TrainLoop {
  static final long SEED = 0;
  static final int BATCH = 64;
  static final double LR = 3e-3;

  public static void main(String[] args) throws Exception {
    int steps = args.length > 0 ? Integer.parseInt(args[0]) : 400;
    Natives.load(); // libtorch, loaded the safe way (see docs/training.md)
    var task = Tasks.named("digits");
    var adamw = OptProgram.load("adamw");
    var dir = Files.createTempDirectory("optc-train-loop");
    try {
      System.out.println("straight through, " + steps + " steps:");
      float[] straight = train(task, adamw, steps, 1, steps, null, null);
      int half = steps / 2;
      System.out.println("to step " + half + ", checkpoint, then resumed in a fresh model and optimizer:");
      train(task, adamw, steps, 1, half, null, dir);
      float[] resumed = train(task, adamw, steps, half + 1, steps, dir, null);
      boolean same = Arrays.equals(straight, resumed);
      System.out.println(same ? "resumed weights are bit-identical to the straight run's"
          : "resumed weights DIFFER from the straight run's");
      if (!same) {
        System.exit(1);
      }
    } finally {
      try (var files = Files.list(dir)) {
        for (var f : files.toList()) {
          Files.delete(f);
        }
      }
      Files.delete(dir);
    }
  }

  /**
   * Trains steps {@code from..to} of a run of {@code total} steps; restores from {@code resume} first and saves to
   * {@code save} at the end when they are given. Returns the final weights.
   */
  static float[] train(Task task, OptProgram program, int total, int from, int to, Path resume, Path save)
      throws Exception {
    var factory = OptcStepRunner.factory(program, new JavaBackend(
        dev.optc.compiler.codegen.java.JavaEmitter.Precision.F32, Runtime.getRuntime().availableProcessors()),
        Map.of("lr", LR));
    try (var model = task.open(SEED, BATCH); var runner = (OptcStepRunner) factory.open(model.module())) {
      Optimizer opt = runner.optc();      // optc's optimizer; its arenas are the model's parameters
      var params = runner.params();       // the model's parameters, bound to those arenas
      opt.schedule("lr", LR, Schedules.warmupCosine(20, total, 0.1));
      if (resume != null) {
        opt.restore(resume.resolve("optimizer.state"));  // states, t, hypers
        var w = Npy.readFloat32(resume.resolve("weights.npy")).data();
        MemorySegment.copy(w, 0, params.weights(), ValueLayout.JAVA_FLOAT, 0, w.length);
      }
      for (int s = from; s <= to; s++) {
        params.zeroGrads();               // backward adds into the gradient arena
        double loss;
        try (var scope = new PointerScope()) {
          var l = model.loss(s);
          l.backward();                   // writes the gradients where optc reads them
          loss = l.item_double();
        }
        opt.step();                       // updates the weights where libtorch reads them
        if (s % 100 == 0 || s == to) {
          var e = model.evaluate();
          System.out.printf("  step %4d  lr %.5f  loss %.4f  val loss %.4f  val acc %.1f%%%n", s,
              opt.hyper(0, "lr"), loss, e.loss(), 100 * e.accuracy());
        }
      }
      var weights = params.weights().toArray(ValueLayout.JAVA_FLOAT);
      if (save != null) {
        opt.save(save.resolve("optimizer.state"));
        Npy.write(save.resolve("weights.npy"), new long[] {weights.length}, weights);
      }
      return weights;
    }
  }
}
