// CUDA kernels of the compressed E8 shell linear (see e8_shell_linear.cuh).

#include "kernels/cuda/e8_shell_linear.cuh"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>

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
    const uint32_t idx = c < kE8SignedPairsDev ? c : c - kE8SignedPairsDev;
    const uint32_t w = tab[idx];
    return c - kE8SignedPairsDev < kE8SignedPairsDev ? kE8NegateMaskDev - w : w;
}

template <int NT, int S, bool SMEM>
__global__ void __launch_bounds__(512) matvec_kernel(E8MatvecArgs a) {
    extern __shared__ uint4 stab4[];
    const uint32_t* tab = a.table;
    if constexpr (SMEM) {
        // All of a thread's loads in flight at once, then the stores: a loop
        // that stores after each load waits out L2 latency 19 times.
        const uint4* g = reinterpret_cast<const uint4*>(a.table);
        constexpr int kRows4 = static_cast<int>(kE8SignedRowsDev / 4);
        constexpr int kPer = (kRows4 + 511) / 512;
        uint4 v[kPer];
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int i = threadIdx.x + k * static_cast<int>(blockDim.x);
            if (i < kRows4) v[k] = __ldg(g + i);
        }
#pragma unroll
        for (int k = 0; k < kPer; ++k) {
            const int i = threadIdx.x + k * static_cast<int>(blockDim.x);
            if (i < kRows4) stab4[i] = v[k];
        }
        __syncthreads();
        tab = reinterpret_cast<const uint32_t*>(stab4);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const int items = a.RT * a.nsplit;
    const uint4* limbs = reinterpret_cast<const uint4*>(a.limbs);
    for (int item = blockIdx.x * nw + warp; item < items; item += gridDim.x * nw) {
        const int rt = item / a.nsplit, sp = item - rt * a.nsplit;
        const int j4a = sp * a.split_len, j4b = min(a.J4, j4a + a.split_len);
        int hi[S][NT];
        uint32_t lo[S][NT];
#pragma unroll
        for (int s = 0; s < S; ++s)
#pragma unroll
            for (int t = 0; t < NT; ++t) { hi[s][t] = 0; lo[s][t] = 0; }
        const unsigned long long* cp = a.codes + (static_cast<size_t>(rt) * a.J4 + j4a) * S * 32 + lane;
        // Software pipeline: the next group's codes are in flight while this
        // one's are decoded.
        unsigned long long cn[S];
#pragma unroll
        for (int s = 0; s < S; ++s) cn[s] = j4a < j4b ? __ldg(cp + s * 32) : 0ull;
        for (int j4 = j4a; j4 < j4b; ++j4) {
            unsigned long long c[S];
#pragma unroll
            for (int s = 0; s < S; ++s) c[s] = cn[s];
            cp += S * 32;
            if (j4 + 1 < j4b) {
#pragma unroll
                for (int s = 0; s < S; ++s) cn[s] = __ldg(cp + s * 32);
            }
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int col = j4 * 4 + k;
                uint32_t ae[S], ao[S];
#pragma unroll
                for (int s = 0; s < S; ++s) {
                    const uint32_t w = decode_word(tab, static_cast<uint32_t>(c[s] >> (16 * k)) & 0xFFFFu);
                    ae[s] = w & 0x0F0F0F0Fu;
                    ao[s] = (w >> 4) & 0x0F0F0F0Fu;
                }
#pragma unroll
                for (int t = 0; t < NT; ++t) {
                    if (NT > 1 && t >= a.ntok) break;
                    const uint4 xl = __ldg(limbs + static_cast<size_t>(a.tok0 + t) * a.n8p + col);
#pragma unroll
                    for (int s = 0; s < S; ++s) {
                        hi[s][t] = __dp4a(static_cast<int>(ae[s]), static_cast<int>(xl.x), hi[s][t]);
                        hi[s][t] = __dp4a(static_cast<int>(ao[s]), static_cast<int>(xl.y), hi[s][t]);
                        lo[s][t] = __dp4a(ae[s], xl.z, lo[s][t]);
                        lo[s][t] = __dp4a(ao[s], xl.w, lo[s][t]);
                    }
                }
            }
        }
        const int row = rt * 32 + lane;
        if (row < a.m) {
#pragma unroll
            for (int t = 0; t < NT; ++t) {
                if (t >= a.ntok) break;
#pragma unroll
                for (int s = 0; s < S; ++s) {
                    const long long v = 256LL * hi[s][t] + static_cast<long long>(lo[s][t]);
                    atomicAdd(a.ws + (static_cast<size_t>(a.tok0 + t) * S + s) * a.m + row,
                              static_cast<unsigned long long>(v));
                }
            }
        }
    }
}

template <int NT, int S>
cudaError_t launch_matvec_s(const E8MatvecArgs& a, int num_sms, cudaStream_t stream) {
    if (a.smem_table) {
        constexpr int kThreads = 512;
        const size_t smem = kE8SignedRowsDev * sizeof(uint32_t);
        const cudaError_t e = ensure_smem<matvec_kernel<NT, S, true>>(static_cast<int>(smem));
        if (e != cudaSuccess) return e;
        const int items = a.RT * a.nsplit;
        const int grid = std::max(1, std::min(num_sms, (items + kThreads / 32 - 1) / (kThreads / 32)));
        matvec_kernel<NT, S, true><<<grid, kThreads, smem, stream>>>(a);
    } else {
        constexpr int kThreads = 256;
        const int items = a.RT * a.nsplit;
        const int grid = std::max(1, (items + kThreads / 32 - 1) / (kThreads / 32));
        matvec_kernel<NT, S, false><<<grid, kThreads, 0, stream>>>(a);
    }
    return cudaGetLastError();
}

template <int NT>
cudaError_t launch_matvec_t(const E8MatvecArgs& a, int num_sms, cudaStream_t stream) {
    switch (a.S) {
    case 1: return launch_matvec_s<NT, 1>(a, num_sms, stream);
    case 2: return launch_matvec_s<NT, 2>(a, num_sms, stream);
    case 3: return launch_matvec_s<NT, 3>(a, num_sms, stream);
    case 4: return launch_matvec_s<NT, 4>(a, num_sms, stream);
    default: return cudaErrorInvalidValue;
    }
}

// grid (blocks of m, B) when transforming; (ceil(m / threads), B) otherwise.
__global__ void __launch_bounds__(kFinishThreads) finish_kernel(E8FinishArgs a) {
    extern __shared__ float sy[];
    const int b = blockIdx.y;
    int off = 0, sz = a.m;
    if (a.transform) {
        for (int k = 0; k < static_cast<int>(blockIdx.x); ++k) off += a.blocks.size[k];
        sz = a.blocks.size[blockIdx.x];
    } else {
        off = blockIdx.x * blockDim.x;
        sz = min(static_cast<int>(blockDim.x), a.m - off);
    }
    const int e = a.exps[b];
    const bool bad = e == kE8TokenInvalid;
    const float coef = bad ? 0.0f : ldexpf(0.5f, e - 15);
    const long long q6 = 6 * a.qsum[b];
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
            else static_cast<float*>(a.out)[static_cast<size_t>(b) * a.m + off + r] = y;
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
        store_act(a.out, a.act, static_cast<size_t>(b) * a.m + i, v);
    }
}

// One thread per (row, group of 4 columns): 32 outputs.
__global__ void decode_kernel(const unsigned long long* __restrict__ codes, const uint32_t* __restrict__ tab,
                              float w0, float w1, float w2, float w3, int S, int m, int n, int RT, int J4, void* w,
                              E8Act act) {
    const long long tid = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (tid >= static_cast<long long>(RT) * 32 * J4) return;
    // Consecutive threads take consecutive lanes of one (rt, j4): coalesced code reads.
    const int lane = static_cast<int>(tid & 31);
    const long long g = tid >> 5;
    const int j4 = static_cast<int>(g % J4), rt = static_cast<int>(g / J4);
    const int row = rt * 32 + lane;
    if (row >= m) return;
    const float ws[4] = {w0, w1, w2, w3};
    float v[32];
#pragma unroll
    for (int i = 0; i < 32; ++i) v[i] = 0.0f;
    for (int s = 0; s < S; ++s) {
        const unsigned long long c = codes[((static_cast<size_t>(rt) * J4 + j4) * S + s) * 32 + lane];
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const uint32_t word = decode_word(tab, static_cast<uint32_t>(c >> (16 * k)) & 0xFFFFu);
#pragma unroll
            for (int t = 0; t < 8; ++t)
                v[8 * k + t] += ws[s] * 0.5f * static_cast<float>(static_cast<int>((word >> (4 * t)) & 0xFu) - 6);
        }
    }
    for (int i = 0; i < 32; ++i) {
        const int col = j4 * 32 + i;
        if (col < n) store_act(w, act, static_cast<size_t>(row) * n + col, v[i]);
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
    prep_kernel<<<B, kPrepThreads, smem, stream>>>(x, act, sv, n, transform ? 1 : 0, blocks, n8p, limbs, exps, qsum);
    return cudaGetLastError();
}

void e8_matvec_plan(E8MatvecArgs& a, int num_sms) {
    const int warps = a.smem_table ? num_sms * 16 : num_sms * 16;
    const int target = 2 * warps;
    int nsplit = std::max(1, std::min(a.J4, (target + a.RT - 1) / a.RT));
    a.split_len = (a.J4 + nsplit - 1) / nsplit;
    a.nsplit = (a.J4 + a.split_len - 1) / a.split_len;
}

cudaError_t e8_shell_matvec(const E8MatvecArgs& a, int num_sms, cudaStream_t stream) {
    if (a.ntok <= 0) return cudaSuccess;
    if (a.ntok == 1) return launch_matvec_t<1>(a, num_sms, stream);
    if (a.ntok == 2) return launch_matvec_t<2>(a, num_sms, stream);
    if (a.ntok <= 4) return launch_matvec_t<4>(a, num_sms, stream);
    if (a.ntok <= 8) return launch_matvec_t<8>(a, num_sms, stream);
    return cudaErrorInvalidValue;
}

cudaError_t e8_shell_finish(const E8FinishArgs& a, cudaStream_t stream) {
    if (a.B <= 0) return cudaSuccess;
    if (a.transform) {
        for (int k = 0; k < a.blocks.count; ++k)
            if (a.blocks.size[k] > kE8FinishMaxBlock) return cudaErrorInvalidValue;
        const size_t smem = static_cast<size_t>(a.blocks.size[0]) * sizeof(float);  // <= 32 KB
        finish_kernel<<<dim3(a.blocks.count, a.B), kFinishThreads, smem, stream>>>(a);
    } else {
        finish_kernel<<<dim3((a.m + kFinishThreads - 1) / kFinishThreads, a.B), kFinishThreads, 0, stream>>>(a);
    }
    return cudaGetLastError();
}

cudaError_t e8_shell_decode(const unsigned long long* codes, const uint32_t* table, const float* stage_w, int S,
                            int m, int n, int RT, int J4, void* w, E8Act act, cudaStream_t stream) {
    const long long threads = static_cast<long long>(RT) * 32 * J4;
    if (threads == 0) return cudaSuccess;
    const float w0 = stage_w[0], w1 = S > 1 ? stage_w[1] : 0.f, w2 = S > 2 ? stage_w[2] : 0.f, w3 = S > 3 ? stage_w[3] : 0.f;
    decode_kernel<<<static_cast<unsigned>((threads + 255) / 256), 256, 0, stream>>>(codes, table, w0, w1, w2, w3, S, m,
                                                                                     n, RT, J4, w, act);
    return cudaGetLastError();
}

} // namespace glq::kernels::cuda_launch
