package dev.optc.compiler.codegen.c;

import dev.optc.compiler.codegen.c.KernelConfig.Accumulation;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Everything that differs between the C-family targets, as named data (tinygrad's cstyle.py renderers):
 * qualifiers, thread indexing, storage conversions, vector accesses, and the policy a device of the
 * dialect follows unless it says otherwise. The structure of the generated code is the {@link CEmitter}'s
 * and the same for every dialect: no code asks which dialect it has, it reads these fields. The two
 * dialects are built field by field with {@link #builder}.
 *
 * @param name the target's name in comments and errors
 * @param fileExtension the extension of a source file of this dialect ({@code optc emit -o})
 * @param prelude text placed before everything else (pragmas, includes, type names)
 * @param kernel how a kernel function is declared, before its name
 * @param helper how a helper function is declared (device code), before its return type
 * @param global the qualifier of a pointer to device memory ("" where pointers need none)
 * @param restrict the restrict qualifier
 * @param local how a work-group-shared array is declared, before its type
 * @param constant how a constant table in the kernel source is declared, before its type (quantization maps)
 * @param table how a constant table that work-items index by their data is declared, before its type (the buckets
 *     and midpoints of quantized codes): where neighbouring work-items read different entries
 * @param groupId the index of this work-group / thread block
 * @param localId the index of this work-item in its group
 * @param localSize the size of a work-group
 * @param globalId the global index of this work-item (for one-dimensional launches)
 * @param numGroups the number of work-groups / thread blocks launched
 * @param barrier a work-group barrier on local memory
 * @param ushort the 16-bit unsigned type (bf16 storage)
 * @param ubyte the 8-bit unsigned type (the codes of q8 and q4 states)
 * @param halfType the storage type of an f16 state
 * @param floatBits reinterprets a float's bits as an unsigned int: a format with one %s
 * @param bitsFloat reinterprets an unsigned int's bits as a float: a format with one %s
 * @param loadHalf reads element %2$s of f16 buffer %1$s as a float
 * @param storeHalf a statement storing float %3$s into element %2$s of f16 buffer %1$s, rounding to nearest
 *     even
 * @param floatMath suffix of single-precision math functions ("" for OpenCL's overloads, "f" for CUDA)
 * @param float4 builds a float4 from four comma-separated floats %s
 * @param load4 reads four floats from float pointer %s as a float4 (one 16-byte access)
 * @param store4 writes float4 %2$s to float pointer %1$s (one 16-byte access)
 * @param fp64Enable what a kernel source needs before it uses double (reductions accumulating in double)
 * @param accumulation policy: what reductions accumulate in on a device of this dialect that says nothing
 *     else (OpenCL: float, as double is an optional extension a device must report; CUDA: double, which
 *     every CUDA device has)
 * @param vectorWidth policy: elements per access in elementwise float32 phases unless the device says
 *     otherwise (CUDA: quads, half the memory instructions; OpenCL: 1, as PoCL vectorizes scalar loops itself)
 */
public record Dialect(
    String name,
    String fileExtension,
    String prelude,
    String kernel,
    String helper,
    String global,
    String restrict,
    String local,
    String constant,
    String table,
    String groupId,
    String localId,
    String localSize,
    String globalId,
    String numGroups,
    String barrier,
    String ushort,
    String ubyte,
    String halfType,
    String floatBits,
    String bitsFloat,
    String loadHalf,
    String storeHalf,
    String floatMath,
    String float4,
    String load4,
    String store4,
    String fp64Enable,
    Accumulation accumulation,
    int vectorWidth) {

  public Dialect {
    Stream.of(name, fileExtension, prelude, kernel, helper, global, restrict, local, constant, table, groupId,
        localId, localSize, globalId, numGroups, barrier, ushort, ubyte, halfType, floatBits, bitsFloat, loadHalf, storeHalf, floatMath,
        float4, load4, store4, fp64Enable, accumulation).forEach(Objects::requireNonNull);
    KernelConfig.checkVectorWidth(vectorWidth);
  }

  /** OpenCL C 1.2, as PoCL and the GPU vendors' drivers compile it. */
  public static final Dialect OPENCL = builder()
      .name("OpenCL C")
      .fileExtension(".cl")
      .prelude("// Exact float32 semantics: no contraction of a*b+c into fma, so results match the Java reference.\n"
          + "#pragma OPENCL FP_CONTRACT OFF\n")
      .kernel("__kernel void")
      .helper("static inline")
      .global("__global")
      .restrict("restrict")
      .local("__local")
      .constant("__constant")
      // Program-scope variables of OpenCL C 1.2 are __constant (at least 64 KB on a conformant device; a program's
      // bucket tables take about 12 KB per q8 map). On a GPU, a warp's __constant reads of different addresses
      // serialize, one address at a time.
      .table("__constant")
      .groupId("get_group_id(0)")
      .localId("get_local_id(0)")
      .localSize("get_local_size(0)")
      .globalId("get_global_id(0)")
      .numGroups("get_num_groups(0)")
      .barrier("barrier(CLK_LOCAL_MEM_FENCE)")
      .ushort("ushort")
      .ubyte("uchar")
      .halfType("half")
      .floatBits("as_uint(%s)")
      .bitsFloat("as_float(%s)")
      .loadHalf("vload_half(%2$s, %1$s)")
      .storeHalf("vstore_half_rte(%3$s, %2$s, %1$s)")
      .floatMath("")
      .float4("(float4) (%s)")
      .load4("vload4(0, %s)")
      .store4("vstore4(%2$s, 0, %1$s)")
      .fp64Enable("#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n")
      .accumulation(Accumulation.FLOAT)
      .vectorWidth(1)
      .build();

  /** CUDA C++ as NVRTC and nvcc compile it (built with --fmad=false for the same exactness). */
  public static final Dialect CUDA = builder()
      .name("CUDA C")
      .fileExtension(".cu")
      .prelude("#include <cuda_fp16.h>\n")
      .kernel("extern \"C\" __global__ void")
      .helper("static __device__ __forceinline__")
      .global("")
      .restrict("__restrict__")
      .local("__shared__")
      .constant("__constant__")
      // Global memory, cached in L1: a warp's reads of different entries are served per cache line, where the
      // __constant__ bank would serialize them, one address at a time (a block's codes differ from item to item).
      .table("__device__ const")
      .groupId("blockIdx.x")
      .localId("threadIdx.x")
      .localSize("blockDim.x")
      .globalId("(blockIdx.x * blockDim.x + threadIdx.x)")
      .numGroups("gridDim.x")
      .barrier("__syncthreads()")
      .ushort("unsigned short")
      .ubyte("unsigned char")
      .halfType("__half")
      .floatBits("__float_as_uint(%s)")
      .bitsFloat("__uint_as_float(%s)")
      .loadHalf("__half2float(%1$s[%2$s])")
      .storeHalf("%1$s[%2$s] = __float2half_rn(%3$s)")
      .floatMath("f")
      .float4("make_float4(%s)")
      .load4("*(const float4*) (%s)")
      .store4("*(float4*) (%1$s) = %2$s")
      .fp64Enable("")
      .accumulation(Accumulation.DOUBLE)
      .vectorWidth(4)
      .build();

  /** A pointer parameter: {@code __global float* restrict name} or {@code float* __restrict__ name}. */
  String pointer(String type, boolean readOnly, String name) {
    return pointer(type, readOnly, name, true);
  }

  /** A pointer parameter, without the restrict qualifier when {@code restricted} is false. */
  String pointer(String type, boolean readOnly, String name, boolean restricted) {
    return globalPrefix() + (readOnly ? "const " : "") + type + "* " + (restricted ? restrict + " " : "") + name;
  }

  /** The global qualifier and a space, or nothing where pointers need no qualifier. */
  String globalPrefix() {
    return global.isEmpty() ? "" : global + " ";
  }

  /** The single-precision version of C math function {@code fn}. */
  String math(String fn) {
    return fn + floatMath;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Builds a dialect field by field, so each value stands beside its name; every field must be set. */
  public static final class Builder {
    private String name;
    private String fileExtension;
    private String prelude;
    private String kernel;
    private String helper;
    private String global;
    private String restrict;
    private String local;
    private String constant;
    private String table;
    private String groupId;
    private String localId;
    private String localSize;
    private String globalId;
    private String numGroups;
    private String barrier;
    private String ushort;
    private String ubyte;
    private String halfType;
    private String floatBits;
    private String bitsFloat;
    private String loadHalf;
    private String storeHalf;
    private String floatMath;
    private String float4;
    private String load4;
    private String store4;
    private String fp64Enable;
    private Accumulation accumulation;
    private int vectorWidth;

    private Builder() {}

    public Builder name(String v) { name = v; return this; }
    public Builder fileExtension(String v) { fileExtension = v; return this; }
    public Builder prelude(String v) { prelude = v; return this; }
    public Builder kernel(String v) { kernel = v; return this; }
    public Builder helper(String v) { helper = v; return this; }
    public Builder global(String v) { global = v; return this; }
    public Builder restrict(String v) { restrict = v; return this; }
    public Builder local(String v) { local = v; return this; }
    public Builder constant(String v) { constant = v; return this; }
    public Builder table(String v) { table = v; return this; }
    public Builder groupId(String v) { groupId = v; return this; }
    public Builder localId(String v) { localId = v; return this; }
    public Builder localSize(String v) { localSize = v; return this; }
    public Builder globalId(String v) { globalId = v; return this; }
    public Builder numGroups(String v) { numGroups = v; return this; }
    public Builder barrier(String v) { barrier = v; return this; }
    public Builder ushort(String v) { ushort = v; return this; }
    public Builder ubyte(String v) { ubyte = v; return this; }
    public Builder halfType(String v) { halfType = v; return this; }
    public Builder floatBits(String v) { floatBits = v; return this; }
    public Builder bitsFloat(String v) { bitsFloat = v; return this; }
    public Builder loadHalf(String v) { loadHalf = v; return this; }
    public Builder storeHalf(String v) { storeHalf = v; return this; }
    public Builder floatMath(String v) { floatMath = v; return this; }
    public Builder float4(String v) { float4 = v; return this; }
    public Builder load4(String v) { load4 = v; return this; }
    public Builder store4(String v) { store4 = v; return this; }
    public Builder fp64Enable(String v) { fp64Enable = v; return this; }
    public Builder accumulation(Accumulation v) { accumulation = v; return this; }
    public Builder vectorWidth(int v) { vectorWidth = v; return this; }

    /** @throws NullPointerException a field was not set */
    public Dialect build() {
      return new Dialect(name, fileExtension, prelude, kernel, helper, global, restrict, local, constant, table,
          groupId, localId, localSize, globalId, numGroups, barrier, ushort, ubyte, halfType, floatBits, bitsFloat, loadHalf,
          storeHalf, floatMath, float4, load4, store4, fp64Enable, accumulation, vectorWidth);
    }
  }
}
