package dev.optc.compiler.codegen.c;

/**
 * What differs between the C-family targets (tinygrad's cstyle.py idea): qualifiers, thread indexing and
 * a few intrinsics. The structure of the generated code is the {@link CEmitter}'s and is the same for all.
 *
 * @param name the target's name in comments and errors
 * @param prelude text placed before everything else (pragmas, includes, type names)
 * @param kernel how a kernel function is declared, before its name
 * @param global the qualifier of a pointer to device memory
 * @param restrict the restrict qualifier
 * @param local how a work-group-shared array is declared, before its type
 * @param groupId the index of this work-group / thread block
 * @param localId the index of this work-item in its group
 * @param localSize the size of a work-group
 * @param globalId the global index of this work-item (for one-dimensional launches)
 * @param barrier a work-group barrier on local memory
 * @param ushort the 16-bit unsigned type (bf16 and f16 storage)
 * @param floatBits reinterprets a float's bits as an unsigned int: a format with one %s
 * @param bitsFloat reinterprets an unsigned int's bits as a float: a format with one %s
 * @param floatMath suffix of single-precision math functions ("" for OpenCL's overloads, "f" for CUDA)
 * @param halfType the storage type of an f16 state
 * @param loadHalf reads element %2$s of f16 buffer %1$s as a float
 * @param helper how a helper function is declared (device code), before its return type
 * @param storeHalf a statement storing float %3$s into element %2$s of f16 buffer %1$s, rounding to nearest
 *     even
 * @param numGroups the number of work-groups / thread blocks launched
 * @param load4 reads four floats from float pointer %s as a float4 (one 16-byte access)
 * @param store4 writes float4 %2$s to float pointer %1$s (one 16-byte access)
 * @param float4 builds a float4 from four comma-separated floats %s
 * @param fp64Enable what a kernel source needs before it uses double (reductions accumulating in double)
 * @param quadsByDefault policy: whether elementwise float32 phases work in quads (16-byte accesses) unless
 *     the caller says otherwise (CUDA: it halves the memory instructions; PoCL vectorizes scalar loops itself)
 */
public record Dialect(
    String name,
    String prelude,
    String kernel,
    String global,
    String restrict,
    String local,
    String groupId,
    String localId,
    String localSize,
    String globalId,
    String barrier,
    String ushort,
    String floatBits,
    String bitsFloat,
    String floatMath,
    String halfType,
    String loadHalf,
    String storeHalf,
    String helper,
    String numGroups,
    String load4,
    String store4,
    String float4,
    String fp64Enable,
    boolean quadsByDefault) {

  /** OpenCL C 1.2, as PoCL and the GPU vendors' drivers compile it. */
  public static final Dialect OPENCL = new Dialect(
      "OpenCL C",
      "// Exact float32 semantics: no contraction of a*b+c into fma, so results match the Java reference.\n"
          + "#pragma OPENCL FP_CONTRACT OFF\n",
      "__kernel void",
      "__global",
      "restrict",
      "__local",
      "get_group_id(0)",
      "get_local_id(0)",
      "get_local_size(0)",
      "get_global_id(0)",
      "barrier(CLK_LOCAL_MEM_FENCE)",
      "ushort",
      "as_uint(%s)",
      "as_float(%s)",
      "",
      "half",
      "vload_half(%2$s, %1$s)",
      "vstore_half_rte(%3$s, %2$s, %1$s)",
      "static inline",
      "get_num_groups(0)",
      "vload4(0, %s)",
      "vstore4(%2$s, 0, %1$s)",
      "(float4) (%s)",
      "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n",
      false);

  /** CUDA C++ as NVRTC and nvcc compile it (built with --fmad=false for the same exactness). */
  public static final Dialect CUDA = new Dialect(
      "CUDA C",
      "#include <cuda_fp16.h>\n",
      "extern \"C\" __global__ void",
      "",
      "__restrict__",
      "__shared__",
      "blockIdx.x",
      "threadIdx.x",
      "blockDim.x",
      "(blockIdx.x * blockDim.x + threadIdx.x)",
      "__syncthreads()",
      "unsigned short",
      "__float_as_uint(%s)",
      "__uint_as_float(%s)",
      "f",
      "__half",
      "__half2float(%1$s[%2$s])",
      "%1$s[%2$s] = __float2half_rn(%3$s)",
      "static __device__ __forceinline__",
      "gridDim.x",
      "*(const float4*) (%s)",
      "*(float4*) (%1$s) = %2$s",
      "make_float4(%s)",
      "",
      true);

  /** A pointer parameter: {@code __global float* restrict name} or {@code float* __restrict__ name}. */
  String pointer(String type, boolean readOnly, String name) {
    return pointer(type, readOnly, name, true);
  }

  /** A pointer parameter, without the restrict qualifier when {@code restricted} is false. */
  String pointer(String type, boolean readOnly, String name, boolean restricted) {
    var q = global.isEmpty() ? "" : global + " ";
    return q + (readOnly ? "const " : "") + type + "* " + (restricted ? restrict + " " : "") + name;
  }

  String math(String fn) {
    return fn + floatMath;
  }
}
