package dev.optc.runtime.cache;

import dev.optc.compiler.diag.InternalCompilerError;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Optional;

/**
 * One file of optc's on-disk {@link ProgramCache} (Java classes, OpenCL binaries, CUDA PTX): a header
 * that says what it is, then the payload. A cached OpenCL binary goes straight to the driver, which crashes the JVM
 * on a truncated one, and a damaged class file fails every later run; so every entry is checked before
 * use, and one that does not check out is deleted and rebuilt, with one warning line, never trusted.
 *
 * <p>Layout (big-endian): the 8 bytes {@code OPTCACHE}, the format {@link #VERSION} (4 bytes), the
 * payload's length (8 bytes), the SHA-256 of the payload (32 bytes), the payload.
 */
public final class CacheEntry {
  /** Bumped whenever the layout or the meaning of a payload changes: older entries are rebuilt. */
  public static final int VERSION = 1;

  private static final byte[] MAGIC = "OPTCACHE".getBytes(StandardCharsets.US_ASCII);
  static final int HEADER = MAGIC.length + 4 + 8 + 32;

  private CacheEntry() {}

  /** Why an entry was refused. */
  public static final class Corrupt extends Exception {
    private static final long serialVersionUID = 1L;

    public Corrupt(String reason) {
      super(reason);
    }
  }

  /** The bytes of an entry holding {@code payload}. */
  public static byte[] encode(byte[] payload) {
    return ByteBuffer.allocate(HEADER + payload.length).put(MAGIC).putInt(VERSION).putLong(payload.length)
        .put(sha256(payload)).put(payload).array();
  }

  /** The payload of an entry, or {@link Corrupt} saying what is wrong with it. */
  public static byte[] decode(byte[] entry) throws Corrupt {
    if (entry.length < HEADER) {
      throw new Corrupt(entry.length == 0 ? "empty" : "truncated: " + entry.length + " bytes, shorter than the "
          + HEADER + "-byte header");
    }
    var buf = ByteBuffer.wrap(entry);
    var magic = new byte[MAGIC.length];
    buf.get(magic);
    if (!Arrays.equals(magic, MAGIC)) {
      throw new Corrupt("not an optc cache entry");
    }
    int version = buf.getInt();
    if (version != VERSION) {
      throw new Corrupt("format version " + version + ", this optc writes " + VERSION);
    }
    long length = buf.getLong();
    if (length != entry.length - HEADER) {
      throw new Corrupt("the header says " + length + " bytes of payload, the file has " + (entry.length - HEADER));
    }
    var digest = new byte[32];
    buf.get(digest);
    var payload = Arrays.copyOfRange(entry, HEADER, entry.length);
    if (!MessageDigest.isEqual(digest, sha256(payload))) {
      throw new Corrupt("checksum mismatch");
    }
    return payload;
  }

  /**
   * The payload of the entry at {@code file}; empty when there is none or it cannot be read. A corrupt
   * entry is deleted, with one warning on stderr, and is empty too: the caller rebuilds it.
   */
  public static Optional<byte[]> read(Path file) {
    byte[] bytes;
    try {
      if (!Files.isRegularFile(file)) {
        return Optional.empty();
      }
      bytes = Files.readAllBytes(file);
    } catch (IOException | RuntimeException e) {
      return Optional.empty();
    }
    try {
      return Optional.of(decode(bytes));
    } catch (Corrupt e) {
      drop(file, e.getMessage());
      return Optional.empty();
    }
  }

  /**
   * Deletes an entry that failed a check ({@link #read}'s, or a later one: a class that does not load,
   * a binary the driver refuses) and says so in one line on stderr.
   */
  public static void drop(Path file, String reason) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException | RuntimeException e) {
      // The rewrite that follows replaces it anyway.
    }
    System.err.println("optc: warning: dropped a corrupt cache entry " + file + " (" + reason + "); rebuilding it");
  }

  private static byte[] sha256(byte[] data) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(data);
    } catch (NoSuchAlgorithmException e) {
      throw new InternalCompilerError("SHA-256 is missing from this JDK", e);
    }
  }
}
