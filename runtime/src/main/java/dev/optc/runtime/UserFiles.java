package dev.optc.runtime;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * Files a user names: what kind of file is there, and reads that cannot hang or exhaust memory. Java
 * cannot open with {@code O_NONBLOCK}, so a FIFO or device would block or stream forever once opened:
 * every input is checked with {@code stat} (links followed) first, and only a regular file is opened,
 * then read no further than the size {@code stat} gave.
 */
public final class UserFiles {
  private UserFiles() {}

  /**
   * Why {@code path} cannot be read as a regular file, as a phrase that follows "PATH: " ("no such file",
   * "is a directory", "not a regular file (a FIFO)", "cannot read it (permission denied)"), or
   * {@code null} when it is a regular file.
   */
  public static String notRegular(Path path) {
    if (path.toString().isEmpty()) {
      return "an empty file name";
    }
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return Files.isSymbolicLink(path) ? "no such file (a symbolic link to a missing " + target(path) + ")"
          : "no such file";
    } catch (IOException e) {
      return "cannot read it (" + reason(e) + ")";
    }
    if (a.isRegularFile()) {
      return null;
    }
    return a.isDirectory() ? "is a directory" : "not a regular file (" + kind(path) + ")";
  }

  /**
   * What a file that is neither regular nor a directory is ("a FIFO", "a character device", ...), links
   * followed; from {@code st_mode} where the platform has the "unix" attribute view.
   */
  static String kind(Path path, LinkOption... options) {
    try {
      int mode = (Integer) Files.getAttribute(path, "unix:mode", options);
      return switch (mode & 0170000) {
        case 0010000 -> "a FIFO";
        case 0020000 -> "a character device";
        case 0040000 -> "a directory";
        case 0060000 -> "a block device";
        case 0120000 -> "a symbolic link";
        case 0140000 -> "a socket";
        case 0100000 -> "a regular file";
        default -> "a special file";
      };
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
      return "a special file";
    }
  }

  private static String target(Path link) {
    try {
      return "'" + Files.readSymbolicLink(link) + "'";
    } catch (IOException e) {
      return "file";
    }
  }

  /** The reason of an I/O failure, without the paths the JDK's messages repeat. */
  public static String reason(IOException e) {
    return switch (e) {
      case NoSuchFileException _ -> "no such file or directory";
      case AccessDeniedException _ -> "permission denied";
      case NotDirectoryException _ -> "not a directory";
      case EOFException _ -> "unexpected end of file";
      case FileSystemException x when x.getReason() != null -> decapitalize(x.getReason());
      default -> decapitalize(Objects.requireNonNullElse(e.getMessage(), e.getClass().getSimpleName())
          .replace('\n', ' '));
    };
  }

  /** "No space left on device" reads as a reason after a colon: "no space left on device". */
  private static String decapitalize(String s) {
    return s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isLowerCase(s.charAt(1))
        ? Character.toLowerCase(s.charAt(0)) + s.substring(1) : s;
  }

  /**
   * The bytes of a regular file: never opens anything else, and reads at most the size the file had when
   * it was checked (a file that grows meanwhile is cut there), which must be at most {@code limit}.
   *
   * @param what what the file should be, for messages ("state file")
   * @throws OptcException one line naming the file and the reason
   */
  public static byte[] readRegular(Path path, long limit, String what) {
    var why = notRegular(path);
    if (why != null) {
      throw new OptcException(path + ": " + why + (why.startsWith("cannot") ? "" : "; expected a " + what));
    }
    try (var ch = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size > limit) {
        throw new OptcException(path + ": is " + size + " bytes, more than a " + what + " can be (at most "
            + limit + ")");
      }
      var buf = ByteBuffer.allocate((int) size);
      while (buf.hasRemaining() && ch.read(buf) >= 0) {
        // A file that shrank meanwhile ends early; the caller's format checks catch it.
      }
      return buf.position() == size ? buf.array() : java.util.Arrays.copyOf(buf.array(), buf.position());
    } catch (IOException e) {
      throw new OptcException(path + ": cannot read it (" + reason(e) + ")", e);
    }
  }
}
