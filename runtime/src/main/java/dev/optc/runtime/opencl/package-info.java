/**
 * OpenCL through the FFM API ({@code java.lang.foreign}): the ICD loader {@code libOpenCL.so.1} bound
 * directly, no JNI, no bundled natives.
 *
 * <p>Two layers. {@link dev.optc.runtime.opencl.ClRaw} is the C API as it is: static final method
 * handles with the exact C types, no checks. Everything else is the idiomatic layer: {@link
 * dev.optc.runtime.opencl.ClPlatform} and {@link dev.optc.runtime.opencl.ClDevice} describe the
 * hardware (nothing to close), while {@link dev.optc.runtime.opencl.ClContext}, {@link
 * dev.optc.runtime.opencl.ClQueue}, {@link dev.optc.runtime.opencl.ClBuffer}, {@link
 * dev.optc.runtime.opencl.ClProgram}, {@link dev.optc.runtime.opencl.ClKernel} and {@link
 * dev.optc.runtime.opencl.ClEvent} each own one reference to an OpenCL object and release it on
 * {@code close()}. Every status is checked: a failure is a {@link dev.optc.runtime.opencl.ClException}
 * naming the call, the status ({@link dev.optc.runtime.opencl.ClStatus}) and what was being done, and a
 * failed build a {@link dev.optc.runtime.opencl.ClBuildException} with the compiler's log. Temporaries
 * (out-parameters, argument values, staged host arrays) live in confined arenas for one call.
 *
 * <p>{@link dev.optc.runtime.opencl.OpenCl#platforms()} is the entry point that never throws; it is empty
 * where there is no OpenCL, which is how the build passes on machines without it.
 *
 * <p>The JVM needs {@code --enable-native-access=ALL-UNNAMED} (the {@code optc} launcher and Surefire
 * pass it); without it, JDK 25 warns on first use.
 */
package dev.optc.runtime.opencl;
