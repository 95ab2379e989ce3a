package dev.optc.runtime.java;

import com.palantir.javapoet.JavaFile;
import dev.optc.compiler.codegen.java.JavaEmitter;
import dev.optc.compiler.codegen.java.JavaStep;
import dev.optc.compiler.diag.InternalCompilerError;
import dev.optc.runtime.cache.ProgramCache;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import javax.tools.FileObject;
import javax.tools.ForwardingJavaFileManager;
import javax.tools.JavaFileManager;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;

/**
 * Compiles generated Java in memory with javax.tools and loads it. Classes are kept in the
 * {@link ProgramCache} under {@code java/}, keyed by the hash of the source, so that the CLI does not
 * run javac for a program it has compiled before.
 */
public final class JavaSourceCompiler {
  private static final ProgramCache<Class<?>> CACHE = new ProgramCache<>("java", ".classes");

  private JavaSourceCompiler() {}

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

  /** Forgets the classes loaded so far, so that the next load goes to the disk cache (tests). */
  public static void forgetLoaded() {
    CACHE.forget();
  }

  public static Class<?> load(JavaFile file) {
    var source = file.toString();
    var binaryName = file.packageName() + "." + file.typeSpec().name();
    return CACHE.get(ProgramCache.hash(source), payload -> {
      var classes = unpack(payload);
      if (classes == null) {
        throw new IllegalArgumentException("not a list of classes");
      }
      return defineAll(classes, binaryName);
    }, () -> {
      var classes = compile(binaryName, source);
      try {
        return new ProgramCache.Built<>(defineAll(classes, binaryName), pack(classes));
      } catch (ClassNotFoundException e) {
        throw new InternalCompilerError("generated class " + binaryName + " did not load", e);
      }
    });
  }

  private static Class<?> defineAll(Map<String, byte[]> classes, String binaryName) throws ClassNotFoundException {
    var loader = new BytesClassLoader(classes, JavaStep.class.getClassLoader());
    var type = loader.loadClass(binaryName);
    // Define the nested classes too, so that a bad one shows up here and not in the middle of a step.
    for (var name : classes.keySet()) {
      loader.loadClass(name);
    }
    return type;
  }

  /** A cache entry's payload: the number of classes, then each one's binary name, length and bytes. */
  static byte[] pack(Map<String, byte[]> classes) {
    var bytes = new ByteArrayOutputStream();
    try (var out = new DataOutputStream(bytes)) {
      out.writeInt(classes.size());
      for (var name : new TreeSet<>(classes.keySet())) {
        out.writeUTF(name);
        out.writeInt(classes.get(name).length);
        out.write(classes.get(name));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /** The classes of a payload {@link #pack} wrote; null if it is not one. */
  static Map<String, byte[]> unpack(byte[] payload) {
    try (var in = new DataInputStream(new ByteArrayInputStream(payload))) {
      int n = in.readInt();
      if (n <= 0 || n > 10_000) {
        return null;
      }
      var classes = new HashMap<String, byte[]>();
      for (int i = 0; i < n; i++) {
        var name = in.readUTF();
        int length = in.readInt();
        if (length < 0 || length > in.available()) {
          return null;
        }
        classes.put(name, in.readNBytes(length));
      }
      return in.available() == 0 ? classes : null;
    } catch (IOException e) {
      return null;
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
      var options = new java.util.ArrayList<>(List.of("--release", "25", "-proc:none", "-g:none", "-classpath",
          System.getProperty("java.class.path")));
      if (source.contains("import " + JavaEmitter.VECTOR_MODULE + ".")) {
        // Vector loops (JavaEmitter): javac resolves the incubator module only when asked to.
        options.addAll(List.of("--add-modules", JavaEmitter.VECTOR_MODULE));
      }
      var ok = javac.getTask(errors, manager, null, options, null, List.of(unit)).call();
      if (!ok) {
        // One line for the terminal; javac's whole output and the source go to the saved report.
        var first = errors.toString().lines().filter(l -> l.contains("error")).findFirst()
            .orElse("javac failed").strip();
        throw new InternalCompilerError("generated Java (" + binaryName + ", " + source.lines().count()
            + " lines) did not compile: " + first, null,
            "javac output:\n" + errors + "\ngenerated source:\n" + source);
      }
    } catch (IOException e) {
      throw new InternalCompilerError("in-memory compilation failed", e);
    }
    return out;
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
