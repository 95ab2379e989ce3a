package dev.optc.cli;

import static dev.optc.cli.CliTest.assertUsageError;
import static dev.optc.cli.CliTest.optc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.optc.runtime.io.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bad-input corpus for files, through the command line: every case is exit 2 with one line
 * "optc: ..." and leaves the folder exactly as it was (no temporaries, every file byte-identical, devices
 * still devices, links still links). Device nodes and FIFOs are made in the test's folder; a test skips
 * where this user cannot make them.
 */
class BadInputFilesTest {
  static final Duration HANG = Duration.ofSeconds(60);

  @TempDir
  Path dir;

  Path params;
  Path grads;

  @BeforeEach
  void inputs() throws IOException {
    params = dir.resolve("p.npy");
    grads = dir.resolve("g.npy");
    Npy.write(params, new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6});
    var g = new float[3 * 6];
    for (int i = 0; i < g.length; i++) {
      g[i] = (float) Math.sin(i);
    }
    Npy.write(grads, new long[] {3, 2, 3}, g);
    Files.createDirectory(dir.resolve("out"));
    Files.createSymbolicLink(dir.resolve("outlink"), Path.of("out"));
  }

  // ---------------------------------------------------------------------------------------------------
  // Helpers

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
      return false;
    }
  }

  /** Every entry below {@code d} with its kind and content (files by bytes, links by target). */
  static Map<String, String> contents(Path d) throws IOException {
    var map = new TreeMap<String, String>();
    try (var s = Files.walk(d)) {
      for (var p : s.filter(p -> !p.equals(d)).toList()) {
        String what;
        if (Files.isSymbolicLink(p)) {
          what = "link -> " + Files.readSymbolicLink(p);
        } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
          what = "file " + HexFormat.of().formatHex(Files.readAllBytes(p));
        } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          what = "dir";
        } else {
          what = "special " + Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        }
        map.put(d.relativize(p).toString(), what);
      }
    }
    return map;
  }

  List<String> simulate(String... extra) {
    var args = new ArrayList<>(List.of("simulate", "adam", "--params", params.toString(), "--grads",
        grads.toString()));
    args.addAll(List.of(extra));
    return args;
  }

  String at(String name) {
    return dir.resolve(name).toString();
  }

  /** Runs optc: exit 2, one line containing {@code expected}, and nothing in the folder changed. */
  void assertRefused(List<String> args, String expected) throws IOException {
    var before = contents(dir);
    Supplier<CliTest.Result> run = () -> optc(args);
    var r = assertTimeoutPreemptively(HANG, run::get, () -> "optc hangs: " + args);
    assertUsageError(r, false);
    assertTrue(r.err().contains(expected), "'" + expected + "' in: " + r);
    assertEquals(before, contents(dir), "nothing replaced, nothing left behind: " + args);
  }

  // ---------------------------------------------------------------------------------------------------
  // 1. Writers never replace special files or links

  @Test
  void simulateOutOntoADeviceNode() throws Exception {
    charDevice(dir.resolve("out/mynull"));
    assertRefused(simulate("--out", at("out/mynull")), "out/mynull: cannot write: not a regular file (a character device)");
    assertRefused(simulate("--out", at("out/x.npy"), "--trajectory", at("out/mynull")),
        "--trajectory " + at("out/mynull") + ": cannot write: not a regular file (a character device)");
  }

  @Test
  void simulateOutOntoAFifo() throws Exception {
    fifo(dir.resolve("out/f.npy"));
    assertRefused(simulate("--out", at("out/f.npy")), "not a regular file (a FIFO)");
  }

  @Test
  void simulateOutOntoALinkToStdout() throws Exception {
    var link = Files.createSymbolicLink(dir.resolve("out/stdout.npy"), Path.of("/proc/self/fd/1"));
    assumeTrue(!Files.isRegularFile(link), "this JVM's stdout is a regular file: writing through is then right");
    assertRefused(simulate("--out", link.toString()), "not a regular file (a symbolic link to");
  }

  @Test
  void simulateOutOntoALinkToADevice() throws Exception {
    charDevice(dir.resolve("node"));
    Files.createSymbolicLink(dir.resolve("out/link.npy"), Path.of("../node"));
    assertRefused(simulate("--out", at("out/link.npy")), "not a regular file (a symbolic link to a character device)");
  }

  @Test
  void simulateOutOntoADanglingLinkIntoAMissingDirectory() throws Exception {
    Files.createSymbolicLink(dir.resolve("out/d.npy"), Path.of("nodir/x.npy"));
    assertRefused(simulate("--out", at("out/d.npy")), "not a regular file (a symbolic link into");
  }

  @Test
  void simulateOutThroughALinkToAFileWritesTheFileAndKeepsTheLink() throws Exception {
    var real = Files.writeString(dir.resolve("out/real.npy"), "old");
    var link = Files.createSymbolicLink(dir.resolve("result.npy"), Path.of("out/real.npy"));
    var r = optc(simulate("--out", link.toString(), "--quiet"));
    assertEquals(0, r.code(), r.toString());
    assertTrue(Files.isSymbolicLink(link), "the link stays a link");
    assertEquals(List.of(2L, 3L), java.util.Arrays.stream(Npy.readFloat32(real).shape()).boxed().toList());
  }

  @Test
  void benchJsonOntoADeviceNode() throws Exception {
    charDevice(dir.resolve("out/mynull"));
    assertRefused(List.of("bench", "sgd", "--size", "8", "--json", at("out/mynull")),
        "--json " + at("out/mynull") + ": cannot write: not a regular file (a character device)");
    charDevice(dir.resolve("out/chart.png"));
    assertRefused(List.of("bench", "sgd", "--size", "8", "--plot", at("outlink/chart.png")),
        "--plot " + at("outlink/chart.png") + ": cannot write: not a regular file (a character device)");
  }

  @Test
  void emitOntoADeviceNode() throws Exception {
    charDevice(dir.resolve("out/adam.cl"));
    assertRefused(List.of("emit", "adam", "--target", "opencl", "-o", at("out")),
        "adam.cl: cannot write: not a regular file (a character device)");
  }

  // ---------------------------------------------------------------------------------------------------
  // 2. Outputs never overwrite inputs or each other

  @Test
  void simulateOutputsThatAreInputs() throws Exception {
    assertRefused(simulate("--out", grads.toString()), "--out " + grads + ": the same file as the input --grads");
    assertRefused(simulate("--out", params.toString()), "the same file as the input --params");
    assertRefused(simulate("--out", at("out/x.npy"), "--trajectory", grads.toString()),
        "--trajectory " + grads + ": the same file as the input --grads");
    assertRefused(simulate("--out", at("out/x.npy"), "--trajectory", params.toString()),
        "the same file as the input --params");
  }

  @Test
  void simulateOutputsThatAreInputsThroughLinks() throws Exception {
    Files.createSymbolicLink(dir.resolve("glink.npy"), grads.getFileName());
    Files.createLink(dir.resolve("hard.npy"), params);
    Files.createSymbolicLink(dir.resolve("dirlink"), Path.of("."));
    assertRefused(simulate("--out", at("glink.npy")), "the same file as the input --grads");
    assertRefused(simulate("--out", at("hard.npy")), "the same file as the input --params");
    assertRefused(simulate("--out", at("dirlink/g.npy")), "the same file as the input --grads");
  }

  @Test
  void simulateOutputThatIsTheOptFile() throws Exception {
    var opt = Files.writeString(dir.resolve("sgd.opt"), "optimizer s\nhyper lr = 0.1\nw -= lr * g\n");
    var args = new ArrayList<>(List.of("simulate", opt.toString(), "--params", params.toString(), "--grads",
        grads.toString(), "--out", opt.toString()));
    assertRefused(args, "the same file as the input OPT");
  }

  @Test
  void simulateTwoOutputsThatAreOneFile() throws Exception {
    assertRefused(simulate("--out", at("out/x.npy"), "--trajectory", at("out/x.npy")), "the same file as --out");
    // Through a linked folder: today's main wrote the trajectory, then replaced it with the result.
    assertRefused(simulate("--out", at("out/x.npy"), "--trajectory", at("outlink/x.npy")),
        "--trajectory " + at("outlink/x.npy") + ": the same file as --out " + at("out/x.npy"));
    Files.writeString(dir.resolve("out/x.npy"), "old");
    Files.createLink(dir.resolve("out/y.npy"), dir.resolve("out/x.npy"));
    assertRefused(simulate("--out", at("out/x.npy"), "--trajectory", at("out/y.npy")), "the same file as --out");
  }

  @Test
  void benchOutputsThatAreOneFileOrTheOptFile() throws Exception {
    assertRefused(List.of("bench", "sgd", "--size", "8", "--json", at("out/r.json"), "--csv", at("outlink/r.json")),
        "--csv " + at("outlink/r.json") + ": the same file as --json");
    var opt = Files.writeString(dir.resolve("s.opt"), "optimizer s\nhyper lr = 0.1\nw -= lr * g\n");
    assertRefused(List.of("bench", opt.toString(), "--size", "8", "--csv", opt.toString()),
        "the same file as the input OPT");
  }

  @Test
  void emitOutputThatIsTheOptFile() throws Exception {
    var opt = Files.writeString(dir.resolve("out/s.cl"), "optimizer s\nhyper lr = 0.1\nw -= lr * g\n");
    assertRefused(List.of("emit", opt.toString(), "--target", "opencl", "-o", at("outlink")),
        "the same file as the input OPT");
  }

  // ---------------------------------------------------------------------------------------------------
  // 3. A failed run deletes nothing it did not create; names stay within limits

  @Test
  void aLongOutNameNextToAnExistingTrajectory() throws Exception {
    // The case: a legal 254-byte name whose temporary name was not, and a trajectory deleted.
    Files.copy(grads, dir.resolve("out/traj.npy"));
    var name = "L".repeat(250) + ".npy";
    var r = optc(simulate("--trajectory", at("out/traj.npy"), "--out", at("out/" + name), "--quiet"));
    assertEquals(0, r.code(), r.toString());
    assertEquals(List.of(name, "traj.npy"), CliTest.listing(dir.resolve("out")), "both written, no temporary");
    // One byte more is no legal name: refused before any work, the trajectory untouched.
    Files.copy(grads, dir.resolve("out/traj.npy"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertRefused(simulate("--trajectory", at("out/traj.npy"), "--out", at("out/" + "L".repeat(252) + ".npy")),
        "the file name is 256 bytes long; file systems allow at most 255");
  }

  @Test
  void emptyNames() throws Exception {
    assertRefused(simulate("--out", ""), "--out '': cannot write: an empty file name");
    assertRefused(List.of("check", ""), "optc: '': an empty file name");
  }

  // ---------------------------------------------------------------------------------------------------
  // 4. A killed writer's temporaries are removed by the next write of the same file

  @Test
  void staleTemporariesOfTheOutputAreRemoved() throws Exception {
    var p = new ProcessBuilder("true").start();
    p.waitFor();
    assumeTrue(ProcessHandle.of(p.pid()).isEmpty(), "the PID was reused at once");
    var stale = Files.write(dir.resolve("out/.x.npy." + p.pid() + ".0123456789abcdef.tmp"), new byte[100]);
    var other = Files.write(dir.resolve("out/.x.npy.keep.tmp"), new byte[1]);
    var r = optc(simulate("--out", at("out/x.npy"), "--quiet"));
    assertEquals(0, r.code(), r.toString());
    assertFalse(Files.exists(stale), "the dead writer's temporary is gone");
    assertTrue(Files.exists(other), "a file of another pattern is kept");
  }

  // ---------------------------------------------------------------------------------------------------
  // 6. Inputs that are not regular files fail at once

  @Test
  void simulateFromAFifo() throws Exception {
    var f = fifo(dir.resolve("f.npy"));
    assertRefused(List.of("simulate", "adam", "--params", f.toString(), "--grads", grads.toString(), "--out",
        at("out/o.npy")), f + ": not a regular file (a FIFO)");
    assertRefused(simulate("--out", at("out/o.npy")).stream().map(a -> a.equals(grads.toString()) ? f.toString() : a)
        .toList(), "not a regular file (a FIFO)");
  }

  @Test
  void simulateFromDevZero() throws Exception {
    assumeTrue(Files.exists(Path.of("/dev/zero")), "no /dev/zero");
    assertRefused(List.of("simulate", "adam", "--params", "/dev/zero", "--grads", grads.toString(), "--out",
        at("out/o.npy")), "/dev/zero: not a regular file (a character device)");
  }

  @Test
  void optThatIsAFifoOrDevice() throws Exception {
    var f = fifo(dir.resolve("f.opt"));
    assertRefused(List.of("check", f.toString()), f + ": not a regular file (a FIFO)");
    assertRefused(List.of("simulate", f.toString(), "--params", params.toString(), "--grads", grads.toString(),
        "--out", at("out/o.npy")), "not a regular file (a FIFO)");
    assertRefused(List.of("info", f.toString()), "not a regular file (a FIFO)");
    assumeTrue(Files.exists(Path.of("/dev/zero")), "no /dev/zero");
    assertRefused(List.of("check", "/dev/zero"), "/dev/zero: not a regular file (a character device)");
  }

  // ---------------------------------------------------------------------------------------------------
  // 12. Messages say the real reason

  @Test
  void outIntoAKernelFileSystem() throws Exception {
    assumeTrue(Files.exists(Path.of("/proc/version")), "no /proc");
    assertRefused(simulate("--out", "/proc/version"), "/proc is a kernel file system (proc), not a place for files");
  }

  @Test
  void unreadableOptGivesTheReason() throws Exception {
    assumeTrue(!"root".equals(System.getProperty("user.name")), "root reads every file: permission checks are off");
    var opt = Files.writeString(dir.resolve("u.opt"), "optimizer u\n");
    Files.setPosixFilePermissions(opt, java.nio.file.attribute.PosixFilePermissions.fromString("---------"));
    assertRefused(List.of("check", opt.toString()), opt + ": cannot read it (permission denied)");
  }
}
