package dev.optc.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers see the old content or the new, never half of it: a temporary file in
 * the same directory, forced to disk, then renamed over the target. On failure the temporary is removed
 * and the target is untouched.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  public static void write(Path path, String text) {
    write(path, text.getBytes(StandardCharsets.UTF_8));
  }

  public static void write(Path path, byte[] data) {
    var dir = path.toAbsolutePath().getParent();
    Path tmp = null;
    try {
      // Not Files.createTempFile: its mode is 0600, and the renamed file would keep it.
      var name = dir.resolve("." + path.getFileName() + "."
          + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
      var ch = FileChannel.open(name, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      tmp = name;
      try (ch) {
        var buf = ByteBuffer.wrap(data);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      try {
        Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, path, StandardCopyOption.REPLACE_EXISTING);
      }
      tmp = null;
    } catch (NoSuchFileException e) {
      throw new OptcException(path + ": cannot write it (no such directory " + dir + ")");
    } catch (IOException e) {
      throw new OptcException(path + ": cannot write it (" + e.getMessage() + ")");
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // Leave it; its name starts with a dot and says what it is.
        }
      }
    }
  }
}
