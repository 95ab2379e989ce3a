package dev.optc.compiler.codegen.c;

import dev.optc.compiler.codegen.KernelAbi.Kernel;
import dev.optc.compiler.codegen.KernelAbi.SegmentField;
import dev.optc.compiler.codegen.ValueNames;
import dev.optc.compiler.ir.BinaryOp;
import dev.optc.compiler.ir.Graph;
import dev.optc.compiler.ir.Infix;
import dev.optc.compiler.ir.Node;
import dev.optc.compiler.ir.QuantMap;
import dev.optc.compiler.ir.Quantization;
import dev.optc.compiler.plan.Plan;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Generates fused device kernels for a plan in a C-family language: one emitter for every dialect, the
 * text shaped by a {@link KernelConfig} (dialect, work-group size, accumulation, vector width) that the
 * device supplies. Per phase, {@link PhaseAnalysis} finds what the kernels compute and read, and
 * {@link PhaseEmitter} fills the {@link Skeletons} with it.
 *
 * <p>Work is split into chunks: the host lists {@code (tensor, first element)} pairs, one per
 * {@code optc_chunk} elements, and each work-group processes chunks of one tensor at a time, striding
 * over the chunk list by the number of groups launched (the host sizes the grid to the device: the
 * SM count on CUDA), so one launch covers a whole parameter group whatever its number of tensors, and a
 * work-item finds its tensor's offsets, sizes and uniforms through the segment table in O(1). Every
 * value is computed per element; a row, column or per-tensor value is computed from its own inputs where it
 * is needed (cheap next to memory traffic). Row, column and scalar results are written by the work-item of
 * the row's first column, the column's first row, or the tensor's first element.
 *
 * <p>With a vector width of 4 (quads), a purely elementwise phase on float32 buffers takes four consecutive
 * elements per work-item at a multiple of four, reads each buffer with one 16-byte load and writes with one
 * 16-byte store where the quad lies inside its chunk and the host says the buffers are 16-byte aligned
 * ({@code optc_vec}), element by element otherwise (a tensor's ends), and computes the four lanes with the
 * same scalar code; a sum over elements adds the lanes inside the chunk.
 *
 * <p>Reductions: per-tensor and group sums accumulate per work-item, then per work-group in local
 * memory (a fixed tree), each group writing one partial per chunk; a combine kernel adds a tensor's (or a
 * group's) partials in chunk order with compensated summation ({@code optc_kahan_add}). Row and column sums
 * run in kernels of their own, one work-item per row or column, compensated. The order of every addition
 * depends only on the sizes and the work-group size, so results are bit-identical run to run on one device.
 *
 * <p>Quantized states ({@code as q8}, {@code as q4}; {@code QuantMap} states the rules, the Java backend is the
 * reference) are read through their map: the code's entry times the block's absmax, one float product, or the
 * float32 value where the tensor is below the threshold ({@code optc_qsegs} says which, per tensor). A phase that
 * stores one works in spans of {@code OPTC_QSPAN} elements, whole blocks: the engine starts every chunk at a
 * multiple of 256, so spans and blocks line up. Consecutive work-items still take consecutive elements, as in every
 * other phase (coalesced on a GPU; a work-item owning a whole block would stride 256 elements from its neighbour and
 * keep 1 KiB per state to itself), and leave the new values in local memory; the work-group then finds each block's
 * absmax by a tree (max is exact in any order, and NaN spreads whichever way) and its inverse, and writes the codes,
 * each the number of the map's midpoints below the exact quotient, found as the Java backend's {@code QuantLanes}
 * finds it: the bucket of the float quotient {@code x * (1f / absmax)} gives a code at most one off, and two
 * midpoints times absmax, exact in double, settle it (a float quotient alone would round differently next to a
 * midpoint); blocks of absmax outside [2^-100, 2^100] (or 0, NaN, infinite) search the midpoints for {@code (double)
 * x / absmax}. Both need fp64: a device without it refuses quantized programs. The inverse is {@code 1.0f /
 * absmax}, correctly rounded as Java's (OpenCL programs are built with {@code
 * -cl-fp32-correctly-rounded-divide-sqrt}; CUDA divides correctly rounded by default), so the buckets are Java's.
 * Span loops and their barriers depend only on the chunk, never on the element, so the whole work-group reaches each
 * barrier; a store's guard is a uniform flag, so the same holds inside it.
 */
public final class CEmitter {
  private CEmitter() {}

  /** Generated source and what the host needs to run it. */
  public record Program(String source, List<Kernel> kernels, Set<String> doubleBuffered) {
    public List<Kernel> kernels(int phase) {
      return kernels.stream().filter(k -> k.phase() == phase).toList();
    }
  }

  /** The kernels of {@code plan} as {@code config} shapes them. */
  public static Program emit(Plan plan, KernelConfig config) {
    var program = plan.program();
    var buffers = new Buffers(plan);
    var statementOf = ValueNames.statements(program);
    var clean = program.name().replaceAll("[^A-Za-z0-9_]", "_");
    var prefix = clean.isEmpty() || Character.isDigit(clean.charAt(0)) ? "opt_" + clean : clean;
    var src = new StringBuilder(prelude(plan, config));
    for (int i = 0; i < program.hoisted().size(); i++) {
      src.append("// u").append(i).append(" = ").append(Infix.print(program.hoisted().get(i))).append('\n');
    }
    var kernels = new ArrayList<Kernel>();
    var doubled = new LinkedHashSet<String>();
    for (var phase : plan.phases()) {
      if (phase.products()) {
        // No kernel: the engine runs each product on the device's BLAS.
        src.append("\n// phase ").append(phase.index()).append(": products on the BLAS:");
        phase.writes().forEach(w -> src.append(' ').append(Infix.print(w.value())));
        src.append('\n');
        continue;
      }
      var analysis = new PhaseAnalysis(plan, phase, buffers, statementOf, config.quads());
      new PhaseEmitter(plan, config, buffers, analysis, prefix, statementOf).emit(src, kernels);
      doubled.addAll(analysis.doubled());
    }
    return new Program(src.toString(), List.copyOf(kernels), Collections.unmodifiableSet(doubled));
  }

  /** A table's numbers, {@code perLine} to a line. */
  private static String rows(List<String> numbers, int perLine) {
    var sb = new StringBuilder();
    for (int i = 0; i < numbers.size(); i++) {
      sb.append(i % perLine == 0 ? "\n    " : " ").append(numbers.get(i)).append(i + 1 < numbers.size() ? "," : "\n");
    }
    return sb.toString();
  }

  /**
   * Elements a store of quantized states works in at least: one q8 block, two q4 ones. Chunks of such phases
   * start at multiples of it ({@code KernelEngine}).
   */
  public static final int QUANT_SPAN = 256;

  private static String prelude(Plan plan, KernelConfig config) {
    var d = config.dialect();
    var quant = Quantization.of(plan.program());
    var acc = config.accumulation();
    return Skeletons.fill(Skeletons.PRELUDE,
        "source", plan.program().source().name(),
        "fusion", plan.fusion().label(),
        "dialect", d.name(),
        "dialectPrelude", d.prelude(),
        // The codes of quantized states compare exact products and quotients in double.
        "fp64Enable", acc == KernelConfig.Accumulation.DOUBLE || quant.any() ? d.fp64Enable() : "",
        "localSize", "" + config.localSize(),
        "acc", acc.type(),
        "segmentFields", "" + SegmentField.COUNT,
        "helper", d.helper(),
        "ushort", d.ushort(),
        "bitsToFloat", String.format(d.bitsFloat(), "((unsigned int) b) << 16"),
        "floatToBits", String.format(d.floatBits(), "f"),
        "quadHelpers", config.quads() ? Skeletons.fill(Skeletons.QUAD_HELPERS,
            "helper", d.helper(),
            "source", d.pointer("float", true, "p"),
            "load4", String.format(d.load4(), "p + i0"),
            "target", d.pointer("float", false, "p"),
            "store4", String.format(d.store4(), "p + i0", String.format(d.float4(), "v[0], v[1], v[2], v[3]")))
            : "",
        "modHelper", usesMod(plan) ? Skeletons.fill(Skeletons.MOD_HELPER, "helper", d.helper(),
            "fmod", d.math("fmod"), "copysign", d.math("copysign")) : "",
        "quantHelpers", quantHelpers(quant, config));
  }

  /** Whether some value of the plan is a {@code %}: its helper is emitted only then (rare: a uniform from a reduction). */
  private static boolean usesMod(Plan plan) {
    var p = plan.program();
    var roots = new ArrayList<Node>();
    p.outputs().forEach(o -> roots.add(o.value()));
    p.metrics().forEach(m -> roots.add(m.value()));
    p.bindings().forEach(b -> roots.add(b.value()));
    return Graph.topological(roots).stream()
        .anyMatch(n -> n instanceof Node.Binary b && b.op() == BinaryOp.MOD);
  }

  /** The maps of the plan's quantized states, each once, and the span their stores work in. */
  private static String quantHelpers(Quantization quant, KernelConfig config) {
    if (!quant.any()) {
      return "";
    }
    var d = config.dialect();
    // A span holds whole blocks (256 elements: one q8 block, two q4 ones) and gives every work-item an element.
    var sb = new StringBuilder("#define OPTC_QSPAN " + Math.max(QUANT_SPAN, config.localSize()) + "\n");
    for (var map : new LinkedHashSet<>(quant.maps().values())) {
      var values = new ArrayList<String>();
      for (var v : map.entries()) {
        values.add(Expressions.literal(v));
      }
      // -2 and 2 around the midpoints stand for -inf and +inf (QuantLanes' tables): beyond every quotient.
      var midpoints = new ArrayList<String>(List.of("-2.0"));
      for (var m : map.midpoints()) {
        // Shortest decimal that reads back as this double: exact.
        midpoints.add(Double.toString(m));
      }
      midpoints.add("2.0");
      var codes = map.bucketCodes();
      int skipped = foldedBuckets(codes);
      int perSign = QuantMap.BUCKETS_PER_SIGN - skipped;
      var buckets = new ArrayList<String>();
      for (int sign = 0; sign < 2; sign++) {
        for (int i = skipped; i < QuantMap.BUCKETS_PER_SIGN; i++) {
          buckets.add("" + codes[sign * QuantMap.BUCKETS_PER_SIGN + i]);
        }
      }
      var name = map.toString();
      int entries = map.entries().length;
      sb.append(Skeletons.fill(Skeletons.QUANT_MAP,
          "map", name,
          "block", "" + map.block(),
          "bits", "" + map.bits(),
          "constant", d.constant(),
          "table", d.table(),
          "ubyte", d.ubyte(),
          "entries", "" + entries,
          "values", rows(values, 4),
          "mids", "" + midpoints.size(),
          "midpoints", rows(midpoints, 6),
          "folded", "" + (skipped + 1),
          "buckets", "" + buckets.size(),
          "bucketCodes", rows(buckets, 32),
          "smallest", Expressions.literal(QUICK_SMALLEST),
          "largest", Expressions.literal(QUICK_LARGEST),
          "quotientBits", String.format(d.floatBits(), "x * inv"),
          "shift", "" + QuantMap.BUCKET_SHIFT,
          "bias", "" + (QuantMap.BUCKET_BIAS + skipped),
          "perSign", "" + perSign,
          "helper", d.helper(),
          "half", "" + entries / 2,
          "lowest", "" + map.lowestPositiveCode(),
          // A positive value never takes a zero entry (QuantMap.lowestPositiveCode).
          "positive", map.lowestPositiveCode() > 0 ? "x > 0.0f && lo < " + map.lowestPositiveCode() + " ? "
              + map.lowestPositiveCode() + " : " : "",
          "codes", d.pointer(d.ubyte(), true, "codes", false),
          "absmax", d.pointer("float", true, "absmax", false),
          "raw", d.pointer("float", true, "raw", false),
          "qsegs", d.pointer("int", true, "qsegs", false),
          "code", map.bits() == 8 ? "codes[q + k]" : "(codes[(q + k) >> 1] >> (((q + k) & 1) << 2)) & 15"));
    }
    return sb.toString();
  }

  /** The absmax range of the bucket method, as QuantLanes takes it: 1 / absmax and the quotients stay normal. */
  private static final float QUICK_SMALLEST = 0x1p-100f;
  private static final float QUICK_LARGEST = 0x1p100f;

  /**
   * How many buckets at the bottom of each sign share the lowest one's code (magnitudes below the map's smallest
   * midpoint): the table keeps one of them, so that a program's tables stay well inside 64 KB of __constant.
   */
  private static int foldedBuckets(int[] codes) {
    int per = QuantMap.BUCKETS_PER_SIGN;
    int skipped = 0;
    while (skipped + 1 < per && codes[skipped + 1] == codes[0] && codes[per + skipped + 1] == codes[per]) {
      skipped++;
    }
    return skipped;
  }
}
