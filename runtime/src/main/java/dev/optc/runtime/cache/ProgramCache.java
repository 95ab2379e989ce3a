package dev.optc.runtime.cache;

import dev.optc.compiler.diag.InternalCompilerError;
import dev.optc.runtime.AtomicFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * optc's one cache of built programs, for every backend: the Java backend's classes, OpenCL binaries and
 * CUDA PTX. Two layers, both keyed by a hash of everything the build read ({@link #key}):
 *
 * <ul>
 *   <li>in memory, the loaded program, for the life of the process;
 *   <li>on disk, its bytes in a checked {@link CacheEntry} under {@link #root()}{@code /<folder>}, so that a
 *       later process skips javac, the OpenCL compiler or NVRTC. An entry that fails its check, or whose
 *       bytes the loader refuses (a class that does not link, a binary the driver rejects), is deleted
 *       with one warning line and rebuilt, never trusted. The disk layer is best effort: a missing or
 *       read-only folder only costs a build.
 * </ul>
 *
 * @param <T> the loaded program: a {@code Class}, a {@code ClProgram}, PTX text
 */
public final class ProgramCache<T> {

  /** Turns an entry's payload into a loaded program; any exception means "refused": dropped and rebuilt. */
  @FunctionalInterface
  public interface Loader<T> {
    T load(byte[] payload) throws Exception;
  }

  /** A program just built and the bytes that load it again ({@link Loader}). */
  public record Built<T>(T program, byte[] payload) {}

  private final String folder;
  private final String suffix;
  private final Map<String, T> loaded = new ConcurrentHashMap<>();

  /**
   * A cache whose entries are the files {@code root()/folder/KEY + suffix}.
   *
   * @param folder e.g. {@code java}, {@code opencl}, {@code cuda}
   * @param suffix e.g. {@code .classes}, {@code .bin}, {@code .ptx}
   */
  public ProgramCache(String folder, String suffix) {
    this.folder = folder;
    this.suffix = suffix;
  }

  /**
   * The program under {@code key}: from memory, else loaded from its disk entry, else built (and its
   * entry written). A build's exception (a compile error) propagates; nothing is cached then.
   */
  public T get(String key, Loader<T> loader, Supplier<Built<T>> build) {
    var program = loaded.get(key);
    if (program != null) {
      return program;
    }
    var file = file(key);
    var payload = CacheEntry.read(file);
    if (payload.isPresent()) {
      try {
        program = loader.load(payload.get());
      } catch (Exception | LinkageError e) {
        // Checked bytes that still do not load (written by another JDK or driver, say): not trusted either.
        CacheEntry.drop(file, e.getMessage() != null ? e.getMessage() : e.toString());
      }
    }
    if (program == null) {
      var built = build.get();
      program = built.program();
      try {
        Files.createDirectories(file.getParent());
        AtomicFiles.write(file, CacheEntry.encode(built.payload()));
      } catch (IOException | RuntimeException e) {
        // Read-only, full, or the folder went away: nothing cached on disk.
      }
    }
    var raced = loaded.putIfAbsent(key, program);
    return raced != null ? raced : program;
  }

  /** Where the entry of {@code key} lives. */
  public Path file(String key) {
    return root().resolve(folder).resolve(key + suffix);
  }

  /** Forgets the programs loaded so far, so that the next {@link #get} goes to the disk (tests). */
  public void forget() {
    loaded.clear();
  }

  /**
   * optc's cache folder, shared by every backend (and the crash reports): the system property
   * {@code optc.cache} (tests), else {@code $OPTC_CACHE}, default {@code ~/.cache/optc}.
   */
  public static Path root() {
    var property = System.getProperty("optc.cache");
    if (property != null && !property.isBlank()) {
      return Path.of(property);
    }
    var env = System.getenv("OPTC_CACHE");
    return env != null && !env.isBlank() ? Path.of(env)
        : Path.of(System.getProperty("user.home"), ".cache", "optc");
  }

  /** The key of a build that read {@code parts} (source, device, driver, options...): their hash, one per line. */
  public static String key(Object... parts) {
    var text = new StringBuilder();
    for (var part : parts) {
      text.append(part).append('\n');
    }
    return hash(text.toString());
  }

  /** SHA-256 of the text, in hex: the one hash optc's caches and file names use. */
  public static String hash(String text) {
    try {
      var digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new InternalCompilerError("SHA-256 is missing from this JDK", e);
    }
  }
}
