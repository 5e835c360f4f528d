// CUDA kernels of the compressed E8 shell linear (see e8_shell_linear.cuh).

#include "kernels/cuda/e8_shell_linear.cuh"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include <cuda_bf16.h>

namespace glq::kernels::cuda_launch {
namespace {

constexpr int kPrepThreads = 1024;
constexpr int kFinishThreads = 1024;

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

std::atomic<int> g_pdl{-1};  // -1: from GLQ_E8_PDL (default on) and the device

bool e8_pdl_enabled() {
    const int forced = g_pdl.load();
    if (forced >= 0) return forced != 0;
    static const bool on = [] {
        const char* v = std::getenv("GLQ_E8_PDL");
        if (v && std::string(v) == "0") return false;
        int dev = 0, major = 0;
        if (cudaGetDevice(&dev) != cudaSuccess) return false;
        if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) return false;
        return major >= 9;
    }();
    return on;
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

// In-place block FWHT (unnormalised) of s[0, n) over the blocks, all threads.
__device__ void block_fwht_shared(float* s, const E8Blocks& bl) {
    int off = 0;
    for (int k = 0; k < bl.count; ++k) {
        const int sz = bl.size[k];
        for (int lh = 0; (1 << lh) < sz; ++lh) {
            const int h = 1 << lh;
            for (int p = threadIdx.x; p < sz / 2; p += blockDim.x) {
                const int i = off + ((p >> lh) << (lh + 1)) + (p & (h - 1));
                const float a = s[i], c = s[i + h];
                s[i] = a + c;
                s[i + h] = a - c;
            }
            __syncthreads();
        }
        off += sz;
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

// One CTA per token.
__global__ void __launch_bounds__(kPrepThreads) prep_kernel(const void* __restrict__ x, E8Act act,
                                                            const __half* __restrict__ sv, int n, int transform,
                                                            E8Blocks bl, int n8p, uint32_t* __restrict__ limbs,
                                                            int* __restrict__ exps, long long* __restrict__ qsum) {
    extern __shared__ float sx[];
    __shared__ float fscratch[32];
    __shared__ long long lscratch[32];
    pdl_wait();     // x is the previous kernel's
    pdl_trigger();  // the matvec may fill its table meanwhile
    const int b = blockIdx.x;
    const size_t base = static_cast<size_t>(b) * n;
    float amax = 0.0f;
    bool finite = true;
    if (transform) {
        // Every load in flight before the first store (n <= 16 per thread).
        constexpr int kPer = kE8PrepMaxDim / kPrepThreads;
        float v[kPer];
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int i = threadIdx.x + k * kPrepThreads;
            v[k] = i < n ? load_act(x, act, base + i) * __half2float(sv[i]) : 0.0f;
        }
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int i = threadIdx.x + k * kPrepThreads;
            if (i < n) sx[i] = v[k];
        }
        __syncthreads();
        block_fwht_shared(sx, bl);
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            const float v = sx[i] * block_scale_of(bl, i);
            sx[i] = v;
            finite = finite && isfinite(v);
            amax = fmaxf(amax, fabsf(v));
        }
    } else {
        for (int i = threadIdx.x; i < n; i += blockDim.x) {
            const float v = load_act(x, act, base + i);
            finite = finite && isfinite(v);
            amax = fmaxf(amax, fabsf(v));
        }
    }
    amax = block_reduce(amax, [](float p, float q) { return fmaxf(p, q); }, fscratch);
    const float bad = block_reduce(finite ? 0.0f : 1.0f, [](float p, float q) { return fmaxf(p, q); }, fscratch);
    int e = 0;
    if (amax > 0.0f) frexpf(amax, &e);  // amax < 2^e
    const float mul = ldexpf(1.0f, 15 - e);
    long long qs = 0;
    uint4* out = reinterpret_cast<uint4*>(limbs) + static_cast<size_t>(b) * n8p;
    for (int col = threadIdx.x; col < n8p; col += blockDim.x) {
        uint32_t hi_e = 0, hi_o = 0, lo_e = 0, lo_o = 0;
        if (col * 8 < n && bad == 0.0f) {
            for (int t = 0; t < 8; ++t) {
                const int i = col * 8 + t;
                const float v = transform ? sx[i] : load_act(x, act, base + i);
                const int q = max(-32768, min(32767, __float2int_rn(v * mul)));
                qs += q;
                const uint32_t hi = static_cast<uint32_t>(q >> 8) & 0xFFu, lo = static_cast<uint32_t>(q) & 0xFFu;
                const int sh = 8 * (t >> 1);
                if (t & 1) { hi_o |= hi << sh; lo_o |= lo << sh; }
                else { hi_e |= hi << sh; lo_e |= lo << sh; }
            }
        }
        out[col] = make_uint4(hi_e, hi_o, lo_e, lo_o);
    }
    qs = block_reduce(qs, [](long long p, long long q) { return p + q; }, lscratch);
    if (threadIdx.x == 0) {
        exps[b] = bad != 0.0f ? kE8TokenInvalid : e;
        qsum[b] = qs;
    }
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

constexpr int kSmemThreads = 512, kGlobalThreads = 256;

// One warp per item (32 rows, one stage, one K split of whole 64-column
// blocks), for 8·NTILE tokens: per block one 16-byte code load per lane, per
// k-step the four codes decode into the A fragments of two m16 tiles, the
// tokens' limbs are the B fragments (one 16-byte L1 load per token tile), and
// two mma per tile and limb accumulate exact int32 sums.
template <int NTILE, bool SMEM>
__global__ void __launch_bounds__(SMEM ? kSmemThreads : kGlobalThreads, 1) matvec_kernel(E8MatvecArgs a) {
    extern __shared__ uint4 stab4[];
    const uint32_t* tab = a.table;
    if constexpr (SMEM) {
        // All of a thread's loads in flight at once, then the stores. The
        // table does not depend on the previous kernel: this runs while it ends.
        const uint4* gt = reinterpret_cast<const uint4*>(a.table);
        constexpr int kRows4 = static_cast<int>(kE8SignedRowsDev / 4);
        constexpr int kPer = (kRows4 + kSmemThreads - 1) / kSmemThreads;
        uint4 v[kPer];
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int i = threadIdx.x + k * kSmemThreads;
            if (i < kRows4) v[k] = __ldg(gt + i);
        }
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int i = threadIdx.x + k * kSmemThreads;
            if (i < kRows4) stab4[i] = v[k];
        }
        __syncthreads();
        tab = reinterpret_cast<const uint32_t*>(stab4);
    }
    pdl_wait();  // the limbs are the prep kernel's
    pdl_trigger();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int items = a.RT * a.S * a.nsplit;
    const uint4* limbs = reinterpret_cast<const uint4*>(a.limbs);
    const uint4* lp[NTILE];
#pragma unroll
    for (int nt = 0; nt < NTILE; ++nt)  // a padding token reads a real one; its columns are not stored
        lp[nt] = limbs + static_cast<size_t>(a.tok0 + min(nt * 8 + g, a.ntok - 1)) * a.n8p;
    constexpr int U = NTILE >= 4 ? 2 : 4;  // blocks in flight per lane
    for (int item = blockIdx.x * nw + warp; item < items; item += gridDim.x * nw) {
        const int sp = item % a.nsplit, rs = item / a.nsplit;
        const int s = rs % a.S, rt = rs / a.S;
        const int kb0 = sp * a.split_len, kb1 = min(a.KB, kb0 + a.split_len);
        int dh[2][NTILE][4], dl[2][NTILE][4];
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
#pragma unroll
            for (int nt = 0; nt < NTILE; ++nt)
#pragma unroll
                for (int j = 0; j < 4; ++j) { dh[mt][nt][j] = 0; dl[mt][nt][j] = 0; }
        const uint4* cp = reinterpret_cast<const uint4*>(a.codes) + static_cast<size_t>(rt * a.S + s) * a.KB * 32 + lane;
        uint4 buf[U];
#pragma unroll
        for (int u = 0; u < U; ++u) buf[u] = kb0 + u < kb1 ? __ldg(cp + static_cast<size_t>(kb0 + u) * 32) : make_uint4(0, 0, 0, 0);
        for (int kb = kb0; kb < kb1; kb += U) {
            uint4 cur[U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                cur[u] = buf[u];
                const int nx = kb + U + u;
                if (nx < kb1) buf[u] = __ldg(cp + static_cast<size_t>(nx) * 32);
            }
#pragma unroll
            for (int u = 0; u < U; ++u) {
                if (kb + u >= kb1) break;
                const uint32_t words[4] = {cur[u].x, cur[u].y, cur[u].z, cur[u].w};
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
                    const int grp = (kb + u) * 8 + ks * 4 + t;
#pragma unroll
                    for (int nt = 0; nt < NTILE; ++nt) {
                        const uint4 L = __ldg(lp[nt] + grp);
#pragma unroll
                        for (int mt = 0; mt < 2; ++mt) {
                            mma_u8s8(dh[mt][nt], A[mt], L.x, L.y);
                            mma_u8u8(dl[mt][nt], A[mt], L.z, L.w);
                        }
                    }
                }
            }
        }
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
#pragma unroll
            for (int nt = 0; nt < NTILE; ++nt)
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    const int row = rt * 32 + mt * 16 + g + (j >= 2 ? 8 : 0);
                    const int tok = nt * 8 + 2 * t + (j & 1);
                    if (row >= a.m || tok >= a.ntok) continue;
                    const long long v = 256LL * dh[mt][nt][j] + static_cast<long long>(static_cast<uint32_t>(dl[mt][nt][j]));
                    atomicAdd(a.ws + (static_cast<size_t>(tok) * a.S + s) * a.m + row,
                              static_cast<unsigned long long>(v));
                }
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

template <int NTILE>
cudaError_t launch_matvec_t(const E8MatvecArgs& a, int num_sms, cudaStream_t stream) {
    const int items = a.RT * a.S * a.nsplit;
    if (a.smem_table) {
        const size_t smem = kE8SignedRowsDev * sizeof(uint32_t);
        const cudaError_t e = ensure_smem<matvec_kernel<NTILE, true>>(static_cast<int>(smem));
        if (e != cudaSuccess) return e;
        const int grid = std::max(1, std::min(num_sms, (items + kSmemThreads / 32 - 1) / (kSmemThreads / 32)));
        return launch(matvec_kernel<NTILE, true>, dim3(grid), dim3(kSmemThreads), smem, stream, a);
    }
    const int grid = std::max(1, (items + kGlobalThreads / 32 - 1) / (kGlobalThreads / 32));
    return launch(matvec_kernel<NTILE, false>, dim3(grid), dim3(kGlobalThreads), 0, stream, a);
}

// grid (blocks of m, B) when transforming; (ceil(m / threads), B) otherwise.
__global__ void __launch_bounds__(kFinishThreads) finish_kernel(E8FinishArgs a) {
    extern __shared__ float sy[];
    pdl_wait();  // the matvec's sums
    pdl_trigger();
    const int b = blockIdx.y;       // in the workspace (this launch's tokens)
    const int bt = a.tok0 + b;      // in the batch
    int off = 0, sz = a.m;
    if (a.transform) {
        for (int k = 0; k < static_cast<int>(blockIdx.x); ++k) off += a.blocks.size[k];
        sz = a.blocks.size[blockIdx.x];
    } else {
        off = blockIdx.x * blockDim.x;
        sz = min(static_cast<int>(blockDim.x), a.m - off);
    }
    const int e = a.exps[bt];
    const bool bad = e == kE8TokenInvalid;
    const float coef = bad ? 0.0f : ldexpf(0.5f, e - 15);
    const long long q6 = 6 * a.qsum[bt];
    // Rows in chunks of kRows per thread: all their loads in flight at once
    // (a loop that loads, stores and loads again waits out latency per row).
    constexpr int kRows = 4;
    for (int r0 = 0; r0 < sz; r0 += kRows * static_cast<int>(blockDim.x)) {
        float acc[kRows];
#pragma unroll
        for (int k = 0; k < kRows; ++k) acc[k] = 0.0f;
        for (int s = 0; s < a.S; ++s) {
            const unsigned long long* p = a.ws + (static_cast<size_t>(b) * a.S + s) * a.m + off;
            long long v[kRows];
#pragma unroll
            for (int k = 0; k < kRows; ++k) {
                const int r = r0 + threadIdx.x + k * static_cast<int>(blockDim.x);
                v[k] = r < sz ? static_cast<long long>(__ldcg(p + r)) : 0;
            }
#pragma unroll
            for (int k = 0; k < kRows; ++k) acc[k] += a.stage_w[s] * static_cast<float>(v[k] - q6);
        }
#pragma unroll
        for (int k = 0; k < kRows; ++k) {
            const int r = r0 + threadIdx.x + k * static_cast<int>(blockDim.x);
            if (r >= sz) continue;
            const float y = bad ? __int_as_float(0x7fc00000) : coef * acc[k];
            if (a.transform) sy[r] = y;
            else static_cast<float*>(a.out)[static_cast<size_t>(bt) * a.m + off + r] = y;
            for (int s = 0; s < a.S; ++s) a.ws[(static_cast<size_t>(b) * a.S + s) * a.m + off + r] = 0ull;
        }
    }
    if (!a.transform) return;
    __syncthreads();
    for (int lh = 0; (1 << lh) < sz; ++lh) {
        const int h = 1 << lh;
        for (int p = threadIdx.x; p < sz / 2; p += blockDim.x) {
            const int i = ((p >> lh) << (lh + 1)) + (p & (h - 1));
            const float u = sy[i], w = sy[i + h];
            sy[i] = u + w;
            sy[i + h] = u - w;
        }
        __syncthreads();
    }
    const float scale = rsqrtf(static_cast<float>(sz));
    for (int r = threadIdx.x; r < sz; r += blockDim.x) {
        const int i = off + r;
        float v = sy[r] * scale * __half2float(a.su[i]);
        if (a.bias) v += a.bias[i];
        store_act(a.out, a.act, static_cast<size_t>(bt) * a.m + i, v);
    }
}

__device__ __forceinline__ void store8(void* y, E8Act act, size_t i, const float (&v)[8]) {
    switch (act) {
    case E8Act::f16: {
        uint4 p;
        __half2* h = reinterpret_cast<__half2*>(&p);
        for (int k = 0; k < 4; ++k) h[k] = __floats2half2_rn(v[2 * k], v[2 * k + 1]);
        *reinterpret_cast<uint4*>(static_cast<__half*>(y) + i) = p;
        break;
    }
    case E8Act::bf16: {
        uint4 p;
        __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&p);
        for (int k = 0; k < 4; ++k) h[k] = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
        *reinterpret_cast<uint4*>(static_cast<__nv_bfloat16*>(y) + i) = p;
        break;
    }
    default: {
        float4* f = reinterpret_cast<float4*>(static_cast<float*>(y) + i);
        f[0] = make_float4(v[0], v[1], v[2], v[3]);
        f[1] = make_float4(v[4], v[5], v[6], v[7]);
    }
    }
}

// One thread per (row tile, block, lane): the lane's 8 codes of every stage,
// 64 outputs, stored as 8-column vectors (four lanes write 64 contiguous bytes).
__global__ void decode_kernel(const uint4* __restrict__ codes, const uint32_t* __restrict__ tab, float w0, float w1,
                              float w2, float w3, int S, int m, int n, int RT, int KB, void* w, E8Act act) {
    const long long tid = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (tid >= static_cast<long long>(RT) * KB * 32) return;
    const int lane = static_cast<int>(tid & 31);
    const long long blk = tid >> 5;
    const int kb = static_cast<int>(blk % KB), rt = static_cast<int>(blk / KB);
    const int g = lane >> 2, t = lane & 3;
    const float ws[4] = {w0, w1, w2, w3};
    float v[4][2][8];  // [row octet q][k-step][column]
#pragma unroll
    for (int q = 0; q < 4; ++q)
#pragma unroll
        for (int ks = 0; ks < 2; ++ks)
#pragma unroll
            for (int c = 0; c < 8; ++c) v[q][ks][c] = 0.0f;
    for (int s = 0; s < S; ++s) {
        const uint4 c = codes[(static_cast<size_t>(rt * S + s) * KB + kb) * 32 + lane];
        const uint32_t words[4] = {c.x, c.y, c.z, c.w};
        const float h = 0.5f * ws[s];
#pragma unroll
        for (int wi = 0; wi < 4; ++wi) {
            const int ks = wi >> 1, mt = wi & 1;
#pragma unroll
            for (int half = 0; half < 2; ++half) {
                const uint32_t word = decode_word(tab, half ? words[wi] >> 16 : words[wi] & 0xFFFFu);
#pragma unroll
                for (int col = 0; col < 8; ++col)
                    v[2 * mt + half][ks][col] += h * static_cast<float>(static_cast<int>((word >> (4 * col)) & 0xFu) - 6);
            }
        }
    }
#pragma unroll
    for (int q = 0; q < 4; ++q)
#pragma unroll
        for (int ks = 0; ks < 2; ++ks) {
            const int row = rt * 32 + 8 * q + g, col = 8 * (kb * 8 + ks * 4 + t);
            if (row < m && col < n) store8(w, act, static_cast<size_t>(row) * n + col, v[q][ks]);
        }
}

} // namespace

cudaError_t e8_shell_prep(const void* x, E8Act act, const __half* sv, int B, int n, bool transform,
                          const E8Blocks& blocks, int n8p, uint32_t* limbs, int* exps, long long* qsum,
                          cudaStream_t stream) {
    if (B <= 0) return cudaSuccess;
    if (transform && n > kE8PrepMaxDim) return cudaErrorInvalidValue;
    const size_t smem = transform ? static_cast<size_t>(n) * sizeof(float) : 0;
    if (smem > 48 * 1024) {
        const cudaError_t e = ensure_smem<prep_kernel>(static_cast<int>(kE8PrepMaxDim * sizeof(float)));
        if (e != cudaSuccess) return e;
    }
    return launch(prep_kernel, dim3(B), dim3(kPrepThreads), smem, stream, x, act, sv, n, transform ? 1 : 0, blocks, n8p,
                  limbs, exps, qsum);
}

void e8_matvec_plan(E8MatvecArgs& a, int num_sms) {
    // About two items per resident warp, each a whole number of blocks.
    const int warps = num_sms * (a.smem_table ? kSmemThreads / 32 : 2 * kGlobalThreads / 32);
    const int per_split = a.RT * a.S;
    const int nsplit = std::max(1, std::min(a.KB, (2 * warps + per_split - 1) / per_split));
    a.split_len = (a.KB + nsplit - 1) / nsplit;
    a.nsplit = (a.KB + a.split_len - 1) / a.split_len;
}

cudaError_t e8_shell_matvec(const E8MatvecArgs& a, int num_sms, cudaStream_t stream) {
    if (a.ntok <= 0) return cudaSuccess;
    if (a.ntok <= 8) return launch_matvec_t<1>(a, num_sms, stream);
    if (a.ntok <= 16) return launch_matvec_t<2>(a, num_sms, stream);
    if (a.ntok <= 32) return launch_matvec_t<4>(a, num_sms, stream);
    return cudaErrorInvalidValue;
}

void e8_shell_set_pdl(int mode) { g_pdl.store(mode < 0 ? -1 : (mode ? 1 : 0)); }

cudaError_t e8_shell_finish(const E8FinishArgs& a, cudaStream_t stream) {
    if (a.B <= 0) return cudaSuccess;
    if (a.transform) {
        for (int k = 0; k < a.blocks.count; ++k)
            if (a.blocks.size[k] > kE8FinishMaxBlock) return cudaErrorInvalidValue;
        const size_t smem = static_cast<size_t>(a.blocks.size[0]) * sizeof(float);  // <= 32 KB
        return launch(finish_kernel, dim3(a.blocks.count, a.B), dim3(kFinishThreads), smem, stream, a);
    }
    return launch(finish_kernel, dim3((a.m + kFinishThreads - 1) / kFinishThreads, a.B), dim3(kFinishThreads), 0, stream,
                  a);
}

cudaError_t e8_shell_decode(const unsigned long long* codes, const uint32_t* table, const float* stage_w, int S,
                            int m, int n, int RT, int KB, void* w, E8Act act, cudaStream_t stream) {
    const long long threads = static_cast<long long>(RT) * KB * 32;
    if (threads == 0) return cudaSuccess;
    const float w0 = stage_w[0], w1 = S > 1 ? stage_w[1] : 0.f, w2 = S > 2 ? stage_w[2] : 0.f, w3 = S > 3 ? stage_w[3] : 0.f;
    decode_kernel<<<static_cast<unsigned>((threads + 255) / 256), 256, 0, stream>>>(
        reinterpret_cast<const uint4*>(codes), table, w0, w1, w2, w3, S, m, n, RT, KB, w, act);
    return cudaGetLastError();
}

} // namespace glq::kernels::cuda_launch
