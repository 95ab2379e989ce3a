/**
 * CUDA through the FFM API ({@code java.lang.foreign}): the driver API of {@code libcuda.so.1} and the
 * NVRTC runtime compiler bound directly, no JNI, no bundled natives.
 *
 * <p>Two layers, as for OpenCL. {@link dev.optc.runtime.cuda.CuRaw} (the driver) and
 * {@link dev.optc.runtime.cuda.NvrtcRaw} (the compiler) are the C APIs as they are: static final method
 * handles with the exact C types, named after the versioned symbols ({@code cuMemAlloc_v2}), no checks.
 * Everything else is the idiomatic layer: {@link dev.optc.runtime.cuda.CuDevice} describes a GPU
 * (nothing to close); {@link dev.optc.runtime.cuda.CuContext} holds a reference to its primary context,
 * in which {@link dev.optc.runtime.cuda.CuBuffer}, {@link dev.optc.runtime.cuda.CuStream},
 * {@link dev.optc.runtime.cuda.CuModule} and {@link dev.optc.runtime.cuda.CuEvent} are made, each
 * {@code AutoCloseable}; {@link dev.optc.runtime.cuda.CuFunction} launches a kernel from Java values;
 * {@link dev.optc.runtime.cuda.Nvrtc#compile} turns CUDA C++ into PTX. Every status is checked: a
 * failure is a {@link dev.optc.runtime.cuda.CuException} naming the call, the status
 * ({@link dev.optc.runtime.cuda.CuStatus}, {@link dev.optc.runtime.cuda.NvrtcStatus}) and what was
 * being done, with the JIT's or the compiler's log where there is one. Temporaries (out-parameters,
 * kernel argument values, staged host arrays) live in confined arenas for one call.
 *
 * <p>{@link dev.optc.runtime.cuda.Cuda#devices()} is the entry point that never throws; it is empty
 * where there is no NVIDIA driver, which is how the build passes on machines without a GPU. NVRTC needs
 * no GPU or driver: it is found as {@link dev.optc.runtime.cuda.NvrtcRaw} describes, or through
 * {@code $OPTC_NVRTC}.
 *
 * <p>The JVM needs {@code --enable-native-access=ALL-UNNAMED} (the {@code optc} launcher and Surefire
 * pass it); without it, JDK 25 warns on first use.
 */
package dev.optc.runtime.cuda;
