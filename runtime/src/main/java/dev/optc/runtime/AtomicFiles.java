package dev.optc.runtime;

import dev.optc.runtime.cache.ProgramCache;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * The one writer of every file optc makes (.npy results, state files, bench reports, emitted source, the
 * program caches): readers see the old content or the new, never half of it, and no file that is not a
 * regular file is ever replaced.
 *
 * <ul>
 *   <li>Where: a regular file or nothing. A symbolic link is written through: the file it names is
 *       replaced, in that file's directory, and the link stays. A directory, device, FIFO, socket, a link
 *       to one of those, or a link into a missing directory is refused ("not a regular file").
 *   <li>How: a temporary file beside the target ({@code .NAME.PID.RANDOM.tmp}, at most 255 bytes: a long
 *       NAME is cut and a hash of it added), forced to disk, then renamed over the target; the target
 *       keeps its permissions. A {@link Batch} writes several files so: all temporaries first, the renames
 *       only when every one is complete, so a failure leaves every target as it was.
 *   <li>Clean-up: a failure removes the temporaries (so does a JVM shutdown, e.g. Ctrl-C). One killed
 *       outright (kill -9, power loss) cannot, so each write first removes stale temporaries of the same
 *       target: exactly this naming pattern, and stale meaning their writer process is gone (the PID in the
 *       name, checked with {@link ProcessHandle}) or, in case the PID was reused, untouched for an hour.
 * </ul>
 */
public final class AtomicFiles {
  /** Linux's NAME_MAX (ext4, xfs, btrfs, tmpfs): the longest file name, in bytes. */
  static final int NAME_MAX = 255;
  /** A temporary whose writer is alive is stale only after this long without a change (a reused PID). */
  static final Duration STALE = Duration.ofHours(1);
  /** The longest target name used whole in a temporary's name: "." NAME "." PID(≤19) "." 16 hex ".tmp". */
  private static final int BASE_MAX = NAME_MAX - (1 + 1 + 19 + 1 + 16 + 4);
  private static final long PID = ProcessHandle.current().pid();
  /** Temporaries being written by this JVM: removed if it shuts down before they are renamed. */
  private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(AtomicFiles::deleteQuietly),
        "optc-temp-cleanup"));
  }

  private AtomicFiles() {}

  /** Writes a file's content into a channel positioned at 0. */
  @FunctionalInterface
  public interface Content {
    void writeTo(FileChannel channel) throws IOException;
  }

  /** Text as UTF-8. */
  public static Content content(String text) {
    return content(text.getBytes(StandardCharsets.UTF_8));
  }

  public static Content content(byte[] data) {
    return ch -> {
      var buf = ByteBuffer.wrap(data);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    };
  }

  public static void write(Path path, String text) {
    write(path, content(text));
  }

  public static void write(Path path, byte[] data) {
    write(path, content(data));
  }

  /**
   * Replaces or creates {@code path} atomically with {@code content}.
   *
   * @throws OptcException one line "PATH: cannot write: REASON"; the target is then as it was
   */
  public static void write(Path path, Content content) {
    try (var batch = new Batch()) {
      batch.add(path, content);
      batch.commit();
    }
  }

  /**
   * Where writing {@code path} would put the file: the path itself (absolute, its directory's real path),
   * or, for a symbolic link, the regular file it finally names. Checks everything that can be checked
   * before writing, so that a command can fail before any work.
   *
   * @throws OptcException "PATH: cannot write: REASON" when a file cannot be written there
   */
  public static Path target(Path path) {
    if (path.toString().isEmpty()) {
      throw fail(path, "an empty file name");
    }
    var at = path.toAbsolutePath();
    if (at.getFileName() == null) {
      throw fail(path, "is a directory");
    }
    checkName(path, at);
    // The kernel's view first: it also follows /proc's magic links (/proc/self/fd/1 to a pipe or tty).
    try {
      var a = Files.readAttributes(at, BasicFileAttributes.class);
      if (a.isDirectory()) {
        throw fail(path, "is a directory");
      }
      if (!a.isRegularFile()) {
        throw fail(path, "not a regular file (" + (Files.isSymbolicLink(at) ? "a symbolic link to " : "")
            + UserFiles.kind(at) + ")");
      }
    } catch (IOException e) {
      // Nothing there, a dangling link, or a file where a directory should be: told apart below.
      if (!(e instanceof NoSuchFileException) && !UserFiles.reason(e).equals("not a directory")) {
        throw fail(path, UserFiles.reason(e));
      }
    }
    // Follow links one by one to the name that will be replaced or created.
    for (int hops = 0; Files.isSymbolicLink(at); hops++) {
      if (hops == 40) {
        throw fail(path, "too many levels of symbolic links");
      }
      try {
        at = at.resolveSibling(Files.readSymbolicLink(at));
      } catch (IOException e) {
        throw fail(path, UserFiles.reason(e));
      }
      if (at.getFileName() == null) {
        throw fail(path, "not a regular file (a symbolic link to " + at + ")");
      }
    }
    var name = checkName(path, at);
    var dir = at.getParent();
    boolean viaLink = !at.equals(path.toAbsolutePath());
    Path realDir;
    try {
      var d = Files.readAttributes(dir, BasicFileAttributes.class);
      if (!d.isDirectory()) {
        throw fail(path, viaLink ? "not a regular file (a symbolic link to " + at + ", below a file)"
            : dir + " is not a directory");
      }
      realDir = dir.toRealPath();
    } catch (NoSuchFileException e) {
      throw fail(path, viaLink ? "not a regular file (a symbolic link into " + dir + ", a missing directory)"
          : "directory " + dir + " does not exist");
    } catch (IOException e) {
      throw fail(path, "directory " + dir + ": " + UserFiles.reason(e));
    }
    try {
      var store = Files.getFileStore(realDir);
      if (store.type().equals("proc") || store.type().equals("sysfs")) {
        throw fail(path, realDir + " is a kernel file system (" + store.type() + "), not a place for files");
      }
      if (store.isReadOnly()) {
        throw fail(path, realDir + " is on a read-only file system");
      }
    } catch (IOException e) {
      // Unknown store: the write itself will tell.
    }
    if (!Files.isWritable(realDir)) {
      throw fail(path, "directory " + dir + " is not writable");
    }
    return realDir.resolve(name);
  }

  /** The file name of {@code at}, if it fits in {@link #NAME_MAX} bytes. */
  private static String checkName(Path path, Path at) {
    var name = at.getFileName().toString();
    int bytes = name.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > NAME_MAX) {
      throw fail(path, "the file name is " + bytes + " bytes long; file systems allow at most " + NAME_MAX);
    }
    return name;
  }

  /**
   * Several files written as one: {@link #add} writes each to a complete temporary, {@link #commit}
   * renames them all, {@link #close} removes whatever was not renamed. A run that fails before
   * {@code commit} leaves every target as it was and no temporary behind.
   */
  public static final class Batch implements AutoCloseable {
    private record Pending(Path path, Path target, Path temp) {}

    private final List<Pending> pending = new ArrayList<>();

    /** Checks {@code path} (see {@link #target}) and writes its complete content to a temporary. */
    public void add(Path path, Content content) {
      var target = target(path);
      for (var p : pending) {
        if (p.target().equals(target)) {
          throw fail(path, "the same file as " + p.path() + ", written in the same run");
        }
      }
      removeStaleTemps(target);
      var temp = target.resolveSibling(tempName(target.getFileName().toString()));
      try {
        // Not Files.createTempFile: its mode is 0600, and the renamed file would keep it.
        var ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        LIVE.add(temp);
        pending.add(new Pending(path, target, temp));
        try (ch) {
          keepPermissions(target, temp);
          content.writeTo(ch);
          ch.force(true); // on disk before the rename makes it visible
        }
      } catch (IOException e) {
        throw fail(path, UserFiles.reason(e));
      }
    }

    /**
     * Renames every temporary over its target. Each target is checked again first, all before the first
     * rename, so that a file replaced meanwhile by a device or FIFO stops the whole batch.
     */
    public void commit() {
      for (var p : pending) {
        if (!target(p.path()).equals(p.target())) {
          throw fail(p.path(), "the file changed (its links point elsewhere) while it was being written");
        }
      }
      while (!pending.isEmpty()) {
        var p = pending.getFirst();
        try {
          try {
            Files.move(p.temp(), p.target(), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
          } catch (AtomicMoveNotSupportedException e) {
            Files.move(p.temp(), p.target(), StandardCopyOption.REPLACE_EXISTING);
          }
        } catch (IOException e) {
          throw fail(p.path(), UserFiles.reason(e));
        }
        LIVE.remove(p.temp());
        pending.removeFirst();
        syncDirectory(p.target().getParent());
      }
    }

    /** Removes the temporaries not renamed (all of them unless {@link #commit} ran). */
    @Override
    public void close() {
      for (var p : pending) {
        deleteQuietly(p.temp());
        LIVE.remove(p.temp());
      }
      pending.clear();
    }
  }

  /**
   * {@code .NAME.PID.RANDOM.tmp}: hidden, says what it is for, and names its writer so that a later write
   * can tell a dead writer's leftover from a live one's. A NAME too long to fit in {@link #NAME_MAX} bytes
   * with the rest is cut and a hash of the whole added, so different long names still differ.
   */
  static String tempName(String name) {
    return "." + base(name) + "." + PID + "." + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())
        + ".tmp";
  }

  private static String base(String name) {
    var utf8 = name.getBytes(StandardCharsets.UTF_8);
    if (utf8.length <= BASE_MAX) {
      return name;
    }
    var cut = new StringBuilder();
    int used = 0;
    for (int i = 0; i < name.length(); ) {
      int cp = name.codePointAt(i);
      int n = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8).length;
      if (used + n > BASE_MAX - 9) {
        break;
      }
      cut.appendCodePoint(cp);
      used += n;
      i += Character.charCount(cp);
    }
    return cut + "~" + ProgramCache.hash(name).substring(0, 8);
  }

  /** Removes this target's temporaries left by writers that are gone (see the class comment). */
  static void removeStaleTemps(Path target) {
    var pattern = Pattern.compile(Pattern.quote("." + base(target.getFileName().toString()) + ".")
        + "(\\d{1,19})\\.[0-9a-f]{16}\\.tmp");
    var cutoff = Instant.now().minus(STALE);
    try (var entries = Files.newDirectoryStream(target.getParent(),
        p -> pattern.matcher(p.getFileName().toString()).matches())) {
      for (var temp : entries) {
        var m = pattern.matcher(temp.getFileName().toString());
        if (!m.matches() || LIVE.contains(temp)) {
          continue;
        }
        var a = Files.readAttributes(temp, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        boolean writerGone;
        try {
          writerGone = ProcessHandle.of(Long.parseLong(m.group(1))).map(h -> !h.isAlive()).orElse(true);
        } catch (NumberFormatException e) {
          writerGone = true;
        }
        if (a.isRegularFile() && (writerGone || a.lastModifiedTime().compareTo(FileTime.from(cutoff)) < 0)) {
          deleteQuietly(temp);
        }
      }
    } catch (IOException | RuntimeException e) {
      // Best effort: leftovers waste space, they never break a write.
    }
  }

  /** The replaced file's permissions carry over (a 0600 state file stays 0600). */
  private static void keepPermissions(Path target, Path temp) {
    try {
      Files.setPosixFilePermissions(temp, Files.getPosixFilePermissions(target));
    } catch (IOException | UnsupportedOperationException e) {
      // No old file, or no POSIX permissions: the new file gets the defaults (umask).
    }
  }

  /** Makes the rename itself durable; best effort (not every file system can sync a directory). */
  private static void syncDirectory(Path dir) {
    try (var ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | RuntimeException e) {
      // The data is on disk; only the name might be lost in a crash.
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException e) {
      // Left for the next write's stale clean-up.
    }
  }

  private static OptcException fail(Path path, String reason) {
    return new OptcException((path.toString().isEmpty() ? "''" : path) + ": cannot write: " + reason);
  }
}
