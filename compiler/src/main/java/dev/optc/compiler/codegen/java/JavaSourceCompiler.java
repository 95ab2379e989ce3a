package dev.optc.compiler.codegen.java;

import com.palantir.javapoet.JavaFile;
import dev.optc.compiler.diag.InternalCompilerError;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

/**
 * Compiles generated Java in memory with javax.tools and loads it. Results are cached by the hash of the
 * source: in memory for the life of the process, and as class bytes on disk under
 * {@code $OPTC_CACHE/java} (default {@code ~/.cache/optc/java}) so that the CLI does not run javac for a
 * program it has compiled before. The disk cache is best effort: a missing or unwritable directory only
 * costs a compile.
 */
public final class JavaSourceCompiler {
  private static final Map<String, Class<?>> LOADED = new ConcurrentHashMap<>();

  private JavaSourceCompiler() {}

  /** The hash the caches use: SHA-256 of the source text. */
  public static String hash(String source) {
    try {
      var digest = MessageDigest.getInstance("SHA-256").digest(source.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new InternalCompilerError("SHA-256 is missing from this JDK", e);
    }
  }

  /** Compiles and instantiates a generated {@link JavaStep}. */
  @SuppressWarnings("unchecked")
  public static <A> JavaStep<A> instantiate(JavaFile file) {
    var type = load(file);
    try {
      return (JavaStep<A>) type.getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new InternalCompilerError("cannot instantiate generated " + type.getName(), e);
    }
  }

  public static Class<?> load(JavaFile file) {
    var source = file.toString();
    var key = hash(source);
    return LOADED.computeIfAbsent(key, k -> define(file, source, k));
  }

  private static Class<?> define(JavaFile file, String source, String key) {
    var binaryName = file.packageName() + "." + file.typeSpec().name();
    var dir = cacheDir();
    Map<String, byte[]> classes = dir == null ? null : readCached(dir.resolve(key));
    if (classes == null) {
      classes = compile(binaryName, source);
      if (dir != null) {
        writeCached(dir.resolve(key), classes);
      }
    }
    var loader = new BytesClassLoader(classes, JavaStep.class.getClassLoader());
    try {
      return loader.loadClass(binaryName);
    } catch (ClassNotFoundException e) {
      throw new InternalCompilerError("generated class " + binaryName + " did not load", e);
    }
  }

  private static Map<String, byte[]> compile(String binaryName, String source) {
    var javac = ToolProvider.getSystemJavaCompiler();
    if (javac == null) {
      throw new InternalCompilerError("this Java runtime has no compiler (module jdk.compiler): run optc "
          + "with a JDK 25, not a JRE");
    }
    var out = new ConcurrentHashMap<String, byte[]>();
    var errors = new StringWriter();
    var std = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8);
    try (var manager = new ForwardingJavaFileManager<JavaFileManager>(std) {
      @Override
      public JavaFileObject getJavaFileForOutput(Location location, String className,
          JavaFileObject.Kind kind, FileObject sibling) {
        return new SimpleJavaFileObject(URI.create("mem:///" + className.replace('.', '/') + ".class"),
            kind) {
          @Override
          public OutputStream openOutputStream() {
            return new ByteArrayOutputStream() {
              @Override
              public void close() {
                out.put(className, toByteArray());
              }
            };
          }
        };
      }
    }) {
      var unit = new SimpleJavaFileObject(URI.create("mem:///" + binaryName.replace('.', '/') + ".java"),
          JavaFileObject.Kind.SOURCE) {
        @Override
        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
          return source;
        }
      };
      var options = List.of("--release", "25", "-proc:none", "-g:none", "-classpath",
          System.getProperty("java.class.path"));
      var ok = javac.getTask(errors, manager, null, options, null, List.of(unit)).call();
      if (!ok) {
        throw new InternalCompilerError("generated Java did not compile:\n" + errors + "\n" + source);
      }
    } catch (IOException e) {
      throw new InternalCompilerError("in-memory compilation failed", e);
    }
    return out;
  }

  private static Path cacheDir() {
    return cacheRoot().resolve("java");
  }

  /** optc's cache folder, shared by every backend: {@code $OPTC_CACHE}, default {@code ~/.cache/optc}. */
  public static Path cacheRoot() {
    var env = System.getenv("OPTC_CACHE");
    return env != null && !env.isBlank() ? Path.of(env)
        : Path.of(System.getProperty("user.home"), ".cache", "optc");
  }

  private static Map<String, byte[]> readCached(Path dir) {
    try (var files = Files.list(dir)) {
      var map = new ConcurrentHashMap<String, byte[]>();
      for (var f : files.toList()) {
        var name = f.getFileName().toString();
        if (name.endsWith(".class")) {
          map.put(name.substring(0, name.length() - 6), Files.readAllBytes(f));
        }
      }
      return map.isEmpty() ? null : map;
    } catch (IOException e) {
      return null;
    }
  }

  /** Writes into a temporary directory and renames it, so a reader never sees half a cache entry. */
  private static void writeCached(Path dir, Map<String, byte[]> classes) {
    Path tmp = null;
    try {
      Files.createDirectories(dir.getParent());
      tmp = Files.createTempDirectory(dir.getParent(), ".tmp-");
      for (var e : classes.entrySet()) {
        Files.write(tmp.resolve(e.getKey() + ".class"), e.getValue());
      }
      Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
      tmp = null;
    } catch (IOException | RuntimeException e) {
      // Best effort: another process may have written it first, or the cache is read-only.
    } finally {
      if (tmp != null) {
        try (var files = Files.list(tmp)) {
          for (var f : files.toList()) {
            Files.deleteIfExists(f);
          }
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // Nothing more to clean.
        }
      }
    }
  }

  private static final class BytesClassLoader extends ClassLoader {
    private final Map<String, byte[]> classes;

    BytesClassLoader(Map<String, byte[]> classes, ClassLoader parent) {
      super(parent);
      this.classes = classes;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
      var bytes = classes.get(name);
      if (bytes == null) {
        throw new ClassNotFoundException(name);
      }
      return defineClass(name, bytes, 0, bytes.length);
    }
  }
}
