/**
 * Single-precision matrix products (GEMM) on well-kept BLAS libraries, bound through FFM: OpenBLAS on
 * host memory, CLBlast on OpenCL buffers, cuBLAS on CUDA buffers. Matrix-aware optimizers (Muon's
 * Newton–Schulz iteration) need products, and a hand-written GEMM is a year of tuning behind any of
 * these; the fused elementwise work around a product stays optc's own.
 *
 * <p>Every implementation takes the same {@link dev.optc.runtime.blas.Gemm} (row-major shapes and
 * transpose flags) and computes {@code C = alpha·op(A)·op(B) + beta·C}; with {@code beta = 0}, C is
 * overwritten and never read, NaN included. As in the OpenCL and CUDA packages, each library has a raw
 * layer ({@code *Raw}: one downcall per C function, exact C types) and an idiomatic one that checks
 * shapes and sizes before the call (a BLAS reading past a buffer crashes the JVM) and names every failed
 * status. A missing library never fails class loading: it is reported as a one-line reason that says
 * what to install ({@link dev.optc.runtime.blas.OpenBlas#unavailableReason()}, …). The JVM needs
 * {@code --enable-native-access=ALL-UNNAMED}, which the launcher and Surefire pass.
 */
package dev.optc.runtime.blas;
