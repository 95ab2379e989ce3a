package dev.optc.runtime;

import static dev.optc.runtime.Fixtures.build;
import static dev.optc.runtime.Fixtures.noOverrides;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.runtime.Fixtures.TensorSpec;
import dev.optc.runtime.io.Npy;
import dev.optc.runtime.io.Npy.NpyException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bad-input corpus for files, below the CLI: {@link AtomicFiles} (every writer), {@link Npy} and
 * {@link Optimizer#save}/{@link Optimizer#restore}. Nothing that is not a regular file is replaced or
 * opened; every failure is one-line {@link OptcException} (or {@link NpyException}) and leaves the folder
 * exactly as it was: no temporaries, links still links, devices still devices.
 */
class BadInputFilesTest {
  static final List<TensorSpec> TENSORS = List.of(new TensorSpec("w", new long[] {3, 5}, 0));
  static final Duration HANG = Duration.ofSeconds(20);

  @TempDir
  Path dir;

  // ---------------------------------------------------------------------------------------------------
  // Helpers: special files, and what a folder holds

  /** {@code mknod PATH c 1 3} (a /dev/null twin); skips the test where this user cannot. */
  static Path charDevice(Path path) throws Exception {
    assumeTrue(exec("mknod", "-m", "666", path.toString(), "c", "1", "3"), "cannot mknod here (needs root)");
    return path;
  }

  static Path fifo(Path path) throws Exception {
    assumeTrue(exec("mkfifo", path.toString()), "cannot mkfifo here");
    return path;
  }

  static boolean exec(String... command) throws Exception {
    try {
      var p = new ProcessBuilder(command).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor() == 0;
    } catch (IOException e) {
      return false; // no such program
    }
  }

  /** Each entry (recursively) with its kind and content: files by bytes, links by target, others by kind. */
  static Map<String, String> contents(Path d) throws IOException {
    var map = new TreeMap<String, String>();
    try (var s = Files.walk(d)) {
      for (var p : s.filter(p -> !p.equals(d)).toList()) {
        String what;
        if (Files.isSymbolicLink(p)) {
          what = "link -> " + Files.readSymbolicLink(p);
        } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          what = "file " + java.util.HexFormat.of().formatHex(Files.readAllBytes(p));
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          what = "dir";
        } else {
          what = UserFiles.kind(p, LinkOption.NOFOLLOW_LINKS);
        }
        map.put(d.relativize(p).toString(), what);
      }
    }
    return map;
  }

  static void assertOneLine(String message, String expected) {
    assertTrue(message.contains(expected), "'" + expected + "' in: " + message);
    assertFalse(message.contains("\n"), "one line: " + message);
  }

  /** {@code write} fails with a message containing {@code expected}, and the folder is as it was. */
  void assertRefused(Executable write, String expected) throws IOException {
    var before = contents(dir);
    var e = assertThrows(Exception.class, () -> assertTimeoutPreemptively(HANG, write));
    assertTrue(e instanceof OptcException || e instanceof NpyException, "a user error, not " + e);
    assertOneLine(e.getMessage(), expected);
    assertEquals(before, contents(dir), "nothing replaced, nothing left behind");
  }

  static Optimizer optimizer() throws Exception {
    var p = OptProgram.load("adam");
    return build(p, TENSORS, noOverrides(1), Map.of("w", new float[15]));
  }

  // ---------------------------------------------------------------------------------------------------
  // 1. Writers never replace special files or links

  @Test
  void saveOntoADeviceNodeIsRefused() throws Exception {
    var node = charDevice(dir.resolve("mynull"));
    try (var opt = optimizer()) {
      assertRefused(() -> opt.save(node), "mynull: cannot write: not a regular file (a character device)");
    }
    assertRefused(() -> AtomicFiles.write(node, "x"), "not a regular file (a character device)");
    assertRefused(() -> Npy.write(node, new long[] {1}, new float[] {1}), "not a regular file (a character device)");
  }

  @Test
  void saveOntoAFifoIsRefusedWithoutBlocking() throws Exception {
    var f = fifo(dir.resolve("f.state"));
    try (var opt = optimizer()) {
      assertRefused(() -> opt.save(f), "not a regular file (a FIFO)");
    }
  }

  @Test
  void aLinkToASpecialFileIsRefusedAndKept() throws Exception {
    var node = charDevice(dir.resolve("node"));
    var link = Files.createSymbolicLink(dir.resolve("link.npy"), node.getFileName());
    assertRefused(() -> Npy.write(link, new long[] {1}, new float[] {1}), "not a regular file (a symbolic link to");
    var fd1 = Files.createSymbolicLink(dir.resolve("stdout.npy"), Path.of("/proc/self/fd/1"));
    assumeTrue(!Files.isRegularFile(fd1), "this JVM's stdout is a regular file: writing through is then right");
    assertRefused(() -> AtomicFiles.write(fd1, "x"), "not a regular file");
  }

  @Test
  void aDanglingLinkIntoAMissingDirectoryIsRefusedAndKept() throws Exception {
    var link = Files.createSymbolicLink(dir.resolve("out.npy"), Path.of("nodir/x.npy"));
    assertRefused(() -> AtomicFiles.write(link, "x"), "not a regular file (a symbolic link into");
  }

  @Test
  void aLinkToARegularFileIsWrittenThroughAndKept() throws Exception {
    var real = Files.createDirectory(dir.resolve("real"));
    var file = Files.writeString(real.resolve("state"), "old");
    var link = Files.createSymbolicLink(dir.resolve("link"), Path.of("real/state"));
    var chain = Files.createSymbolicLink(dir.resolve("chain"), Path.of("link"));
    AtomicFiles.write(chain, "new");
    assertEquals("new", Files.readString(file));
    assertTrue(Files.isSymbolicLink(link) && Files.isSymbolicLink(chain), "the links stay links");
    assertEquals(Map.of("chain", "link -> link", "link", "link -> real/state", "real", "dir",
        "real/state", "file " + java.util.HexFormat.of().formatHex("new".getBytes())), contents(dir),
        "the temporary was made (and renamed) in the target's folder");
    // A dangling link into an existing folder is written through too, as the shell's '>' does.
    var dangling = Files.createSymbolicLink(dir.resolve("dangling"), Path.of("real/fresh"));
    AtomicFiles.write(dangling, "fresh");
    assertEquals("fresh", Files.readString(real.resolve("fresh")));
    assertTrue(Files.isSymbolicLink(dangling));
  }

  @Test
  void aDirectoryIsRefused() throws Exception {
    var d = Files.createDirectory(dir.resolve("d.npy"));
    assertRefused(() -> AtomicFiles.write(d, "x"), "d.npy: cannot write: is a directory");
    assertRefused(() -> AtomicFiles.write(Path.of(""), "x"), "an empty file name");
  }

  @Test
  void theReplacedFileKeepsItsPermissions() throws Exception {
    var file = Files.writeString(dir.resolve("secret.state"), "old");
    var mode = java.nio.file.attribute.PosixFilePermissions.fromString("rw-------");
    Files.setPosixFilePermissions(file, mode);
    AtomicFiles.write(file, "new");
    assertEquals(mode, Files.getPosixFilePermissions(file));
  }

  // ---------------------------------------------------------------------------------------------------
  // 3. Temporary names stay within NAME_MAX; a batch replaces all its files or none

  @Test
  void aLongNameStillGetsATemporaryWithin255Bytes() throws Exception {
    var name = "L".repeat(250) + ".npy"; // 254 bytes: legal, but ".NAME.<pid>.<hex>.tmp" is not
    var temp = AtomicFiles.tempName(name);
    assertTrue(temp.getBytes(StandardCharsets.UTF_8).length <= 255, temp);
    assertTrue(AtomicFiles.tempName("é".repeat(127) + "x").getBytes(StandardCharsets.UTF_8).length <= 255);
    Npy.write(dir.resolve(name), new long[] {2}, new float[] {1, 2});
    assertEquals(List.of(name), List.copyOf(contents(dir).keySet()), "only the target, no temporary");
  }

  @Test
  void aNameOver255BytesIsRefusedBeforeWriting() throws Exception {
    var path = dir.resolve("L".repeat(252) + ".npy");
    assertRefused(() -> AtomicFiles.target(path), "the file name is 256 bytes long; file systems allow at most 255");
    assertRefused(() -> Npy.write(path, new long[] {1}, new float[] {1}), "256 bytes");
  }

  @Test
  void aFailedBatchLeavesEveryFileAsItWas() throws Exception {
    var a = Files.writeString(dir.resolve("traj.npy"), "old trajectory");
    var b = dir.resolve("out.npy");
    var before = contents(dir);
    // The second file's content fails after the first file's temporary is complete.
    var e = assertThrows(OptcException.class, () -> {
      try (var batch = new AtomicFiles.Batch()) {
        batch.add(a, AtomicFiles.content("new trajectory"));
        batch.add(b, ch -> {
          throw new IOException("No space left on device");
        });
        batch.commit();
      }
    });
    assertOneLine(e.getMessage(), "out.npy: cannot write: no space left on device");
    assertEquals(before, contents(dir), "the trajectory keeps its old content; no temporary is left");
  }

  @Test
  void aTargetTurnedIntoAFifoBeforeCommitStopsTheWholeBatch() throws Exception {
    Files.delete(fifo(dir.resolve("probe"))); // skips here, not inside the batch, where FIFOs cannot be made
    var a = Files.writeString(dir.resolve("a.npy"), "old a");
    var b = Files.writeString(dir.resolve("b.npy"), "old b");
    var e = assertThrows(OptcException.class, () -> {
      try (var batch = new AtomicFiles.Batch()) {
        batch.add(a, AtomicFiles.content("new a"));
        batch.add(b, AtomicFiles.content("new b"));
        Files.delete(b);
        fifo(b);
        batch.commit();
      }
    });
    assertOneLine(e.getMessage(), "b.npy: cannot write: not a regular file (a FIFO)");
    assertEquals("old a", Files.readString(a), "no file is renamed when one of them cannot be");
    assertEquals(Map.of("a.npy", "file " + java.util.HexFormat.of().formatHex("old a".getBytes()), "b.npy", "a FIFO"),
        contents(dir));
  }

  @Test
  void theSameTargetTwiceInABatchIsRefused() throws Exception {
    Files.createDirectory(dir.resolve("d"));
    var link = Files.createSymbolicLink(dir.resolve("dlink"), Path.of("d"));
    var e = assertThrows(OptcException.class, () -> {
      try (var batch = new AtomicFiles.Batch()) {
        batch.add(dir.resolve("d/x.npy"), AtomicFiles.content("1"));
        batch.add(link.resolve("x.npy"), AtomicFiles.content("2"));
        batch.commit();
      }
    });
    assertOneLine(e.getMessage(), "the same file as");
    assertEquals(Map.of("d", "dir", "dlink", "link -> d"), contents(dir));
  }

  // ---------------------------------------------------------------------------------------------------
  // 4. Temporaries of killed writers are removed by the next write to the same file

  /** The PID of a process that has ended (and been reaped): what a kill -9'd writer leaves. */
  static long deadPid() throws Exception {
    var p = new ProcessBuilder("true").start();
    p.waitFor();
    assumeTrue(ProcessHandle.of(p.pid()).isEmpty(), "the PID was reused at once");
    return p.pid();
  }

  @Test
  void staleTemporariesOfThisTargetAreRemovedOthersKept() throws Exception {
    long dead = deadPid();
    long alive = ProcessHandle.current().pid();
    var stale = Files.write(dir.resolve(".opt.state." + dead + ".0123456789abcdef.tmp"), new byte[1000]);
    var live = Files.write(dir.resolve(".opt.state." + alive + ".fedcba9876543210.tmp"), new byte[10]);
    var oldAndAlive = Files.write(dir.resolve(".opt.state." + alive + ".00000000000000aa.tmp"), new byte[10]);
    Files.setLastModifiedTime(oldAndAlive, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
    var otherTarget = Files.write(dir.resolve(".other.state." + dead + ".0123456789abcdef.tmp"), new byte[1]);
    var notOurs = Files.write(dir.resolve(".opt.state.0123456789abcdef.tmp"), new byte[1]);
    var userFile = Files.write(dir.resolve(".opt.state." + dead + ".notours.tmp"), new byte[1]);
    try (var opt = optimizer()) {
      opt.save(dir.resolve("opt.state"));
    }
    assertFalse(Files.exists(stale), "a dead writer's temporary is removed");
    assertFalse(Files.exists(oldAndAlive), "a temporary untouched for an hour is removed (the PID was reused)");
    for (var kept : List.of(live, otherTarget, notOurs, userFile)) {
      assertTrue(Files.exists(kept), kept.getFileName() + " is kept: a live writer's, or not this pattern");
    }
  }

  @Test
  void aKilledSaveLeavesATemporaryThatTheNextSaveRemoves() throws Exception {
    // A real kill -9 of a JVM in the middle of a save: a child JVM whose save never ends.
    var java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    var target = dir.resolve("big.bin");
    var child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), Saver.class.getName(),
        target.toString()).redirectErrorStream(true).start();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (temps(target).isEmpty() && System.nanoTime() < deadline && child.isAlive()) {
        Thread.sleep(5);
      }
      assumeTrue(!temps(target).isEmpty(), "the child never got as far as a temporary");
    } finally {
      child.destroyForcibly().waitFor(); // SIGKILL: no shutdown hook runs
    }
    assertFalse(temps(target).isEmpty(), "kill -9 left a temporary");
    AtomicFiles.write(target, "after");
    assertEquals(List.of(), temps(target), "the next write removed it");
    assertEquals("after", Files.readString(target));
  }

  static List<Path> temps(Path target) throws IOException {
    try (var s = Files.list(target.getParent())) {
      return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
    }
  }

  /** The child of {@link #aKilledSaveLeavesATemporaryThatTheNextSaveRemoves}: a save that never ends. */
  public static final class Saver {
    public static void main(String[] args) {
      AtomicFiles.write(Path.of(args[0]), ch -> {
        var chunk = java.nio.ByteBuffer.allocate(1 << 16);
        while (true) {
          ch.write(chunk.clear());
          try {
            Thread.sleep(10);
          } catch (InterruptedException e) {
            return;
          }
        }
      });
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // 6. Inputs that are not regular files fail at once

  @Test
  void restoreFromAFifoFailsAtOnce() throws Exception {
    var f = fifo(dir.resolve("opt.state"));
    try (var opt = optimizer()) {
      assertRefused(() -> opt.restore(f), "opt.state: not a regular file (a FIFO)");
    }
  }

  @Test
  void restoreFromDevZeroFailsWithoutRunningOutOfMemory() throws Exception {
    assumeTrue(Files.exists(Path.of("/dev/zero")), "no /dev/zero");
    try (var opt = optimizer()) {
      assertRefused(() -> opt.restore(Path.of("/dev/zero")), "/dev/zero: not a regular file (a character device)");
      var node = charDevice(dir.resolve("zero"));
      assertRefused(() -> opt.restore(node), "not a regular file (a character device)");
    }
  }

  @Test
  void npyReadersRefuseFifosAndDevicesAtOnce() throws Exception {
    var f = fifo(dir.resolve("f.npy"));
    assertRefused(() -> Npy.readFloat32(f), "f.npy: not a regular file (a FIFO)");
    assertRefused(() -> Npy.readFloat64(f), "f.npy: not a regular file (a FIFO)");
    assumeTrue(Files.exists(Path.of("/dev/zero")), "no /dev/zero");
    assertRefused(() -> Npy.readFloat32(Path.of("/dev/zero")), "not a regular file (a character device)");
  }

  @Test
  void optSourceThatIsAFifoOrDeviceIsNamedSo() throws Exception {
    var f = fifo(dir.resolve("f.opt"));
    assertRefused(() -> OptProgram.resolve(f.toString()), "f.opt: not a regular file (a FIFO)");
    assumeTrue(Files.exists(Path.of("/dev/zero")), "no /dev/zero");
    assertRefused(() -> OptProgram.resolve("/dev/zero"), "/dev/zero: not a regular file (a character device)");
    assertRefused(() -> OptProgram.resolve(""), "'': an empty file name");
  }

  // ---------------------------------------------------------------------------------------------------
  // 12. Messages say the real reason

  @Test
  void savingOverAKernelFileSaysSo() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/version")), "no /proc");
    try (var opt = optimizer()) {
      var e = assertThrows(OptcException.class, () -> opt.save(Path.of("/proc/version")));
      assertEquals("/proc/version: cannot write: /proc is a kernel file system (proc), not a place for files",
          e.getMessage());
    }
  }

  @Test
  void writingBelowAFileSaysItIsNotADirectory() throws Exception {
    var file = Files.writeString(dir.resolve("file"), "x");
    assertRefused(() -> AtomicFiles.write(file.resolve("out.npy"), "y"), file + " is not a directory");
  }

  @Test
  void anUnreadableSourceGivesTheReason() throws Exception {
    assumeTrue(!"root".equals(System.getProperty("user.name")), "root reads every file: permission checks are off");
    var file = Files.writeString(dir.resolve("u.opt"), "optimizer u\n");
    Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("---------"));
    assertRefused(() -> OptProgram.resolve(file.toString()), "u.opt: cannot read it (permission denied)");
  }

  @Test
  void checkpointReadIsBoundedByTheFileSize() throws Exception {
    // A regular file that is not a state file: read (all 3 bytes) and refused, nothing more.
    var f = Files.write(dir.resolve("tiny.state"), new byte[] {1, 2, 3});
    try (var opt = optimizer()) {
      assertRefused(() -> opt.restore(f), "not an optc state file");
    }
    assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(f));
  }
}
