package dev.optc.runtime;

import dev.optc.compiler.ir.IrProgram;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongToDoubleFunction;

/**
 * An {@link Optimizer} whose parameter groups have different programs (Muon on the hidden matrices, AdamW on
 * embeddings, head, biases and gains): one part per program, each a one-program optimizer over that program's
 * groups with its own engine and state arenas, composed into one optimizer with one {@link #step}, one shared
 * {@code t}, one checkpoint ({@link Checkpoint#save(MultiProgram, java.nio.file.Path)}), and, with native arenas,
 * one weight and one gradient arena.
 *
 * <p>The arenas: with {@link Arenas#NATIVE} the weights of every part lie in one segment and the gradients in
 * another (allocated here, staggered like an engine's, or adopted from the caller), each part adopting its slice.
 * Part {@code k}'s tensors follow part {@code k-1}'s, each part starting at a multiple of {@link #PART_ALIGN}
 * floats (4 KiB: any device's base-address alignment, and the parts' state arenas keep their stagger against
 * {@code w} and {@code g}); within a part, tensors lie in bind order without gaps. {@link Optimizer#view} gives
 * every offset. With {@link Arenas#BACKEND} each part keeps its own arenas where its backend puts them.
 *
 * <p>Hypers: a group's hypers are its program's. {@code setHyper("lr", v)} and {@code schedule("lr", ...)} set
 * {@code lr} in every program that has it (an error when none has); {@code "adamw:lr"} names one program's.
 *
 * <p>Groups are numbered in the order they were added, whatever their program; a part's groups keep that order.
 */
final class MultiProgram implements AutoCloseable {
  /** Floats between the starts of consecutive parts in the shared arenas are a multiple of this (4 KiB). */
  static final int PART_ALIGN = 1024;
  /** The alignment of the weight and gradient arenas allocated here (bytes; OpenCL CPU devices use them in place). */
  private static final long ARENA_ALIGN = 1024;

  /**
   * One program's optimizer.
   *
   * @param optimizer the one-program optimizer over this part's groups
   * @param groups the global numbers of its groups, in its own group order
   * @param offset where its tensors start in the shared arenas (floats), 0 without them
   */
  record Part(Optimizer optimizer, List<Integer> groups, long offset) {
    OptProgram program() {
      return optimizer.program();
    }
  }

  private final List<Part> parts;
  /** Per global group: its part and its number there. */
  private final int[] groupPart;
  private final int[] groupLocal;
  /** Every tensor, in bind order, and its part. */
  private final List<String> tensors;
  private final Map<String, Integer> tensorPart;
  private final MemorySegment weights;
  private final MemorySegment grads;
  private final HostMemory host;
  private final List<Consumer<Optimizer.StepMetrics>> listeners = new ArrayList<>();
  private final Optimizer.StepMetrics[] lastMetrics;

  private MultiProgram(List<Part> parts, int[] groupPart, int[] groupLocal, List<String> tensors,
      Map<String, Integer> tensorPart, MemorySegment weights, MemorySegment grads, HostMemory host) {
    this.parts = List.copyOf(parts);
    this.groupPart = groupPart;
    this.groupLocal = groupLocal;
    this.tensors = List.copyOf(tensors);
    this.tensorPart = Map.copyOf(tensorPart);
    this.weights = weights;
    this.grads = grads;
    this.host = host;
    this.lastMetrics = new Optimizer.StepMetrics[parts.size()];
  }

  /** Whether two programs are the same: one name and one source. */
  static boolean same(OptProgram a, OptProgram b) {
    return a == b || a.name().equals(b.name()) && a.hash().equals(b.hash());
  }

  /** Builds one part per distinct program of {@code b}'s groups over shared weight and gradient arenas. */
  static Optimizer build(Optimizer.Builder b) {
    var programs = new ArrayList<OptProgram>();
    var groupPart = new int[b.groups.size()];
    var groupLocal = new int[b.groups.size()];
    var partGroups = new ArrayList<List<Integer>>();
    for (int g = 0; g < b.groups.size(); g++) {
      var p = b.programs.get(g);
      int k = 0;
      while (k < programs.size() && !same(programs.get(k), p)) {
        if (programs.get(k).name().equals(p.name())) {
          throw new OptcException("two different programs are named '" + p.name() + "' (groups " + partGroups.get(k)
              .getFirst() + " and " + g + "); a multi-program optimizer tells its programs apart by name: rename one "
              + "(optimizer NAME)");
        }
        k++;
      }
      if (k == programs.size()) {
        programs.add(p);
        partGroups.add(new ArrayList<>());
      }
      groupPart[g] = k;
      groupLocal[g] = partGroups.get(k).size();
      partGroups.get(k).add(g);
    }
    if (programs.size() == 1) {
      // Every group names one program (not the builder's): that program's one-program optimizer.
      var one = Optimizer.builder(programs.getFirst()).backend(b.backend).fusion(b.fusion).arenas(b.arenas)
          .quantizeFrom(b.quantizeFrom).unquantized(b.unquantized);
      for (int gi = 0; gi < b.groups.size(); gi++) {
        one.group(b.groups.get(gi), b.tensors.get(gi));
      }
      return one.build();
    }
    var tensors = new ArrayList<String>();
    var tensorPart = new HashMap<String, Integer>();
    var numel = new long[programs.size()];
    for (int g = 0; g < b.groups.size(); g++) {
      for (var t : b.tensors.get(g)) {
        if (tensorPart.put(t.name(), groupPart[g]) != null) {
          throw new OptcException("two tensors are named '" + t.name() + "'; tensor names must be unique");
        }
        tensors.add(t.name());
        numel[groupPart[g]] += MatrixView.of(t.shape()).numel();
      }
    }
    for (var name : b.unquantized) {
      if (!tensorPart.containsKey(name)) {
        throw new OptcException("no tensor named '" + name + "' to keep unquantized");
      }
    }
    var offsets = new long[programs.size()];
    long total = 0;
    for (int k = 0; k < programs.size(); k++) {
      offsets[k] = (total + PART_ALIGN - 1) / PART_ALIGN * PART_ALIGN;
      total = offsets[k] + numel[k];
    }
    boolean shared = b.arenas.kind() == Arenas.Kind.NATIVE;
    HostMemory host = null;
    MemorySegment w = null;
    MemorySegment g = null;
    var parts = new ArrayList<Part>();
    try {
      if (shared) {
        long bytes = Float.BYTES * total;
        w = b.arenas.adopted("w");
        g = b.arenas.adopted("g");
        for (var e : b.arenas.adopted().entrySet()) {
          if (e.getValue().byteSize() < bytes) {
            throw new OptcException("the segment adopted for " + e.getKey() + " has " + e.getValue().byteSize()
                + " bytes; the tensors of " + names(programs) + " need " + bytes + " (" + total + " floats: each "
                + "program's tensors start at a multiple of " + PART_ALIGN + " floats)");
          }
        }
        if (w == null || g == null) {
          host = new HostMemory();
        }
        w = w != null ? w : host.allocate(bytes, 0, ARENA_ALIGN);
        g = g != null ? g : host.allocate(bytes, 1, ARENA_ALIGN);
      }
      for (int k = 0; k < programs.size(); k++) {
        var pb = Optimizer.builder(programs.get(k)).backend(b.backend).fusion(b.fusion).quantizeFrom(b.quantizeFrom)
            .arenas(new Arenas(b.arenas.kind(), Map.of()));
        var keep = new LinkedHashSet<String>();
        for (int gi : partGroups.get(k)) {
          pb.group(b.groups.get(gi), b.tensors.get(gi));
          b.tensors.get(gi).stream().map(Optimizer.Tensor::name).filter(b.unquantized::contains).forEach(keep::add);
        }
        pb.unquantized(keep);
        if (shared) {
          pb.adopt("w", w.asSlice(Float.BYTES * offsets[k], Float.BYTES * numel[k]));
          pb.adopt("g", g.asSlice(Float.BYTES * offsets[k], Float.BYTES * numel[k]));
        }
        parts.add(new Part(pb.build(), List.copyOf(partGroups.get(k)), shared ? offsets[k] : 0));
      }
    } catch (RuntimeException | Error e) {
      parts.forEach(p -> p.optimizer().close());
      if (host != null) {
        host.close();
      }
      throw e;
    }
    if (shared) {
      w = w.asSlice(0, Float.BYTES * total);
      g = g.asSlice(0, Float.BYTES * total);
    }
    return new Optimizer(new MultiProgram(parts, groupPart, groupLocal, tensors, tensorPart, w, g, host));
  }

  List<Part> parts() {
    return parts;
  }

  int groups() {
    return groupPart.length;
  }

  /** Every tensor's name, in bind order. */
  List<String> tensors() {
    return tensors;
  }

  /** The one-program optimizer that steps {@code tensor}. */
  Optimizer part(String tensor) {
    var k = tensorPart.get(tensor);
    if (k == null) {
      throw new OptcException("no tensor named '" + tensor + "'");
    }
    return parts.get(k).optimizer();
  }

  /** The part of group {@code group}, checked. */
  Part part(int group) {
    return parts.get(groupPart[group]);
  }

  int checkGroup(int group) {
    if (group < 0 || group >= groupPart.length) {
      throw new OptcException("no parameter group " + group + " (there are " + groupPart.length + ")");
    }
    return group;
  }

  /** {@code "lion + adamw"}: the programs, in part order. */
  String describe() {
    return names(parts.stream().map(Part::program).toList());
  }

  private static String names(List<OptProgram> programs) {
    return String.join(" + ", programs.stream().map(OptProgram::name).toList());
  }

  /** What a one-program accessor answers when asked of several programs. */
  OptcException perProgram(String what) {
    return new OptcException("this optimizer runs " + describe() + ", one program per group: ask program(group) or "
        + "programs(), not " + what);
  }

  long t() {
    return parts.getFirst().optimizer().t();
  }

  /** Every part's step, after every part's checks: an error in any leaves every part's {@code t} as it was. */
  void step() {
    var begun = new ArrayList<double[][]>();
    try {
      for (var p : parts) {
        begun.add(p.optimizer().begin());
      }
    } catch (RuntimeException e) {
      for (int k = 0; k < begun.size(); k++) {
        var o = parts.get(k).optimizer();
        o.restoreStep(o.t() - 1);
      }
      throw e;
    }
    Arrays.fill(lastMetrics, null);
    for (int k = 0; k < parts.size(); k++) {
      parts.get(k).optimizer().finish(begun.get(k));
    }
    if (!listeners.isEmpty()) {
      var metrics = mergedMetrics();
      listeners.forEach(l -> l.accept(metrics));
    }
  }

  /**
   * Every metric of every program, one value per tensor in bind order: NaN for a tensor whose program does not
   * have that metric.
   */
  private Optimizer.StepMetrics mergedMetrics() {
    var index = new HashMap<String, Integer>();
    for (int i = 0; i < tensors.size(); i++) {
      index.put(tensors.get(i), i);
    }
    var values = new LinkedHashMap<String, double[]>();
    for (var m : lastMetrics) {
      if (m == null) {
        continue;
      }
      m.values().forEach((name, v) -> {
        var all = values.computeIfAbsent(name, x -> {
          var a = new double[tensors.size()];
          Arrays.fill(a, Double.NaN);
          return a;
        });
        for (int i = 0; i < v.length; i++) {
          all[index.get(m.tensors().get(i))] = v[i];
        }
      });
    }
    return new Optimizer.StepMetrics(t(), tensors, values);
  }

  void onMetrics(Consumer<Optimizer.StepMetrics> listener) {
    if (listeners.isEmpty()) {
      for (int k = 0; k < parts.size(); k++) {
        int part = k;
        parts.get(k).optimizer().onMetrics(m -> lastMetrics[part] = m);
      }
    }
    listeners.add(listener);
  }

  /** The parts a hyper name addresses: {@code "prog:name"} one program's, a plain name every program's that has it. */
  private List<Part> targets(String name) {
    int colon = name.indexOf(':');
    if (colon >= 0) {
      var who = name.substring(0, colon);
      var part = parts.stream().filter(p -> p.program().name().equals(who)).findFirst()
          .orElseThrow(() -> new OptcException("hyper '" + name + "': no program '" + who + "' in this optimizer (its "
              + "programs: " + describe() + ")"));
      Optimizer.checkHyper(part.program(), hyperName(name));
      return List.of(part);
    }
    var having = parts.stream().filter(p -> has(p.program(), name)).toList();
    if (having.isEmpty()) {
      var each = new ArrayList<String>();
      for (var p : parts) {
        var names = p.program().ir().hypers().stream().map(IrProgram.HyperInfo::name).toList();
        each.add(p.program().name() + ": " + (names.isEmpty() ? "none" : String.join(", ", names)));
      }
      throw new OptcException("unknown hyper '" + name + "': none of " + describe() + " has it (" + String.join("; ",
          each) + ")");
    }
    return having;
  }

  private static String hyperName(String name) {
    return name.substring(name.indexOf(':') + 1);
  }

  private static boolean has(OptProgram p, String hyper) {
    return p.ir().hypers().stream().anyMatch(h -> h.name().equals(hyper));
  }

  /** The hyper of {@code group}'s program that {@code name} ({@code lr} or {@code adamw:lr}) names. */
  private String groupHyper(int group, String name) {
    var part = part(checkGroup(group));
    int colon = name.indexOf(':');
    if (colon >= 0 && !name.substring(0, colon).equals(part.program().name())) {
      throw new OptcException("hyper '" + name + "': group " + group + " is stepped by " + part.program().name()
          + ", not " + name.substring(0, colon));
    }
    return hyperName(name);
  }

  void setHyper(String name, double value) {
    var targets = targets(name);
    var h = hyperName(name);
    for (var p : targets) {
      var problem = p.optimizer().checkHyperValue(h, value);
      if (problem != null) {
        throw new OptcException("hyper '" + name + "' = " + value + " (" + p.program().name() + "): " + problem);
      }
    }
    targets.forEach(p -> p.optimizer().setHyper(h, value));
  }

  void setHyper(int group, String name, double value) {
    var h = groupHyper(group, name);
    part(group).optimizer().setHyper(groupLocal[group], h, value);
  }

  double hyper(int group, String name) {
    var h = groupHyper(group, name);
    return part(group).optimizer().hyper(groupLocal[group], h);
  }

  Map<String, Double> hyperOverrides(int group) {
    return part(checkGroup(group)).optimizer().hyperOverrides(groupLocal[group]);
  }

  void schedule(String name, double base, LongToDoubleFunction multiplier) {
    var h = hyperName(name);
    targets(name).forEach(p -> p.optimizer().schedule(h, base, multiplier));
  }

  /** Every input of every program, in part order. */
  List<String> inputs() {
    return parts.stream().flatMap(p -> p.optimizer().inputs().stream()).distinct().toList();
  }

  boolean stateAllocated(String state) {
    var having = parts.stream().filter(p -> p.program().ir().states().stream().anyMatch(s -> s.name().equals(state)))
        .toList();
    if (having.isEmpty()) {
      throw new OptcException("no state '" + state + "' in " + describe());
    }
    return having.stream().allMatch(p -> p.optimizer().stateAllocated(state));
  }

  /**
   * Where {@code tensor} lives: in the shared arenas (native), at its part's offset plus its own; or in its part's
   * own arenas ({@link Arenas#BACKEND}).
   */
  TensorView view(String tensor) {
    var k = tensorPart.get(tensor);
    var v = part(tensor).view(tensor);
    if (weights == null) {
      return v;
    }
    return new TensorView(v.name(), v.shape(), parts.get(k).offset() + v.offset(), weights, grads);
  }

  MemorySegment arena(String buffer) {
    if ((buffer.equals("w") || buffer.equals("g")) && weights != null) {
      return buffer.equals("w") ? weights : grads;
    }
    if (buffer.equals("w") || buffer.equals("g")) {
      throw new OptcException("the " + buffer + " arena: this optimizer runs " + describe() + " with each program's "
          + "arenas where its backend keeps them; build it with Arenas.NATIVE for one weight and one gradient arena");
    }
    throw new OptcException("the " + buffer + " arena: this optimizer runs " + describe() + ", and each program keeps "
        + "its states in arenas of its own; read them per tensor with state(\"" + buffer + "\", tensor)");
  }

  /** Closes every part, then frees the shared arenas it allocated. */
  @Override
  public void close() {
    RuntimeException first = null;
    for (var p : parts) {
      try {
        p.optimizer().close();
      } catch (RuntimeException e) {
        first = first == null ? e : first;
      }
    }
    if (host != null) {
      host.close();
    }
    if (first != null) {
      throw first;
    }
  }
}
