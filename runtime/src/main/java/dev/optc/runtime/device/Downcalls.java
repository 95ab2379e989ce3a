package dev.optc.runtime.device;

import dev.optc.runtime.OptcException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Binds the C functions of one library, or, where the library or a symbol is missing, a handle of the
 * same exact type that throws an {@link OptcException} saying why: call sites keep using
 * {@code invokeExact} whether or not the library is there (CUDA, NVRTC, a BLAS), and a class of raw
 * bindings always initializes.
 */
public final class Downcalls {

  public static final String NATIVE_ACCESS_DENIED =
      "native access is disabled; run java with --enable-native-access=ALL-UNNAMED";

  private static final Linker LINKER = Linker.nativeLinker();

  private final SymbolLookup lib;
  private final String libraryName;
  private final String loadFailure;

  /**
   * @param lib the loaded library, or null when it could not be loaded
   * @param libraryName how messages name it, e.g. {@code libcuda.so.1}
   * @param loadFailure the whole message every function throws when {@code lib} is null
   */
  public Downcalls(SymbolLookup lib, String libraryName, String loadFailure) {
    this.lib = lib;
    this.libraryName = libraryName;
    this.loadFailure = loadFailure;
  }

  /**
   * The first of {@code candidates} that loads (a bare name through the dynamic loader's search, a path as
   * that file), mapped for the life of the process; where none does, every function throws {@code what + "
   * is not available: " + notFound}, or says that native access is disabled.
   */
  public static Downcalls open(String what, List<String> candidates, String notFound) {
    try {
      for (var candidate : candidates) {
        var lib = tryLoad(candidate);
        if (lib != null) {
          return new Downcalls(lib, candidate, null);
        }
      }
      return new Downcalls(null, candidates.getFirst(), what + " is not available: " + notFound);
    } catch (IllegalCallerException e) {
      return new Downcalls(null, candidates.getFirst(), what + " is not available: " + NATIVE_ACCESS_DENIED);
    }
  }

  /**
   * The library {@code nameOrPath} (a bare name through the loader's search, a path as that file), mapped for
   * the life of the process (the libraries keep thread pools and kernel caches); null where it does not load.
   *
   * @throws IllegalCallerException where native access is disabled
   */
  @SuppressWarnings("restricted") // loading C libraries is the purpose of this class
  public static SymbolLookup tryLoad(String nameOrPath) {
    try {
      return nameOrPath.contains("/") ? SymbolLookup.libraryLookup(Path.of(nameOrPath), Arena.global())
          : SymbolLookup.libraryLookup(nameOrPath, Arena.global());
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** Why the library could not be loaded, or empty when it was. */
  public Optional<String> loadFailure() {
    return Optional.ofNullable(loadFailure);
  }

  public boolean has(String symbol) {
    return lib != null && lib.find(symbol).isPresent();
  }

  /**
   * {@code name}'s downcall handle, of the exact C signature {@code result name(args...)}; a null
   * {@code result} binds a {@code void} function.
   */
  @SuppressWarnings("restricted") // binding C functions is the purpose of this class
  public MethodHandle bind(String name, MemoryLayout result, MemoryLayout... args) {
    var descriptor = result == null ? FunctionDescriptor.ofVoid(args) : FunctionDescriptor.of(result, args);
    if (lib == null) {
      return thrower(descriptor, loadFailure);
    }
    var symbol = lib.find(name);
    if (symbol.isEmpty()) {
      return thrower(descriptor, name + " is not exported by " + libraryName + "; the library is too old for optc");
    }
    try {
      return LINKER.downcallHandle(symbol.get(), descriptor);
    } catch (IllegalCallerException e) {
      return thrower(descriptor, libraryName + " cannot be called: " + NATIVE_ACCESS_DENIED);
    }
  }

  /** The first of {@code names} the library exports, bound; or a thrower naming the first. */
  public MethodHandle bindFirst(String[] names, MemoryLayout result, MemoryLayout... args) {
    for (var name : names) {
      if (has(name)) {
        return bind(name, result, args);
      }
    }
    return bind(names[0], result, args);
  }

  /**
   * A handle of the downcall's exact type that throws a fresh {@link OptcException} with {@code reason}, so call
   * sites keep using {@code invokeExact} whether or not the library is there.
   */
  public static MethodHandle thrower(FunctionDescriptor descriptor, String reason) {
    var type = descriptor.toMethodType();
    try {
      var fail = MethodHandles.lookup().findStatic(Downcalls.class, "unavailable",
          MethodType.methodType(Object.class, String.class));
      var typed = MethodHandles.insertArguments(fail, 0, reason)
          .asType(MethodType.methodType(type.returnType()));
      return MethodHandles.dropArguments(typed, 0, type.parameterList());
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }

  @SuppressWarnings("unused") // found reflectively by thrower()
  private static Object unavailable(String reason) {
    throw new OptcException(reason);
  }

  /** invokeExact declares Throwable; downcalls and throwers throw only unchecked exceptions. */
  public static RuntimeException unexpected(Throwable t) {
    if (t instanceof RuntimeException r) {
      throw r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException("unexpected checked exception from a downcall", t);
  }
}
