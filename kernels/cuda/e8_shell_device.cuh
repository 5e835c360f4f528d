#pragma once
// Device helpers shared by the compressed E8 shell linear's kernels
// (e8_shell_linear.cu: prep / matvec / finish / decode; e8_shell_fused.cu: the
// single-launch op): activation loads and stores, the shared-memory block
// FWHT, block reductions, the signed-order decoder, the integer mma, and the
// launch helpers (dynamic shared memory, programmatic dependent launch).

#include <atomic>
#include <cstdint>
#include <utility>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kernels/cuda/e8_shell_linear.cuh"

namespace glq::kernels::cuda_launch::e8dev {

// Programmatic dependent launch enabled (defined in e8_shell_linear.cu).
bool e8_pdl_enabled();

// Raise a kernel's dynamic shared memory limit once per device (a host call
// that must not wait for the inside of a CUDA graph capture).
template <auto Kernel>
cudaError_t ensure_smem(int bytes) {
    static std::atomic<unsigned> done{0};
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    const unsigned bit = 1u << (dev & 31);
    if (done.load() & bit) return cudaSuccess;
    e = cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
    if (e == cudaSuccess) done.fetch_or(bit);
    return e;
}

// Programmatic dependent launch (sm_90): wait for the previous kernel's
// results / let the next kernel start its prologue. No-ops elsewhere.
__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

__device__ __forceinline__ float load_act(const void* x, E8Act act, size_t i) {
    switch (act) {
    case E8Act::f16: return __half2float(static_cast<const __half*>(x)[i]);
    case E8Act::bf16: return __bfloat162float(static_cast<const __nv_bfloat16*>(x)[i]);
    default: return static_cast<const float*>(x)[i];
    }
}

__device__ __forceinline__ void store_act(void* y, E8Act act, size_t i, float v) {
    switch (act) {
    case E8Act::f16: static_cast<__half*>(y)[i] = __float2half_rn(v); break;
    case E8Act::bf16: static_cast<__nv_bfloat16*>(y)[i] = __float2bfloat16_rn(v); break;
    default: static_cast<float*>(y)[i] = v;
    }
}

// One pass of the shared-memory FWHT: stages [lh0, lh0 + R) of `count`
// power-of-two blocks of size sz at stride `stride`, 2^R elements per thread
// in registers (the butterflies of those stages never leave the group of 2^R
// elements j·2^lh0 apart), then a barrier. The same butterflies in the same
// stage order as one stage at a time: the same bits, with ~R times fewer
// barriers, shared-memory round trips and index computations.
template <int R>
__device__ __forceinline__ void fwht_pass(float* s, int sz, int count, int stride, int lh0) {
    constexpr int E = 1 << R;
    const int lg = __ffs(sz) - 1 - R;  // log2 of the groups per block
    const int total = count << lg;
    for (int p = threadIdx.x; p < total; p += blockDim.x) {
        const int v = p >> lg, q = p & ((1 << lg) - 1);
        float* b = s + v * stride + ((q >> lh0) << (lh0 + R)) + (q & ((1 << lh0) - 1));
        float e[E];
        // The first pass's groups are contiguous: vector loads and stores
        // where aligned (scalar ones would conflict 8-way on the banks).
        const bool vec = R == 3 && lh0 == 0 && (reinterpret_cast<uintptr_t>(b) & 15) == 0;
        if (vec) {
            const float4 u = reinterpret_cast<const float4*>(b)[0], w = reinterpret_cast<const float4*>(b)[1];
            e[0] = u.x; e[1] = u.y; e[2] = u.z; e[3] = u.w;
            e[4 % E] = w.x; e[5 % E] = w.y; e[6 % E] = w.z; e[7 % E] = w.w;
        } else {
#pragma unroll
            for (int j = 0; j < E; ++j) e[j] = b[j << lh0];
        }
#pragma unroll
        for (int st = 0; st < R; ++st)
#pragma unroll
            for (int j = 0; j < E; ++j)
                if (!(j & (1 << st))) {
                    const float x = e[j], y = e[j | (1 << st)];
                    e[j] = x + y;
                    e[j | (1 << st)] = x - y;
                }
        if (vec) {
            reinterpret_cast<float4*>(b)[0] = make_float4(e[0], e[1 % E], e[2 % E], e[3 % E]);
            reinterpret_cast<float4*>(b)[1] = make_float4(e[4 % E], e[5 % E], e[6 % E], e[7 % E]);
        } else {
#pragma unroll
            for (int j = 0; j < E; ++j) b[j << lh0] = e[j];
        }
    }
    __syncthreads();
}

// In-place FWHT (unnormalised) of `count` power-of-two blocks of size sz at
// stride `stride` (s + k·stride), all threads: stages three at a time.
__device__ __forceinline__ void fwht_shared_multi(float* s, int sz, int count, int stride) {
    const int L = __ffs(sz) - 1;
    int lh = 0;
    for (; lh + 3 <= L; lh += 3) fwht_pass<3>(s, sz, count, stride, lh);
    if (L - lh == 2) fwht_pass<2>(s, sz, count, stride, lh);
    else if (L - lh == 1) fwht_pass<1>(s, sz, count, stride, lh);
}

// In-place FWHT (unnormalised) of one power-of-two block s[0, sz), all threads.
__device__ __forceinline__ void fwht_shared(float* s, int sz) { fwht_shared_multi(s, sz, 1, sz); }

// Where block k of a dimension's FWHT blocks starts.
__device__ __forceinline__ int block_offset(const E8Blocks& bl, int k) {
    int off = 0;
    for (int j = 0; j < k; ++j) off += bl.size[j];
    return off;
}

// In-place block FWHT (unnormalised) of s[0, n) over the blocks, all threads.
inline __device__ void block_fwht_shared(float* s, const E8Blocks& bl) {
    int off = 0;
    for (int k = 0; k < bl.count; ++k) {
        fwht_shared(s + off, bl.size[k]);
        off += bl.size[k];
    }
}

__device__ __forceinline__ float block_scale_of(const E8Blocks& bl, int i) {
    int off = 0;
    for (int k = 0; k < bl.count; ++k) {
        if (i < off + bl.size[k]) return rsqrtf(static_cast<float>(bl.size[k]));
        off += bl.size[k];
    }
    return 1.0f;
}

template <typename V, typename Op>
__device__ V block_reduce(V v, Op op, V* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();  // scratch may be in use by a previous reduction
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        V w = lane < nw ? scratch[lane] : V(0);
        for (int o = 16; o > 0; o >>= 1) w = op(w, __shfl_xor_sync(0xffffffffu, w, o));
        if (lane == 0) scratch[0] = w;
    }
    __syncthreads();
    return scratch[0];
}

// Eight activations of one 8-column group as 16-bit fixed point (q =
// rint(v·mul), clamped), split into the limbs the matvec reads as B fragments
// {hi even, hi odd, lo even, lo odd} (hi = q >> 8 signed, lo = q & 0xFF);
// adds Σq to qs. The prep kernel, the fused op and the rows op all use it.
__device__ __forceinline__ uint4 limb_group(const float (&v)[8], float mul, long long& qs) {
    uint32_t hi_e = 0, hi_o = 0, lo_e = 0, lo_o = 0;
#pragma unroll
    for (int t = 0; t < 8; ++t) {
        const int q = max(-32768, min(32767, __float2int_rn(v[t] * mul)));
        qs += q;
        const uint32_t hi = static_cast<uint32_t>(q >> 8) & 0xFFu, lo = static_cast<uint32_t>(q) & 0xFFu;
        const int sh = 8 * (t >> 1);
        if (t & 1) { hi_o |= hi << sh; lo_o |= lo << sh; }
        else { hi_e |= hi << sh; lo_e |= lo << sh; }
    }
    return make_uint4(hi_e, hi_o, lo_e, lo_o);
}

__device__ __forceinline__ uint32_t decode_word(const uint32_t* tab, uint32_t c) {
    // idx = c for c < P, c - P otherwise (c - P wraps above c when c < P).
    const uint32_t d = c - kE8SignedPairsDev;
    const uint32_t w = tab[min(c, d)];
    return d < kE8SignedPairsDev ? kE8NegateMaskDev - w : w;
}

// D += A·B for one m16n8k32 tile: A the code nibbles (u8, 0..12), B a limb of
// the activations (hi: s8, lo: u8), exact int32 accumulators.
__device__ __forceinline__ void mma_u8s8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_u8u8(int (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm("mma.sync.aligned.m16n8k32.row.col.s32.u8.u8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// One 64-column block of a warp's item (32 rows, one stage): the lane's 8
// codes `c` (layout in core/format/shell_gpu_layout.h) decode into the A
// fragments of two m16 tiles per k-step, limb(nt, ks) is the B fragment
// {hi_e, hi_o, lo_e, lo_o} of token tile nt at k-step ks, and two mma per
// tile and limb add into exact int32 sums. The matvec of both paths.
template <int NTILE, typename Limb>
__device__ __forceinline__ void mma_block(const uint4& c, const uint32_t* tab, const Limb& limb, int (&dh)[2][NTILE][4],
                                          int (&dl)[2][NTILE][4]) {
    const uint32_t words[4] = {c.x, c.y, c.z, c.w};
#pragma unroll
    for (int ks = 0; ks < 2; ++ks) {
        uint32_t A[2][4];
#pragma unroll
        for (int mt = 0; mt < 2; ++mt) {
            const uint32_t wd = words[2 * ks + mt];
            const uint32_t w0 = decode_word(tab, wd & 0xFFFFu), w1 = decode_word(tab, wd >> 16);
            A[mt][0] = w0 & 0x0F0F0F0Fu;
            A[mt][2] = (w0 >> 4) & 0x0F0F0F0Fu;
            A[mt][1] = w1 & 0x0F0F0F0Fu;
            A[mt][3] = (w1 >> 4) & 0x0F0F0F0Fu;
        }
#pragma unroll
        for (int nt = 0; nt < NTILE; ++nt) {
            const uint4 L = limb(nt, ks);
#pragma unroll
            for (int mt = 0; mt < 2; ++mt) {
                mma_u8s8(dh[mt][nt], A[mt], L.x, L.y);
                mma_u8u8(dl[mt][nt], A[mt], L.z, L.w);
            }
        }
    }
}

// The item's exact sums, handed to add(tok, row, hi, lo) per (token, row)
// inside the layer and the batch: the sums against the high and the low limb
// (their value is 256·hi + (uint32) lo). The three-kernel and fused paths add
// that into the int64 workspace, the rows op hi and lo into int32 shared
// memory (native shared atomics; 64-bit ones are CAS loops).
template <int NTILE, typename Add>
__device__ __forceinline__ void flush_item_to(const int (&dh)[2][NTILE][4], const int (&dl)[2][NTILE][4], int rt, int g,
                                              int t, int m, int ntok, const Add& add) {
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int nt = 0; nt < NTILE; ++nt)
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int row = rt * 32 + mt * 16 + g + (j >= 2 ? 8 : 0);
                const int tok = nt * 8 + 2 * t + (j & 1);
                if (row >= m || tok >= ntok) continue;
                add(tok, row, dh[mt][nt][j], dl[mt][nt][j]);
            }
}

// A warp's item: blocks [ka, kz) of one row tile and stage, cp the lane's codes
// of that (row tile, stage)'s block 0, limb(kb, nt, ks) the B fragments; U
// blocks of codes stay in flight per lane. The sums go to add (flush_item_to).
template <int NTILE, typename Limb, typename Add>
__device__ __forceinline__ void mma_item_to(const uint4* cp, int ka, int kz, const uint32_t* tab, const Limb& limb, int rt,
                                            int g, int t, int m, int ntok, const Add& add) {
    constexpr int U = NTILE >= 4 ? 2 : 4;
    int dh[2][NTILE][4], dl[2][NTILE][4];
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int nt = 0; nt < NTILE; ++nt)
#pragma unroll
            for (int j = 0; j < 4; ++j) { dh[mt][nt][j] = 0; dl[mt][nt][j] = 0; }
    uint4 pre[U];
#pragma unroll
    for (int u = 0; u < U; ++u) pre[u] = ka + u < kz ? __ldg(cp + static_cast<size_t>(ka + u) * 32) : make_uint4(0, 0, 0, 0);
    for (int kb = ka; kb < kz; kb += U) {
        uint4 cur[U];
#pragma unroll
        for (int u = 0; u < U; ++u) {
            cur[u] = pre[u];
            const int nx = kb + U + u;
            if (nx < kz) pre[u] = __ldg(cp + static_cast<size_t>(nx) * 32);
        }
#pragma unroll
        for (int u = 0; u < U; ++u) {
            if (kb + u >= kz) break;
            const int b = kb + u;
            mma_block<NTILE>(cur[u], tab, [&](int nt, int ks) { return limb(b, nt, ks); }, dh, dl);
        }
    }
    flush_item_to<NTILE>(dh, dl, rt, g, t, m, ntok, add);
}

// mma_item_to with the sums added into the workspace ws [tokens][S][m] (int64,
// integer atomics: the same result whatever order warps finish in).
template <int NTILE, typename Limb>
__device__ __forceinline__ void mma_item(const uint4* cp, int ka, int kz, const uint32_t* tab, const Limb& limb, int rt,
                                         int s, int g, int t, int m, int ntok, int S, unsigned long long* ws) {
    mma_item_to<NTILE>(cp, ka, kz, tab, limb, rt, g, t, m, ntok, [&](int tok, int row, int hi, int lo) {
        const long long v = 256LL * hi + static_cast<long long>(static_cast<uint32_t>(lo));
        atomicAdd(ws + (static_cast<size_t>(tok) * S + s) * m + row, static_cast<unsigned long long>(v));
    });
}

// block_fwht_shared of `count` vectors at stride `stride`: block by block,
// each block of every vector at once.
inline __device__ void block_fwht_shared_multi(float* s, const E8Blocks& bl, int count, int stride) {
    int off = 0;
    for (int k = 0; k < bl.count; ++k) {
        fwht_shared_multi(s + off, bl.size[k], count, stride);
        off += bl.size[k];
    }
}

// Launch with programmatic stream serialization where the device has it
// (sm_90): the kernel may start while the previous one ends, and waits for
// its results in pdl_wait().
template <typename... KArgs, typename... Args>
cudaError_t launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    if (e8_pdl_enabled()) {
        cfg.attrs = attr;
        cfg.numAttrs = 1;
    }
    return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

} // namespace glq::kernels::cuda_launch::e8dev
