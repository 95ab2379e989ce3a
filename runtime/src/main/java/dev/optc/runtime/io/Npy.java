package dev.optc.runtime.io;

import dev.optc.runtime.AtomicFiles;
import dev.optc.runtime.OptcException;
import dev.optc.runtime.UserFiles;
import java.io.IOException;
import java.io.Serial;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Reader and writer for NumPy's {@code .npy} format (header versions 1.0, 2.0 and 3.0), as written
 * by {@code numpy.save}.
 *
 * <p>Only dense, C-ordered floating-point arrays are supported: {@code f4} natively, {@code f8} and
 * {@code f2} converted on read. Anything else is rejected with an {@link NpyException} whose one-line
 * message names the file, says what is wrong and what was expected. Writing produces exactly the
 * bytes {@code numpy.save} would (little-endian, version 1.0 header, data 64-byte aligned) and is
 * atomic: readers see either the old file or the complete new one.
 *
 * @see <a href="https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html">numpy.lib.format</a>
 */
public final class Npy {

    /** A float32 array in C (row-major) order; {@code shape} {@code ()} is a scalar with one element. */
    public record NpyArray(long[] shape, float[] data) {
        /**
         * The shape is copied (it is small and must stay consistent with the data); the data array is
         * shared, not copied, because it may be gigabytes.
         */
        public NpyArray {
            Objects.requireNonNull(data, "data");
            shape = checkShape(shape, data.length, "NpyArray");
        }

        /** A copy of the shape, so callers cannot make it disagree with {@link #data()}. */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Number of elements: the product of the shape, 1 for a scalar. */
        public long numel() {
            return data.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof NpyArray(var s, var d) && Arrays.equals(shape, s) && Arrays.equals(data, d);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
        }

        /** Shape only: printing a million floats into a log helps nobody. */
        @Override
        public String toString() {
            return "NpyArray[shape=" + formatShape(shape) + ", float32]";
        }
    }

    /** A float64 array in C (row-major) order, for golden files kept in double precision. */
    public record NpyArray64(long[] shape, double[] data) {
        /** As for {@link NpyArray}: the shape is copied, the data is shared. */
        public NpyArray64 {
            Objects.requireNonNull(data, "data");
            shape = checkShape(shape, data.length, "NpyArray64");
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public long numel() {
            return data.length;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof NpyArray64(var s, var d) && Arrays.equals(shape, s) && Arrays.equals(data, d);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
        }

        @Override
        public String toString() {
            return "NpyArray64[shape=" + formatShape(shape) + ", float64]";
        }
    }

    /**
     * A {@code .npy} file could not be read or written. Its message is one line that starts with the
     * file's path. It is an {@link IOException} so callers can handle all file trouble in one place.
     */
    public static final class NpyException extends IOException {
        @Serial
        private static final long serialVersionUID = 1L;

        public NpyException(String message) {
            super(message);
        }

        public NpyException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** numpy aligns the data to 64 bytes so that it can be memory-mapped and read with wide loads. */
    private static final int ARRAY_ALIGN = 64;
    /** numpy pads the header so the growing axis can be rewritten in place with up to 21 digits. */
    private static final int GROWTH_AXIS_MAX_DIGITS = 21;
    /** The largest array most JVMs will allocate. */
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;
    /** A real header is ~128 bytes; a huge length means a corrupt file, not a reason to allocate. */
    private static final long MAX_HEADER_BYTES = 1 << 20;
    /** Data moves through a buffer of this size, so any array size streams without a second full copy. */
    private static final int CHUNK_BYTES = 1 << 20;
    private static final Set<String> EXPECTED_KEYS = Set.of("descr", "fortran_order", "shape");

    private Npy() {}

    // ---------------------------------------------------------------------------------------------
    // Reading

    /** Reads a float32 array; float64 data is rounded to nearest float, float16 data widened exactly. */
    public static NpyArray readFloat32(Path path) throws NpyException {
        try (var ch = openForRead(path)) {
            var header = readHeader(path, ch, "float32");
            var data = new float[header.numel()];
            readData(path, ch, header, floatSink(data, header.dtype()));
            return new NpyArray(header.shape(), data);
        } catch (NpyException e) {
            throw e;
        } catch (IOException e) {
            throw new NpyException(path + ": cannot read: " + describe(e), e);
        }
    }

    /** The element type of a file as numpy names it ({@code float16}, {@code float32}, {@code float64}). */
    public static String elementType(Path path) throws NpyException {
        try (var ch = openForRead(path)) {
            return readHeader(path, ch, "float32").dtype().kind().numpyName;
        } catch (NpyException e) {
            throw e;
        } catch (IOException e) {
            throw new NpyException(path + ": cannot read: " + describe(e), e);
        }
    }

    /** Reads a float64 array; float32 and float16 data are widened exactly. */
    public static NpyArray64 readFloat64(Path path) throws NpyException {
        try (var ch = openForRead(path)) {
            var header = readHeader(path, ch, "float64");
            var data = new double[header.numel()];
            readData(path, ch, header, doubleSink(data, header.dtype()));
            return new NpyArray64(header.shape(), data);
        } catch (NpyException e) {
            throw e;
        } catch (IOException e) {
            throw new NpyException(path + ": cannot read: " + describe(e), e);
        }
    }

    private static FileChannel openForRead(Path path) throws NpyException {
        Objects.requireNonNull(path, "path");
        // Opening a FIFO blocks until a writer comes, and a device streams forever: look before opening.
        var why = UserFiles.notRegular(path);
        if (why != null) {
            throw new NpyException(path + ": " + why + (why.startsWith("cannot") ? "" : "; expected a .npy file"));
        }
        try {
            return FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new NpyException(path + ": cannot open for reading: " + describe(e), e);
        }
    }

    private enum Kind {
        F2(2, "float16"),
        F4(4, "float32"),
        F8(8, "float64");

        final int size;
        final String numpyName;

        Kind(int size, String numpyName) {
            this.size = size;
            this.numpyName = numpyName;
        }
    }

    private record Dtype(String descr, Kind kind, ByteOrder order) {}

    private record Header(Dtype dtype, long[] shape, int numel, long dataOffset) {}

    /**
     * Reads and validates everything before the data, including that the file holds exactly the
     * bytes the header promises: checking the size up front means a corrupt header can neither make
     * us allocate a huge array nor leave it half-filled.
     */
    private static Header readHeader(Path path, FileChannel ch, String target) throws IOException {
        long size = ch.size();
        if (size == 0) {
            throw fail(path, "file is empty; expected a .npy file starting with the magic string \\x93NUMPY");
        }
        var prelude = ByteBuffer.allocate((int) Math.min(size, 12)).order(ByteOrder.LITTLE_ENDIAN);
        readFully(path, ch, prelude, 0);
        prelude.flip();
        for (int i = 0; i < Math.min(prelude.limit(), MAGIC.length); i++) {
            if (prelude.get(i) != MAGIC[i]) {
                throw fail(path, badMagic(prelude));
            }
        }
        if (prelude.limit() < 10) {
            throw fail(path, "file is truncated: it has " + size
                    + " bytes but a .npy preamble (magic, version, header length) needs at least 10");
        }
        int major = prelude.get(6) & 0xff;
        int minor = prelude.get(7) & 0xff;
        if (minor != 0 || major < 1 || major > 3) {
            throw fail(path, ".npy format version " + major + "." + minor
                    + " is not supported; expected version 1.0, 2.0 or 3.0");
        }
        int prefix = major == 1 ? 10 : 12;
        if (prelude.limit() < prefix) {
            throw fail(path, "file is truncated: it has " + size + " bytes but a version " + major
                    + ".0 preamble needs " + prefix);
        }
        long headerLength = major == 1 ? prelude.getShort(8) & 0xffffL : prelude.getInt(8) & 0xffffffffL;
        if (headerLength > MAX_HEADER_BYTES) {
            throw fail(path, "header length " + headerLength + " is implausibly large (corrupt file?); expected at most "
                    + MAX_HEADER_BYTES + " bytes");
        }
        if (prefix + headerLength > size) {
            throw fail(path, "file is truncated: the header needs " + headerLength + " bytes after offset " + prefix
                    + " but the file has only " + size + " bytes");
        }
        var headerBytes = ByteBuffer.allocate((int) headerLength);
        readFully(path, ch, headerBytes, prefix);
        headerBytes.flip();
        String text = decodeHeader(path, headerBytes, major);

        var dict = new LiteralParser(path, text).parseHeaderDict();
        var dtype = parseDtype(path, dict.get("descr"), target);
        if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
            throw fail(path, "header 'fortran_order' is " + repr(dict.get("fortran_order")) + "; expected True or False");
        }
        if (fortran) {
            throw fail(path, "fortran_order=True is not supported; expected a C-ordered array"
                    + " (save np.ascontiguousarray(arr) instead)");
        }
        long[] shape = parseShape(path, dict.get("shape"));
        int numel = (int) elementCount(shape); // parseShape has bounded it by MAX_ELEMENTS

        long dataOffset = prefix + headerLength;
        long expected = dataOffset + (long) numel * dtype.kind().size;
        String what = "shape " + formatShape(shape) + " of '" + dtype.descr() + "' needs " + (expected - dataOffset)
                + " data bytes after the " + dataOffset + "-byte header";
        if (size < expected) {
            throw fail(path, "file is truncated: " + what + " but only " + (size - dataOffset) + " are present");
        }
        if (size > expected) {
            throw fail(path, "file has " + (size - expected) + " unexpected trailing bytes: " + what
                    + ", so the file should be " + expected + " bytes, not " + size);
        }
        return new Header(dtype, shape, numel, dataOffset);
    }

    private static String badMagic(ByteBuffer prelude) {
        var first = new byte[Math.min(prelude.limit(), 8)];
        prelude.get(0, first);
        String hint = "";
        if (first.length >= 2 && first[0] == 'P' && first[1] == 'K') {
            hint = " (it looks like a zip archive, e.g. .npz or torch.save: save a single array with numpy.save)";
        } else if (first.length >= 1 && first[0] == (byte) 0x80) {
            hint = " (it looks like a Python pickle: save the array with numpy.save)";
        }
        return "not a .npy file: it starts with bytes " + HexFormat.ofDelimiter(" ").formatHex(first)
                + " but a .npy file starts with \\x93NUMPY (93 4e 55 4d 50 59)" + hint;
    }

    /** Versions 1.0 and 2.0 store the header as latin-1, version 3.0 as UTF-8 (numpy NEP 1). */
    private static String decodeHeader(Path path, ByteBuffer bytes, int major) throws NpyException {
        if (major < 3) {
            return StandardCharsets.ISO_8859_1.decode(bytes).toString();
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new NpyException(path + ": version 3.0 header is not valid UTF-8; expected a UTF-8 Python dict literal", e);
        }
    }

    private static Dtype parseDtype(Path path, Object descr, String target) throws NpyException {
        String advice = "; expected " + target + " (float16, float32 and float64 are also accepted): save the array as np."
                + target + " with arr.astype(np." + target + ")";
        if (!(descr instanceof String s)) {
            String what = descr instanceof List<?> ? "a structured dtype " : "";
            throw fail(path, "dtype " + what + truncate(repr(descr)) + " is not supported" + advice);
        }
        // '|' ("byte order not applicable"), '=' and no prefix all mean native order, as in np.dtype().
        var order = switch (s.isEmpty() ? ' ' : s.charAt(0)) {
            case '<' -> ByteOrder.LITTLE_ENDIAN;
            case '>' -> ByteOrder.BIG_ENDIAN;
            default -> ByteOrder.nativeOrder();
        };
        var kind = switch (s.isEmpty() || "<>|=".indexOf(s.charAt(0)) < 0 ? s : s.substring(1)) {
            case "f2" -> Kind.F2;
            case "f4" -> Kind.F4;
            case "f8" -> Kind.F8;
            default -> null;
        };
        if (kind == null) {
            throw fail(path, "dtype " + truncate(repr(s)) + dtypeName(s) + " is not supported" + advice);
        }
        return new Dtype(s, kind, order);
    }

    /** " (int64)" for "<i8" and the like, so the message says what the user actually saved. */
    private static String dtypeName(String descr) {
        String code = descr.isEmpty() || "<>|=".indexOf(descr.charAt(0)) < 0 ? descr : descr.substring(1);
        if (code.isEmpty()) {
            return "";
        }
        int bits;
        try {
            bits = 8 * Integer.parseInt(code.substring(1));
        } catch (NumberFormatException e) {
            bits = 0; // 'O', 'M8[ns]', ...: the size is absent or not a plain number
        }
        String name = switch (code.charAt(0)) {
            case 'i' -> bits > 0 ? "int" + bits : null;
            case 'u' -> bits > 0 ? "uint" + bits : null;
            case 'f' -> bits > 0 ? "float" + bits : null;
            case 'c' -> bits > 0 ? "complex" + bits : null;
            case 'b', '?' -> "bool";
            case 'U' -> "unicode string";
            case 'S', 'a' -> "bytes";
            case 'O' -> "Python object";
            case 'V' -> "raw bytes, e.g. bfloat16";
            case 'M' -> "datetime64";
            case 'm' -> "timedelta64";
            default -> null;
        };
        return name == null ? "" : " (" + name + ")";
    }

    private static long[] parseShape(Path path, Object value) throws NpyException {
        String expected = "; expected a tuple of non-negative integers such as (3, 4), (5,) or ()";
        List<?> dims = switch (value) {
            case Tuple(var items) -> items;
            case List<?> items -> items; // numpy insists on a tuple; a list is unambiguous, so accept it
            case null, default -> throw fail(path, "header 'shape' is " + truncate(repr(value)) + expected);
        };
        var shape = new long[dims.size()];
        // BigInteger, so that an absurd shape is reported as such instead of silently overflowing.
        var product = BigInteger.ONE;
        for (int i = 0; i < shape.length; i++) {
            if (!(dims.get(i) instanceof BigInteger dim) || dim.signum() < 0) {
                throw fail(path, "header 'shape' is " + truncate(repr(value)) + expected);
            }
            product = product.multiply(dim);
            shape[i] = dim.bitLength() < 64 ? dim.longValue() : Long.MAX_VALUE; // only matters if product is 0
        }
        if (product.compareTo(BigInteger.valueOf(MAX_ELEMENTS)) > 0) {
            throw fail(path, "shape " + truncate(repr(value)) + " has " + product + " elements; expected at most "
                    + MAX_ELEMENTS + ", the most a Java array can hold (split the array into smaller files)");
        }
        if (product.signum() == 0) {
            for (var dim : dims) {
                if (((BigInteger) dim).bitLength() >= 64) {
                    throw fail(path, "shape " + truncate(repr(value)) + " has a dimension that does not fit in a long");
                }
            }
        }
        return shape;
    }

    /** Receives one chunk of raw file data (positioned at 0, in file byte order) for elements [first, first+count). */
    @FunctionalInterface
    private interface ChunkSink {
        void accept(ByteBuffer chunk, int first, int count);
    }

    private static ChunkSink floatSink(float[] dst, Dtype dtype) {
        return switch (dtype.kind()) {
            case F4 -> (chunk, first, count) -> chunk.asFloatBuffer().get(dst, first, count);
            case F8 -> (chunk, first, count) -> {
                var src = chunk.asDoubleBuffer();
                for (int i = 0; i < count; i++) {
                    dst[first + i] = (float) src.get(i); // round to nearest even, as numpy's astype does
                }
            };
            case F2 -> (chunk, first, count) -> {
                var src = chunk.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    dst[first + i] = Float.float16ToFloat(src.get(i));
                }
            };
        };
    }

    private static ChunkSink doubleSink(double[] dst, Dtype dtype) {
        return switch (dtype.kind()) {
            case F8 -> (chunk, first, count) -> chunk.asDoubleBuffer().get(dst, first, count);
            case F4 -> (chunk, first, count) -> {
                var src = chunk.asFloatBuffer();
                for (int i = 0; i < count; i++) {
                    dst[first + i] = src.get(i);
                }
            };
            case F2 -> (chunk, first, count) -> {
                var src = chunk.asShortBuffer();
                for (int i = 0; i < count; i++) {
                    dst[first + i] = Float.float16ToFloat(src.get(i));
                }
            };
        };
    }

    private static void readData(Path path, FileChannel ch, Header header, ChunkSink sink) throws IOException {
        int itemSize = header.dtype().kind().size;
        int perChunk = CHUNK_BYTES / itemSize;
        var buffer = ByteBuffer.allocateDirect((int) Math.min((long) header.numel() * itemSize, CHUNK_BYTES))
                .order(header.dtype().order()); // the typed views created by the sinks inherit this order
        long position = header.dataOffset();
        for (int done = 0; done < header.numel(); ) {
            int count = Math.min(header.numel() - done, perChunk);
            buffer.clear().limit(count * itemSize);
            readFully(path, ch, buffer, position);
            buffer.flip();
            sink.accept(buffer, done, count);
            position += (long) count * itemSize;
            done += count;
        }
    }

    /**
     * Fills {@code buffer} (from its position 0) with the file's bytes starting at {@code position}. The
     * file size was checked up front, so end of file here means the file shrank while we read it.
     */
    private static void readFully(Path path, FileChannel ch, ByteBuffer buffer, long position) throws IOException {
        while (buffer.hasRemaining()) {
            long at = position + buffer.position();
            if (ch.read(buffer, at) < 0) {
                throw fail(path, "file is truncated: unexpected end of file at byte " + at
                        + " (was it modified while being read?)");
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Writing

    /** Writes {@code array} as little-endian float32, atomically. */
    public static void write(Path path, NpyArray array) throws NpyException {
        write(path, array.shape, array.data());
    }

    /**
     * Writes {@code data} with the given C-order {@code shape} as little-endian float32 ({@code '<f4'}),
     * byte-for-byte as {@code numpy.save} would. The file is replaced atomically.
     *
     * @throws IllegalArgumentException if the shape has a negative dimension or does not match the data length
     */
    public static void write(Path path, long[] shape, float[] data) throws NpyException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(data, "data");
        checkShape(shape, data.length, path.toString());
        writeAtomically(path, content(shape, data));
    }

    /** Writes {@code array} as little-endian float64, atomically. */
    public static void writeFloat64(Path path, NpyArray64 array) throws NpyException {
        writeFloat64(path, array.shape, array.data());
    }

    /** As {@link #write(Path, long[], float[])}, but float64 ({@code '<f8'}). */
    public static void writeFloat64(Path path, long[] shape, double[] data) throws NpyException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(data, "data");
        checkShape(shape, data.length, path.toString());
        writeAtomically(path, stream(header("<f8", shape), data.length, Double.BYTES,
                (chunk, first, count) -> chunk.asDoubleBuffer().put(data, first, count)));
    }

    /**
     * The preamble and header exactly as numpy 1.24..2.x writes them: keys sorted, spare spaces for the
     * growth axis, then spaces and a newline so that the data starts at a multiple of 64 bytes.
     */
    static byte[] header(String descr, long[] shape) {
        var dict = new StringBuilder()
                .append("{'descr': '").append(descr).append("', 'fortran_order': False, 'shape': ")
                .append(formatShape(shape)).append(", }");
        if (shape.length > 0) {
            dict.repeat(' ', Math.max(0, GROWTH_AXIS_MAX_DIGITS - Long.toString(shape[0]).length()));
        }
        int headerLength = dict.length() + 1; // + the final newline
        // Like numpy, pad by 1..64 (never 0) bytes: a whole block of padding when already aligned.
        int padding = ARRAY_ALIGN - (10 + headerLength) % ARRAY_ALIGN;
        // Version 1.0 stores the header length in 16 bits; only thousands of dimensions overflow it,
        // and then numpy falls back to 2.0 (32 bits), as do we.
        int major = headerLength + padding <= 0xffff ? 1 : 2;
        int prefix = major == 1 ? 10 : 12;
        if (major == 2) {
            padding = ARRAY_ALIGN - (prefix + headerLength) % ARRAY_ALIGN;
        }
        dict.repeat(' ', padding).append('\n');
        var text = dict.toString().getBytes(StandardCharsets.ISO_8859_1);
        var out = ByteBuffer.allocate(prefix + text.length).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            out.putShort((short) text.length);
        } else {
            out.putInt(text.length);
        }
        return out.put(text).array();
    }

    /** Fills {@code chunk} (little-endian, at position 0) with elements [first, first+count). */
    @FunctionalInterface
    private interface ChunkSource {
        void fill(ByteBuffer chunk, int first, int count);
    }

    /**
     * The bytes {@link #write(Path, long[], float[])} writes, for a caller that writes several files as
     * one ({@link AtomicFiles.Batch}): a simulation's result and trajectory are replaced together or not
     * at all.
     */
    public static AtomicFiles.Content content(long[] shape, float[] data) {
        Objects.requireNonNull(data, "data");
        checkShape(shape, data.length, "Npy.content");
        return stream(header("<f4", shape), data.length, Float.BYTES,
                (chunk, first, count) -> chunk.asFloatBuffer().put(data, first, count));
    }

    /**
     * Writes through {@link AtomicFiles}, the one writer of every optc file: a temporary next to the
     * target, forced to disk, renamed over it; never over anything but a regular file.
     */
    private static void writeAtomically(Path path, AtomicFiles.Content content) throws NpyException {
        try {
            AtomicFiles.write(path, content);
        } catch (OptcException e) {
            throw new NpyException(e.getMessage(), e);
        }
    }

    /** Streams the data through a buffer of {@link #CHUNK_BYTES}, so any array size needs no second full copy. */
    private static AtomicFiles.Content stream(byte[] header, int numel, int itemSize, ChunkSource source) {
        return ch -> {
            writeFully(ch, ByteBuffer.wrap(header));
            int perChunk = CHUNK_BYTES / itemSize;
            var buffer = ByteBuffer.allocateDirect((int) Math.min((long) numel * itemSize, CHUNK_BYTES))
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int done = 0; done < numel; ) {
                int count = Math.min(numel - done, perChunk);
                buffer.clear();
                source.fill(buffer, done, count); // writes through a typed view; buffer's position stays 0
                buffer.limit(count * itemSize);
                writeFully(ch, buffer);
                done += count;
            }
        };
    }

    private static void writeFully(FileChannel ch, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            ch.write(buffer);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers

    /** Validates a caller-supplied shape against the data length and returns a private copy. */
    private static long[] checkShape(long[] shape, int length, String what) {
        Objects.requireNonNull(shape, "shape");
        if (Arrays.stream(shape).anyMatch(dim -> dim < 0)) {
            throw new IllegalArgumentException(what + ": shape " + formatShape(shape) + " has a negative dimension");
        }
        // BigInteger: a shape like (2^32, 2^32) must not wrap around to a small, matching product.
        var product = Arrays.stream(shape).mapToObj(BigInteger::valueOf).reduce(BigInteger.ONE, BigInteger::multiply);
        if (!product.equals(BigInteger.valueOf(length))) {
            throw new IllegalArgumentException(
                    what + ": shape " + formatShape(shape) + " has " + product + " elements but data has " + length);
        }
        return shape.clone();
    }

    /** Element count of a shape already checked by {@link #parseShape}. */
    private static long elementCount(long[] shape) {
        long n = 1;
        for (long dim : shape) {
            if (dim == 0) {
                return 0;
            }
            n *= dim;
        }
        return n;
    }

    /** Python tuple syntax, as in numpy's header and messages: {@code ()}, {@code (5,)}, {@code (3, 4)}. */
    static String formatShape(long[] shape) {
        if (shape.length == 1) {
            return "(" + shape[0] + ",)";
        }
        var sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return sb.append(')').toString();
    }

    private static NpyException fail(Path path, String message) {
        return new NpyException(path + ": " + message);
    }

    /** A short reason for an I/O failure, without the stack of paths the JDK's messages repeat. */
    private static String describe(IOException e) {
        return switch (e) {
            case NoSuchFileException _ -> "no such file or directory";
            case AccessDeniedException _ -> "permission denied";
            case FileSystemException x when x.getReason() != null -> x.getReason();
            default -> Objects.requireNonNullElse(e.getMessage(), e.getClass().getSimpleName()).replace('\n', ' ');
        };
    }

    private static String truncate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    /** A Python tuple, distinct from a list so that messages echo what the file says. */
    private record Tuple(List<Object> items) {}

    /** Python's None. */
    private enum PyNone { NONE }

    /** Python-like repr of a parsed value, with control characters escaped so messages stay on one line. */
    private static String repr(Object value) {
        return switch (value) {
            case null -> "missing";
            case String s -> "'" + escape(s) + "'";
            case Boolean b -> b ? "True" : "False";
            case PyNone _ -> "None";
            case Tuple(var items) when items.size() == 1 -> "(" + repr(items.getFirst()) + ",)";
            case Tuple(var items) -> "(" + String.join(", ", items.stream().map(Npy::repr).toList()) + ")";
            case List<?> items -> "[" + String.join(", ", items.stream().map(Npy::repr).toList()) + "]";
            case Map<?, ?> map -> "{" + String.join(", ", map.entrySet().stream()
                    .map(e -> repr(e.getKey()) + ": " + repr(e.getValue())).toList()) + "}";
            default -> value.toString();
        };
    }

    private static String escape(String s) {
        var sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\\' -> sb.append("\\\\");
                case '\'' -> sb.append("\\'");
                default -> {
                    if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
                        sb.append(String.format("\\x%02x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }

    /**
     * Recursive-descent parser for the Python literal subset numpy writes: dicts, tuples, lists,
     * strings, integers (with Python 2's {@code L} suffix), True, False and None. numpy reads the
     * header with {@code ast.literal_eval}; this accepts the same well-formed headers, in any key
     * order and with any whitespace.
     */
    private static final class LiteralParser {
        /** Real headers nest two deep; a limit keeps "((((((..." from overflowing the stack. */
        private static final int MAX_DEPTH = 32;

        private final Path path;
        private final String text;
        private int pos;
        private int depth;

        LiteralParser(Path path, String text) {
            this.path = path;
            this.text = text;
        }

        Map<String, Object> parseHeaderDict() throws NpyException {
            skipWhitespace();
            if (pos >= text.length() || text.charAt(pos) != '{') {
                throw error("expected the header to be a Python dict literal starting with '{'");
            }
            @SuppressWarnings("unchecked")
            var dict = (Map<String, Object>) parseValue();
            skipWhitespace(); // numpy pads with spaces and a newline
            if (pos < text.length()) {
                throw error("unexpected text after the closing '}'");
            }
            for (var key : dict.keySet()) {
                if (!EXPECTED_KEYS.contains(key)) {
                    throw fail(path, "header has unexpected key " + repr(key)
                            + "; expected exactly the keys 'descr', 'fortran_order' and 'shape'");
                }
            }
            for (var key : List.of("descr", "fortran_order", "shape")) {
                if (!dict.containsKey(key)) {
                    throw fail(path, "header has no " + repr(key)
                            + " key; expected exactly the keys 'descr', 'fortran_order' and 'shape'");
                }
            }
            return dict;
        }

        private Object parseValue() throws NpyException {
            skipWhitespace();
            if (pos >= text.length()) {
                throw error("unexpected end of header, expected a value");
            }
            char c = text.charAt(pos);
            return switch (c) {
                case '{' -> parseDict();
                case '(' -> parseSequence(')');
                case '[' -> parseSequence(']');
                case '\'', '"' -> parseString();
                default -> {
                    if (c == '-' || c == '+' || isDigit(c)) {
                        yield parseInteger();
                    }
                    if (Character.isLetter(c) || c == '_') {
                        yield parseName();
                    }
                    throw error("unexpected character " + repr(String.valueOf(c)));
                }
            };
        }

        private Map<String, Object> parseDict() throws NpyException {
            enter();
            pos++; // '{'
            var dict = new LinkedHashMap<String, Object>();
            skipWhitespace();
            while (!tryConsume('}')) {
                int keyAt = pos;
                if (!(parseValue() instanceof String key)) {
                    pos = keyAt;
                    throw error("expected a quoted string as dict key");
                }
                skipWhitespace();
                if (!tryConsume(':')) {
                    throw error("expected ':' after key " + repr(key));
                }
                var value = parseValue();
                if (dict.put(key, value) != null) {
                    pos = keyAt;
                    throw error("duplicate key " + repr(key));
                }
                skipWhitespace();
                if (!tryConsume(',')) {
                    skipWhitespace();
                    if (!tryConsume('}')) {
                        throw error("expected ',' or '}'");
                    }
                    break;
                }
                skipWhitespace();
            }
            depth--;
            return dict;
        }

        /** A tuple (or a parenthesised value, as in Python: {@code (5)} is 5, {@code (5,)} a tuple) or list. */
        private Object parseSequence(char close) throws NpyException {
            enter();
            pos++; // '(' or '['
            var items = new ArrayList<Object>();
            boolean sawComma = false;
            skipWhitespace();
            while (!tryConsume(close)) {
                items.add(parseValue());
                skipWhitespace();
                if (tryConsume(',')) {
                    sawComma = true;
                    skipWhitespace();
                } else if (tryConsume(close)) {
                    break;
                } else {
                    throw error("expected ',' or '" + close + "'");
                }
            }
            depth--;
            if (close == ']') {
                return items;
            }
            return items.size() == 1 && !sawComma ? items.getFirst() : new Tuple(items);
        }

        private String parseString() throws NpyException {
            int start = pos;
            char quote = text.charAt(pos++);
            var sb = new StringBuilder();
            while (pos < text.length()) {
                char c = text.charAt(pos++);
                if (c == quote) {
                    return sb.toString();
                }
                if (c == '\n') {
                    break;
                }
                if (c == '\\' && pos < text.length()) {
                    char e = text.charAt(pos++);
                    switch (e) {
                        case 'n' -> sb.append('\n');
                        case 't' -> sb.append('\t');
                        case '\\', '\'', '"' -> sb.append(e);
                        default -> sb.append('\\').append(e); // Python keeps unknown escapes verbatim
                    }
                } else {
                    sb.append(c);
                }
            }
            pos = start;
            throw error("unterminated string");
        }

        private BigInteger parseInteger() throws NpyException {
            int start = pos;
            if (text.charAt(pos) == '-' || text.charAt(pos) == '+') {
                pos++;
            }
            int digits = pos;
            while (pos < text.length() && isDigit(text.charAt(pos))) {
                pos++;
            }
            if (pos == digits) {
                pos = start;
                throw error("expected an integer");
            }
            var value = new BigInteger(text.substring(start, pos));
            if (pos < text.length() && (text.charAt(pos) == 'L' || text.charAt(pos) == 'l')) {
                pos++; // Python 2 long, as in headers written by numpy under Python 2
            }
            if (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '.')) {
                pos = start;
                throw error("expected an integer");
            }
            return value;
        }

        private Object parseName() throws NpyException {
            int start = pos;
            while (pos < text.length() && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '_')) {
                pos++;
            }
            var name = text.substring(start, pos);
            return switch (name) {
                case "True" -> Boolean.TRUE;
                case "False" -> Boolean.FALSE;
                case "None" -> PyNone.NONE;
                default -> {
                    pos = start;
                    throw error("expected a literal, found the name " + truncate(repr(name)));
                }
            };
        }

        private void enter() throws NpyException {
            if (++depth > MAX_DEPTH) {
                throw error("nesting deeper than " + MAX_DEPTH);
            }
        }

        private boolean tryConsume(char c) {
            if (pos < text.length() && text.charAt(pos) == c) {
                pos++;
                return true;
            }
            return false;
        }

        private void skipWhitespace() {
            while (pos < text.length() && isWhitespace(text.charAt(pos))) {
                pos++;
            }
        }

        private static boolean isWhitespace(char c) {
            return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == 0x0b;
        }

        private static boolean isDigit(char c) {
            return c >= '0' && c <= '9';
        }

        /** "malformed header: <what> at offset N in {...}", with the header echoed (escaped, trimmed). */
        private NpyException error(String what) {
            String shown = text.stripTrailing();
            int from = Math.max(0, Math.min(pos, shown.length()) - 40);
            int to = Math.min(shown.length(), from + 80);
            String excerpt = (from > 0 ? "..." : "") + escape(shown.substring(from, to)) + (to < shown.length() ? "..." : "");
            return fail(path, "malformed header: " + what + " at offset " + pos + " in " + excerpt
                    + "; expected a dict like {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
        }
    }
}
