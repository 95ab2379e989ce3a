package dev.optc.runtime;

import dev.optc.compiler.ir.IrProgram;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * The optimizer state file: every state of every tensor, the step counter and each group's hyper
 * settings, as {@code torch.optim}'s {@code state_dict} holds them (weights are the model's and are saved
 * by the training loop). Layout, big-endian:
 *
 * <pre>
 *   "OPTC-STATE" u8 version=1
 *   UTF program name, UTF source hash (SHA-256)
 *   i64 t
 *   i32 groups, per group: i32 n, n × (UTF hyper, f64 value)
 *   i32 tensors, per tensor: UTF name, i32 group, i32 rank, rank × i64 dim
 *   i32 states, per state: UTF name, per tensor: i32 n, n × f32
 *                                    or (version 2) i32 -1, i32 n, i32 c, c × u8 codes, i32 b, b × f32 absmax
 *   i64 CRC-32 of everything above
 * </pre>
 *
 * A quantized state ({@code as q8}, {@code as q4}) of a tensor at or above the quantization threshold is
 * saved as it is stored, codes and block absmax values (the second form), so a restored optimizer continues
 * bit for bit; a file with such entries is version 2, any other version 1.
 *
 * Names are at most 65,535 bytes (UTF), checked before saving. Restoring also checks meaning, since a
 * checksum can be recomputed: 0 <= t <= 2^53, and hyper values finite unless the program's default
 * is not (the rule {@link Optimizer#setHyper} applies).
 *
 * A flag state without memory (see {@link Optimizer#stateAllocated}: AdamW's {@code max_exp_avg_sq} while
 * {@code amsgrad} is off) is saved as the init values {@link Optimizer#state} answers for it, so the format
 * is the same whether it was allocated or not. Restoring writes the hypers first, which allocates each flag
 * state they need; a flag state still without memory then stays so when the file holds exactly its init
 * values, and is allocated to hold them otherwise.
 *
 * An optimizer whose groups have different programs ({@link MultiProgram}) saves one file, version 3: after
 * the magic, {@code u8 3, i32 parts}, per part (program) {@code i32 n, n × i32 group} (its groups' numbers in
 * the optimizer), {@code i32 bytes} and that part's body as above (from its version byte to its last state,
 * without magic and checksum), then one CRC-32 of everything. Restoring checks that each part's program (name
 * and source) steps the same groups in the optimizer, and every part's step counter is the same, before it
 * changes any part.
 *
 * Saving writes a temporary file in the same directory, forces it to disk and renames it over the
 * target, so a crash leaves the old file or the new one, never half of one. Restoring reads and checks
 * the whole file (checksum, program, tensors, sizes) before it touches the optimizer.
 */
final class Checkpoint {
  private static final byte[] MAGIC = "OPTC-STATE".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private static final int VERSION = 2;
  /** The version of a file of several programs' parts. */
  private static final int MULTI = 3;
  /** The largest step counter a state file may hold: 2^53, past which t is not exact in float64. */
  static final long MAX_STEP = 1L << 53;
  /** The most bytes of one name (program, hyper, tensor, state) in the file: DataOutput's UTF limit. */
  static final int MAX_NAME_BYTES = 65_535;
  /** The most one Java array (and so this reader) holds. */
  private static final long MAX_BYTES = Integer.MAX_VALUE - 8;

  private Checkpoint() {}

  static void save(Optimizer opt, Path path) {
    write(path, out -> out.write(body(opt)));
  }

  /** One file for every part of a multi-program optimizer (version 3, above). */
  static void save(MultiProgram multi, Path path) {
    write(path, out -> {
      out.writeByte(MULTI);
      out.writeInt(multi.parts().size());
      for (var part : multi.parts()) {
        out.writeInt(part.groups().size());
        for (int g : part.groups()) {
          out.writeInt(g);
        }
        var body = body(part.optimizer());
        out.writeInt(body.length);
        out.write(body);
      }
    });
  }

  /** What a file holds between its magic and its checksum. */
  @FunctionalInterface
  private interface Content {
    void writeTo(DataOutputStream out) throws IOException;
  }

  /** The magic, {@code content}, a CRC-32 of both, written to {@code path} atomically. */
  private static void write(Path path, Content content) {
    var bytes = new ByteArrayOutputStream();
    try (var out = new DataOutputStream(bytes)) {
      out.write(MAGIC);
      content.writeTo(out);
      var crc = new CRC32();
      crc.update(bytes.toByteArray());
      out.writeLong(crc.getValue());
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory cannot fail", e);
    }
    AtomicFiles.write(path, bytes.toByteArray());
  }

  /** A one-program optimizer's file from its version byte to its last state: no magic, no checksum. */
  private static byte[] body(Optimizer opt) {
    checkName("the program name", opt.program().name());
    opt.program().ir().hypers().forEach(h -> checkName("hyper name", h.name()));
    opt.program().ir().states().forEach(s -> checkName("state name", s.name()));
    opt.layout().tensors().forEach(t -> checkName("tensor name", t.name()));
    var bytes = new ByteArrayOutputStream();
    try (var out = new DataOutputStream(bytes)) {
      boolean quantized = opt.program().ir().states().stream().anyMatch(s -> s.dtype().quantized());
      out.writeByte(quantized ? VERSION : 1);
      out.writeUTF(opt.program().name());
      out.writeUTF(opt.program().hash());
      out.writeLong(opt.t());
      var layout = opt.layout();
      out.writeInt(layout.groups());
      for (int g = 0; g < layout.groups(); g++) {
        var o = opt.hyperOverrides(g);
        out.writeInt(o.size());
        for (var e : o.entrySet().stream().sorted(Map.Entry.comparingByKey()).toList()) {
          out.writeUTF(e.getKey());
          out.writeDouble(e.getValue());
        }
      }
      out.writeInt(layout.tensors().size());
      for (var t : layout.tensors()) {
        out.writeUTF(t.name());
        out.writeInt(t.group());
        out.writeInt(t.shape().length);
        for (long d : t.shape()) {
          out.writeLong(d);
        }
      }
      var states = opt.program().ir().states();
      out.writeInt(states.size());
      for (var s : states) {
        out.writeUTF(s.name());
        for (int i = 0; i < layout.tensors().size(); i++) {
          var t = layout.tensors().get(i);
          var stored = opt.quantizedState(s.name(), i);
          if (stored != null) {
            out.writeInt(-1);
            out.writeInt(layout.length(s.shape().kind(), i));
            out.writeInt(stored.codes().length);
            out.write(stored.codes());
            out.writeInt(stored.absmax().length);
            var buf = ByteBuffer.allocate(stored.absmax().length * 4);
            buf.asFloatBuffer().put(stored.absmax());
            out.write(buf.array());
            continue;
          }
          var values = opt.state(s.name(), t.name());
          out.writeInt(values.length);
          var buf = ByteBuffer.allocate(values.length * 4);
          buf.asFloatBuffer().put(values);
          out.write(buf.array());
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("writing to memory cannot fail", e);
    }
    return bytes.toByteArray();
  }

  /** Names are stored as DataOutput UTF strings: at most 65,535 bytes each. */
  static void checkName(String what, String name) {
    long bytes = 0;
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      bytes += c >= 1 && c <= 0x7f ? 1 : c <= 0x7ff ? 2 : 3;
    }
    if (bytes > MAX_NAME_BYTES) {
      throw new OptcException("cannot save a " + what + " of " + bytes + " bytes ('" + name.substring(0, 20)
          + "...'): a state file holds names of at most " + MAX_NAME_BYTES + " bytes; use a shorter name");
    }
  }

  /**
   * Restores a file into {@code opt}, or into {@code multi}'s parts where {@code opt} runs several programs (then
   * {@code multi} is not null): every part is read and checked before any changes.
   */
  static void restore(Optimizer opt, MultiProgram multi, Path path) {
    byte[] data = read(path);
    int version = data[MAGIC.length] & 0xff;
    int end = data.length - 8;
    if (version != MULTI) {
      if (multi != null) {
        throw new OptcException(path + ": written by " + describeSingle(data, MAGIC.length, end - MAGIC.length)
            + ", one program for every group; this optimizer runs " + describe(multi) + "; restore it into an "
            + "optimizer with the same program for each group");
      }
      parse(opt, data, MAGIC.length, end - MAGIC.length, path.toString()).apply().run();
      return;
    }
    var bodies = new ArrayList<int[]>();
    var groups = new ArrayList<List<Integer>>();
    var in = ByteBuffer.wrap(data, MAGIC.length + 1, end - MAGIC.length - 1);
    try {
      int parts = in.getInt();
      if (parts < 1 || parts > 4096) {
        throw new OptcException(path + ": has " + parts + " programs; this file was not written by optc or was "
            + "changed");
      }
      for (int k = 0; k < parts; k++) {
        int n = in.getInt();
        if (n < 0 || n > in.remaining() / 4) {
          throw new java.nio.BufferUnderflowException();
        }
        var gs = new ArrayList<Integer>();
        for (int i = 0; i < n; i++) {
          gs.add(in.getInt());
        }
        groups.add(gs);
        int bytes = in.getInt();
        if (bytes < 0 || bytes > in.remaining()) {
          throw new java.nio.BufferUnderflowException();
        }
        bodies.add(new int[] {in.position(), bytes});
        in.position(in.position() + bytes);
      }
      if (in.hasRemaining()) {
        throw new OptcException(path + ": has unexpected bytes after the last program's states");
      }
    } catch (java.nio.BufferUnderflowException e) {
      throw new OptcException(path + ": the state file ends too early (truncated)");
    }
    var written = new ArrayList<String>();
    for (int k = 0; k < bodies.size(); k++) {
      written.add(describeSingle(data, bodies.get(k)[0], bodies.get(k)[1]) + " (" + groupList(groups.get(k)) + ")");
    }
    var file = String.join(" + ", written);
    if (multi == null) {
      throw new OptcException(path + ": written by " + file + "; this optimizer runs " + opt.program().name()
          + " alone; restore it into an optimizer with the same program for each group");
    }
    boolean matches = bodies.size() == multi.parts().size();
    for (int k = 0; matches && k < bodies.size(); k++) {
      var part = multi.parts().get(k);
      var head = header(data, bodies.get(k)[0], bodies.get(k)[1]);
      matches = head != null && head[0].equals(part.program().name()) && head[1].equals(part.program().hash())
          && groups.get(k).equals(part.groups());
    }
    if (!matches) {
      var mine = describe(multi);
      throw new OptcException(path + ": written by " + file + "; this optimizer runs " + mine
          + (mine.equals(file) ? " from a different source" : "") + "; restore it into an optimizer with the same "
          + "program for each group");
    }
    var parsed = new ArrayList<Parsed>();
    for (int k = 0; k < bodies.size(); k++) {
      var part = multi.parts().get(k);
      parsed.add(parse(part.optimizer(), data, bodies.get(k)[0], bodies.get(k)[1],
          path + " (" + part.program().name() + "'s groups)"));
      if (parsed.get(k).t() != parsed.getFirst().t()) {
        throw new OptcException(path + ": " + part.program().name() + "'s groups are at step " + parsed.get(k).t()
            + " and " + multi.parts().getFirst().program().name() + "'s at step " + parsed.getFirst().t()
            + "; the programs of one optimizer share t, so this file was not written by optc or was changed");
      }
    }
    parsed.forEach(p -> p.apply().run());
  }

  /** {@code "lion (group 0) + adamw (groups 1, 2)"}. */
  private static String describe(MultiProgram multi) {
    return String.join(" + ", multi.parts().stream().map(p -> p.program().name() + " (" + groupList(p.groups()) + ")")
        .toList());
  }

  private static String groupList(List<Integer> groups) {
    return (groups.size() == 1 ? "group " : "groups ") + String.join(", ", groups.stream().map(String::valueOf)
        .toList());
  }

  /** A one-program body's program name and hash, or null where it does not start with them. */
  private static String[] header(byte[] data, int offset, int length) {
    try (var in = new DataInputStream(new ByteArrayInputStream(data, offset, length))) {
      in.readUnsignedByte();
      return new String[] {in.readUTF(), in.readUTF()};
    } catch (IOException e) {
      return null;
    }
  }

  private static String describeSingle(byte[] data, int offset, int length) {
    var head = header(data, offset, length);
    return head == null ? "an unreadable program" : head[0];
  }

  /** The whole file, its magic and checksum checked. */
  private static byte[] read(Path path) {
    if ("no such file".equals(UserFiles.notRegular(path))) {
      throw new OptcException(path + ": no such state file");
    }
    // A FIFO or device is refused unopened; a file is read up to its size, at most what one array holds.
    byte[] data = UserFiles.readRegular(path, MAX_BYTES, "state file");
    if (data.length < MAGIC.length + 9 || !Arrays.equals(Arrays.copyOf(data, MAGIC.length), MAGIC)) {
      throw new OptcException(path + ": not an optc state file");
    }
    var crc = new CRC32();
    crc.update(data, 0, data.length - 8);
    if (ByteBuffer.wrap(data, data.length - 8, 8).getLong() != crc.getValue()) {
      throw new OptcException(path + ": the state file is corrupt (checksum mismatch); it was truncated "
          + "or changed after it was written");
    }
    return data;
  }

  /**
   * Reads and checks a one-program body ({@code length} bytes at {@code offset}: from the version byte to the last
   * state) against {@code opt}, changing nothing; the result writes it into {@code opt}. Errors start with
   * {@code path}.
   */
  private static Parsed parse(Optimizer opt, byte[] data, int offset, int length, String path) {
    var layout = opt.layout();
    var program = opt.program();
    long t;
    var overrides = new ArrayList<Map<String, Double>>();
    // Per state and tensor: float[] values, or an Engine.Quantized as stored.
    var values = new LinkedHashMap<String, List<Object>>();
    // The body: after the magic, before the checksum (the third argument is a length, not an end).
    var body = new ByteArrayInputStream(data, offset, length);
    try (var in = new DataInputStream(body)) {
      int version = in.readUnsignedByte();
      if (version != 1 && version != VERSION) {
        throw new OptcException(path + ": state file version " + version + " is not supported (this optc "
            + "reads versions 1 to " + MULTI + ")");
      }
      var name = in.readUTF();
      var hash = in.readUTF();
      if (!hash.equals(program.hash())) {
        throw new OptcException(path + ": written by optimizer '" + name + "' from a different source ("
            + hash.substring(0, Math.min(12, hash.length())) + "), not by this " + program.name()
            + " (" + program.hash().substring(0, 12) + "); restore it into the program that saved it");
      }
      t = in.readLong();
      if (t < 0 || t > MAX_STEP) {
        throw new OptcException(path + ": step counter t = " + t + " is " + (t < 0 ? "negative" : "past 2^53")
            + "; a state file holds 0 <= t <= 2^53 (the step is exact in float64 up to there), so this one was "
            + "not written by optc or was changed");
      }
      int groups = in.readInt();
      if (groups != layout.groups()) {
        throw new OptcException(path + ": has " + groups + " parameter groups, this optimizer "
            + layout.groups());
      }
      for (int g = 0; g < groups; g++) {
        var o = new LinkedHashMap<String, Double>();
        int n = in.readInt();
        for (int i = 0; i < n; i++) {
          var h = in.readUTF();
          if (program.ir().hypers().stream().noneMatch(x -> x.name().equals(h))) {
            throw new OptcException(path + ": sets hyper '" + h + "', which " + program.name()
                + " does not have");
          }
          double v = in.readDouble();
          var problem = opt.checkHyperValue(h, v);
          if (problem != null) {
            throw new OptcException(path + ": sets hyper '" + h + "' = " + v + " in group " + g + ", but " + problem
                + "; this file was not written by optc or was changed");
          }
          o.put(h, v);
        }
        overrides.add(o);
      }
      int tensors = in.readInt();
      if (tensors != layout.tensors().size()) {
        throw new OptcException(path + ": has " + tensors + " tensors, this optimizer "
            + layout.tensors().size());
      }
      for (var tensor : layout.tensors()) {
        var tn = in.readUTF();
        int group = in.readInt();
        var shape = new long[in.readInt()];
        for (int i = 0; i < shape.length; i++) {
          shape[i] = in.readLong();
        }
        if (!tn.equals(tensor.name()) || group != tensor.group() || !Arrays.equals(shape, tensor.shape())) {
          throw new OptcException(path + ": tensor '" + tn + "' " + Arrays.toString(shape) + " in group "
              + group + " does not match '" + tensor.name() + "' " + Arrays.toString(tensor.shape())
              + " in group " + tensor.group());
        }
      }
      int states = in.readInt();
      if (states != program.ir().states().size()) {
        throw new OptcException(path + ": has " + states + " states, " + program.name() + " has "
            + program.ir().states().size());
      }
      for (IrProgram.StateInfo s : program.ir().states()) {
        var sn = in.readUTF();
        if (!sn.equals(s.name())) {
          throw new OptcException(path + ": state '" + sn + "' where '" + s.name() + "' was expected");
        }
        var perTensor = new ArrayList<Object>();
        for (int i = 0; i < layout.tensors().size(); i++) {
          int n = in.readInt();
          if (n == -1 && version >= 2) {
            perTensor.add(readQuantized(in, path, opt, s, i));
            continue;
          }
          if (n != layout.length(s.shape().kind(), i)) {
            throw new OptcException(path + ": state '" + sn + "' of tensor '" + layout.tensors().get(i).name()
                + "' has " + n + " values, expected " + layout.length(s.shape().kind(), i));
          }
          var bytes = in.readNBytes(n * 4);
          if (bytes.length != n * 4) {
            throw new EOFException();
          }
          var v = new float[n];
          ByteBuffer.wrap(bytes).asFloatBuffer().get(v);
          perTensor.add(v);
        }
        values.put(sn, perTensor);
      }
      if (in.available() != 0) {
        throw new OptcException(path + ": has unexpected bytes after the last state");
      }
    } catch (EOFException e) {
      throw new OptcException(path + ": the state file ends too early (truncated)");
    } catch (IOException e) {
      throw new OptcException(path + ": cannot read it (" + e.getMessage() + ")");
    }
    // Everything checked: now change the optimizer. Hypers and t first: they decide which flag states need
    // memory (allocated, init values written) and what an unallocated one's init is; then the states, where a
    // flag state without memory stays so if the file holds its init values, bit for bit.
    long step = t;
    return new Parsed(t, () -> {
      opt.replaceOverrides(overrides);
      opt.restoreStep(step);
      for (var e : values.entrySet()) {
        for (int i = 0; i < e.getValue().size(); i++) {
          switch (e.getValue().get(i)) {
            case float[] v -> opt.setState(e.getKey(), i, v);
            case Engine.Quantized q -> opt.setQuantizedState(e.getKey(), i, q);
            default -> throw new IllegalStateException();
          }
        }
      }
    });
  }

  /** A body read and checked: its step counter, and what writes it into the optimizer. */
  private record Parsed(long t, Runnable apply) {}

  /** A tensor's quantized state as the file stores it, checked against what this optimizer stores. */
  private static Engine.Quantized readQuantized(DataInputStream in, String path, Optimizer opt, IrProgram.StateInfo s,
      int tensor) throws IOException {
    var name = opt.layout().tensors().get(tensor).name();
    var map = opt.quantization().map(s.name());
    var segment = opt.layout().segments().get(tensor);
    int n = in.readInt();
    if (map == null || !segment.quantized() || n != segment.numel()) {
      throw new OptcException(path + ": state '" + s.name() + "' of tensor '" + name + "' is stored quantized ("
          + n + " elements), but this optimizer keeps it " + (map == null ? "unquantized"
          : !segment.quantized() ? "in float32 (the tensor is below its quantization threshold, "
          + opt.layout().quantizeFrom() + " elements)" : "for " + segment.numel() + " elements")
          + "; restore it with the program and threshold that saved it");
    }
    int c = in.readInt();
    if (c != map.codeBytes(n)) {
      throw new OptcException(path + ": state '" + s.name() + "' of tensor '" + name + "' has " + c
          + " code bytes, expected " + map.codeBytes(n) + " (" + map + ")");
    }
    var codes = in.readNBytes(c);
    if (codes.length != c) {
      throw new EOFException();
    }
    int b = in.readInt();
    if (b != map.blocks(n)) {
      throw new OptcException(path + ": state '" + s.name() + "' of tensor '" + name + "' has " + b
          + " block absmax values, expected " + map.blocks(n));
    }
    var bytes = in.readNBytes(b * 4);
    if (bytes.length != b * 4) {
      throw new EOFException();
    }
    var absmax = new float[b];
    ByteBuffer.wrap(bytes).asFloatBuffer().get(absmax);
    if (map.bits() == 4 && n % 2 == 1 && (codes[c - 1] & 0xf0) != 0) {
      throw new OptcException(path + ": state '" + s.name() + "' of tensor '" + name + "' has a code past its "
          + "last element; this file was not written by optc or was changed");
    }
    return new Engine.Quantized(codes, absmax);
  }
}
