package dev.optc.runtime.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where NVRTC is looked for, with a stand-in environment; needs no NVRTC. */
class NvrtcLocatorTest {

  /** A loader that "loads" every file, recording which, without touching the dynamic linker. */
  private static final class FakeLoader implements java.util.function.Function<Path, SymbolLookup> {
    final List<Path> tried = new ArrayList<>();

    @Override
    public SymbolLookup apply(Path path) {
      tried.add(path);
      return name -> Optional.empty();
    }
  }

  @Test
  void overridePointingAtAMissingFileSaysSo() {
    var search = NvrtcRaw.search(Map.of("OPTC_NVRTC", "/no/such/dir/libnvrtc.so.13"));
    assertTrue(search.found().isEmpty());
    var why = search.failure().orElseThrow();
    assertTrue(why.startsWith("NVRTC is not available: OPTC_NVRTC=/no/such/dir/libnvrtc.so.13 names no file"), why);
    assertTrue(why.contains("unset it"), why);
  }

  @Test
  void overridePointingAtSomethingThatIsNoLibrarySaysSo(@TempDir Path dir) throws Exception {
    var file = Files.writeString(dir.resolve("libnvrtc.so.13"), "not an ELF file");
    var search = NvrtcRaw.search(Map.of("OPTC_NVRTC", file.toString()));
    var why = search.failure().orElseThrow();
    assertTrue(why.contains("OPTC_NVRTC=" + file + " could not be loaded as a shared library"), why);
  }

  @Test
  void overrideIsUsedAloneEvenWhenItFails(@TempDir Path dir) throws Exception {
    // A directory without the library: no fallback to the usual places, so a typo cannot go unnoticed.
    var loader = new FakeLoader();
    var search = NvrtcRaw.search(Map.of("OPTC_NVRTC", dir.toString()), loader);
    assertTrue(search.failure().orElseThrow().contains("is a directory without libnvrtc.so.13"),
        search.failure().orElseThrow());
    assertTrue(loader.tried.isEmpty(), "tried " + loader.tried);
  }

  @Test
  void overrideMayNameTheDirectory(@TempDir Path dir) throws Exception {
    var lib = Files.writeString(dir.resolve("libnvrtc.so.12"), "");
    var loader = new FakeLoader();
    var found = NvrtcRaw.search(Map.of("OPTC_NVRTC", dir.toString()), loader).found().orElseThrow();
    assertEquals(lib.toString(), found.location());
    assertEquals(List.of(lib), loader.tried);
  }

  @Test
  void ldLibraryPathComesFirstAndNewerSonamesBeforeOlder(@TempDir Path dir) throws Exception {
    var older = Files.writeString(dir.resolve("libnvrtc.so.12"), "");
    var newer = Files.writeString(dir.resolve("libnvrtc.so.13"), "");
    var loader = new FakeLoader();
    var env = Map.of("LD_LIBRARY_PATH", "/no/such/dir:" + dir, "HOME", dir.toString());
    var found = NvrtcRaw.search(env, loader).found().orElseThrow();
    assertEquals(newer.toString(), found.location());
    assertEquals(Optional.of(dir), found.directory());
    assertEquals(List.of(newer), loader.tried);
    assertTrue(Files.exists(older));
    assertEquals(dir, NvrtcRaw.directories(env).getFirst());
  }

  @Test
  void cudaHomeIsSearchedBeforeTheFixedPlaces(@TempDir Path dir) throws Exception {
    var lib64 = Files.createDirectories(dir.resolve("lib64"));
    var env = Map.of("CUDA_HOME", dir.toString(), "HOME", dir.toString());
    var dirs = NvrtcRaw.directories(env);
    assertEquals(lib64, dirs.getFirst(), "CUDA_HOME first: " + dirs);
  }

  @Test
  void findsPipsNvidiaCudaNvrtcWheelInTheUserSitePackages(@TempDir Path home) throws Exception {
    var lib = Files.createDirectories(home.resolve(".local/lib/python3.11/site-packages/nvidia/cu13/lib"));
    var env = Map.of("HOME", home.toString());
    var dirs = NvrtcRaw.directories(env);
    assertTrue(dirs.contains(lib), "" + dirs);
    assertTrue(dirs.indexOf(lib) > dirs.indexOf(Path.of("/usr/local/cuda/lib64")), "a toolkit comes first: " + dirs);
  }

  @Test
  void aLibraryThatDoesNotLoadIsNamedInTheFailure(@TempDir Path dir) throws Exception {
    var broken = Files.writeString(dir.resolve("libnvrtc.so.13"), "not an ELF file");
    // Only LD_LIBRARY_PATH and a loader that loads nothing: whatever this machine has is not consulted.
    var search = NvrtcRaw.search(Map.of("LD_LIBRARY_PATH", dir.toString()), path -> null);
    if (search.found().isPresent()) {
      return; // this machine has NVRTC on the loader's own path, which is searched by name last
    }
    var why = search.failure().orElseThrow();
    assertTrue(why.contains("could not load " + broken), why);
    assertTrue(why.contains("OPTC_NVRTC"), "says how to point at it: " + why);
  }
}
