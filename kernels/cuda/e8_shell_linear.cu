// CUDA kernels of the compressed E8 shell linear (see e8_shell_linear.cuh).

#include "kernels/cuda/e8_shell_linear.cuh"
#include "kernels/cuda/e8_shell_device.cuh"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>

#include <cuda_bf16.h>

namespace glq::kernels::cuda_launch {

namespace e8dev {
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
} // namespace e8dev

namespace {
using namespace e8dev;

constexpr int kPrepThreads = 1024;
constexpr int kFinishThreads = 1024;

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
        uint4 lg = make_uint4(0, 0, 0, 0);
        if (col * 8 < n && bad == 0.0f) {
            float v[8];
#pragma unroll
            for (int t = 0; t < 8; ++t) {
                const int i = col * 8 + t;
                v[t] = transform ? sx[i] : load_act(x, act, base + i);
            }
            lg = limb_group(v, mul, qs);
        }
        out[col] = lg;
    }
    qs = block_reduce(qs, [](long long p, long long q) { return p + q; }, lscratch);
    if (threadIdx.x == 0) {
        exps[b] = bad != 0.0f ? kE8TokenInvalid : e;
        qsum[b] = qs;
    }
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
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int items = a.RT * a.S * a.nsplit;
    {
        // The codes of the warp's first item into L2 while the prep kernel
        // still runs (they do not depend on it).
        const int item = blockIdx.x * nw + warp;
        if (item < items) {
            const int sp = item % a.nsplit, rs = item / a.nsplit;
            const int kb0 = sp * a.split_len, kb1 = min(a.KB, kb0 + a.split_len);
            const char* c0 = reinterpret_cast<const char*>(reinterpret_cast<const uint4*>(a.codes) +
                                                           (static_cast<size_t>(rs) * a.KB + kb0) * 32);
            for (int l = lane; l < 4 * (kb1 - kb0); l += 32) asm volatile("prefetch.global.L2 [%0];\n" ::"l"(c0 + l * 128));
        }
    }
    pdl_wait();  // the limbs are the prep kernel's
    pdl_trigger();
    const uint4* limbs = reinterpret_cast<const uint4*>(a.limbs);
    const uint4* lp[NTILE];
#pragma unroll
    for (int nt = 0; nt < NTILE; ++nt)  // a padding token reads a real one; its columns are not stored
        lp[nt] = limbs + static_cast<size_t>(a.tok0 + min(nt * 8 + g, a.ntok - 1)) * a.n8p;
    for (int item = blockIdx.x * nw + warp; item < items; item += gridDim.x * nw) {
        const int sp = item % a.nsplit, rs = item / a.nsplit;
        const int s = rs % a.S, rt = rs / a.S;
        const int kb0 = sp * a.split_len, kb1 = min(a.KB, kb0 + a.split_len);
        const uint4* cp = reinterpret_cast<const uint4*>(a.codes) + static_cast<size_t>(rt * a.S + s) * a.KB * 32 + lane;
        mma_item<NTILE>(cp, kb0, kb1, tab, [&](int kb, int nt, int ks) { return __ldg(lp[nt] + (kb * 8 + t + ks * 4)); },
                        rt, s, g, t, a.m, a.ntok, a.S, a.ws);
    }
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
        off = block_offset(a.blocks, static_cast<int>(blockIdx.x));
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
    fwht_shared(sy, sz);
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
// A grid of one CTA per SM holds the table in shared memory (gathers from L2
// would bound it) and strides over the work.
constexpr int kDecodeThreads = 512;
__global__ void __launch_bounds__(kDecodeThreads, 1) decode_kernel(const uint4* __restrict__ codes, const uint32_t* __restrict__ gtab,
                                                                  float w0, float w1, float w2, float w3, int S, int m, int n,
                                                                  int RT, int KB, void* w, E8Act act) {
    extern __shared__ uint4 dtab4[];
    for (int i = threadIdx.x; i < static_cast<int>(kE8SignedRowsDev / 4); i += kDecodeThreads)
        dtab4[i] = __ldg(reinterpret_cast<const uint4*>(gtab) + i);
    __syncthreads();
    const uint32_t* tab = reinterpret_cast<const uint32_t*>(dtab4);
    const long long total = static_cast<long long>(RT) * KB * 32;
    for (long long tid = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; tid < total;
         tid += static_cast<long long>(gridDim.x) * blockDim.x) {
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

void e8_shell_set_pdl(int mode) { e8dev::g_pdl.store(mode < 0 ? -1 : (mode ? 1 : 0)); }

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
    const size_t smem = kE8SignedRowsDev * sizeof(uint32_t);
    const cudaError_t e = ensure_smem<decode_kernel>(static_cast<int>(smem));
    if (e != cudaSuccess) return e;
    int dev = 0, sms = 1;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    const long long need = (threads + kDecodeThreads - 1) / kDecodeThreads;
    decode_kernel<<<static_cast<unsigned>(std::min<long long>(need, sms)), kDecodeThreads, smem, stream>>>(
        reinterpret_cast<const uint4*>(codes), table, w0, w1, w2, w3, S, m, n, RT, KB, w, act);
    return cudaGetLastError();
}

} // namespace glq::kernels::cuda_launch
