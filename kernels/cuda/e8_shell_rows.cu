// The compressed E8 shell linear in one ordinary launch for a few tokens (see
// e8_shell_linear.cuh, E8RowsArgs). Each CTA owns whole row tiles of the
// output (32 rows each) over all of K, so no CTA waits for another's sums:
//
//   0  the signed-order table streams into shared memory (cp.async) and the
//      CTA's codes are prefetched into L2, before the wait for the previous
//      kernel: neither depends on it
//   1  the CTA transforms the whole input of every token in shared memory
//      (SV, BD_n over all blocks at once, the block scale) and takes each
//      token's max |x~|: every CTA computes the same floats, so all agree on
//      the fixed-point exponent without talking
//   2  x~ becomes 16-bit fixed-point limbs in place (as the prep kernel's)
//   3  its warps multiply (row tile, stage, K range) items on the tensor cores
//      (mma_item_to, as the matvec) and add the exact sums against each limb
//      into int32 shared memory (native atomics; no 64-bit CAS loops)
//   4  the rows' x~·W~ᵀ (stage weights, the -6 offset, the fixed-point scale,
//      as the finish kernel) go to yt; a ticket per output FWHT block counts
//      the rows written, and the CTA that completes a block transforms it
//      (BD_m, SU, bias, cast) and resets its ticket.
//
// Integers and float operations are those of prep + matvec + finish in the
// same order, so the three give the same bits (tested). Deterministic: the
// sums are integers, and each output block is transformed by one CTA.

#include <algorithm>
#include <cmath>

#include "kernels/cuda/e8_shell_device.cuh"
#include "kernels/cuda/e8_shell_linear.cuh"

namespace glq::kernels::cuda_launch {
namespace {
using namespace e8dev;

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kBatch = 8;             // global loads per thread in flight
constexpr int kGroupsPerThread = 4;    // limb groups per thread and pass of the in-place quantisation
constexpr int kStaticReserve = 2048;   // the kernel's static shared arrays, with room
constexpr size_t kTableBytes = static_cast<size_t>(kE8SignedRowsDev) * sizeof(uint32_t);

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}

template <bool SMEM>
__global__ void __launch_bounds__(kThreads, 1) rows_kernel(E8RowsArgs a) {
    extern __shared__ uint4 smem4[];
    __shared__ unsigned tok_amax[kE8RowsMaxTokens];  // bits of a non-negative float
    __shared__ int tok_bad[kE8RowsMaxTokens];
    __shared__ int tok_e[kE8RowsMaxTokens];
    __shared__ long long tok_q[kE8RowsMaxTokens];
    __shared__ long long warp_q[kWarps];
    __shared__ int last[24];
    __shared__ int nlast;
    char* base = reinterpret_cast<char*>(smem4);
    const uint32_t* tab = SMEM ? reinterpret_cast<const uint32_t*>(base) : a.table;
    const int n8p = 8 * a.KB, xs = 8 * n8p, ls = n8p + 4;  // float stride, limb stride (uint4, 64 bytes off a bank period)
    float* xb = reinterpret_cast<float*>(base + (SMEM ? kTableBytes : 0));
    uint4* limb = reinterpret_cast<uint4*>(xb);
    const int rows = 32 * a.tiles;
    // Per (token, stage, row): the sums against the high and the low limb, int32
    // (|hi| <= 12·128·n, lo <= 12·255·n: exact for n below 700,000).
    int* acc_hi = reinterpret_cast<int*>(xb + static_cast<size_t>(a.B) * xs);  // [B][S][rows]
    unsigned* acc_lo = reinterpret_cast<unsigned*>(acc_hi + a.B * a.S * rows);
    const int rt0 = blockIdx.x * a.tiles, rt1 = min(a.RT, rt0 + a.tiles);
    const int row0 = rt0 * 32, row1 = min(a.m, rt1 * 32);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

    // 0. The table, asynchronously; the sums' slots zeroed.
    if constexpr (SMEM) {
        const uint4* gt = reinterpret_cast<const uint4*>(a.table);
        for (int i = threadIdx.x; i < static_cast<int>(kE8SignedRowsDev / 4); i += kThreads) cp_async16(smem4 + i, gt + i);
        asm volatile("cp.async.commit_group;\n" ::: "memory");
    }
    {
        // The CTA's codes (one contiguous range: row tiles, then stages) are
        // asked into L2 now, so their trip from memory overlaps the input's
        // transform instead of following it.
        const char* c0 = reinterpret_cast<const char*>(a.codes + static_cast<size_t>(rt0) * a.S * a.KB * 32);
        const size_t lines = static_cast<size_t>(rt1 - rt0) * a.S * a.KB * 32 * sizeof(uint4) / 128;
        for (size_t l = threadIdx.x; l < lines; l += kThreads)
            asm volatile("prefetch.global.L2 [%0];\n" ::"l"(c0 + l * 128));
    }
    for (int i = threadIdx.x; i < a.B * a.S * rows; i += kThreads) {
        acc_hi[i] = 0;
        acc_lo[i] = 0u;
    }
    if (threadIdx.x < kE8RowsMaxTokens) {
        tok_amax[threadIdx.x] = 0u;
        tok_bad[threadIdx.x] = 0;
        tok_q[threadIdx.x] = 0;
    }
    pdl_wait();  // x is the previous kernel's
    pdl_trigger();

    // 1. SV ⊙ x, BD_n, the block scale; each token's max |x~|.
    // kBatch loads per thread in flight at once (a load-store loop would wait
    // out one L2 round trip per element).
    for (int i0 = threadIdx.x; i0 < a.B * xs; i0 += kBatch * kThreads) {
        float v[kBatch];
#pragma unroll
        for (int k = 0; k < kBatch; ++k) {
            const int i = i0 + k * kThreads, b = i / xs, c = i - b * xs;
            v[k] = i < a.B * xs && c < a.n ? load_act(a.x, a.act, static_cast<size_t>(b) * a.n + c) * __half2float(a.sv[c])
                                           : 0.0f;
        }
#pragma unroll
        for (int k = 0; k < kBatch; ++k)
            if (i0 + k * kThreads < a.B * xs) xb[i0 + k * kThreads] = v[k];
    }
    __syncthreads();
    block_fwht_shared_multi(xb, a.bin, a.B, xs);
    for (int b = 0; b < a.B; ++b) {
        float amax = 0.0f;
        bool finite = true;
        for (int i = threadIdx.x; i < a.n; i += kThreads) {
            const float v = xb[b * xs + i] * block_scale_of(a.bin, i);
            xb[b * xs + i] = v;
            finite = finite && isfinite(v);
            amax = fmaxf(amax, fabsf(v));
        }
        for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
        const bool all = __all_sync(0xffffffffu, finite);
        if (lane == 0) {
            atomicMax(&tok_amax[b], __float_as_uint(amax));  // the order of non-negative floats
            if (!all) atomicOr(&tok_bad[b], 1);
        }
    }
    __syncthreads();
    if (threadIdx.x < a.B) {
        int e = 0;
        const float amax = __uint_as_float(tok_amax[threadIdx.x]);
        if (amax > 0.0f) frexpf(amax, &e);  // amax < 2^e
        tok_e[threadIdx.x] = tok_bad[threadIdx.x] ? kE8TokenInvalid : e;
    }
    __syncthreads();

    // 2. In place, token by token in passes: every thread reads its groups'
    // floats, a barrier, then writes their limbs, which land below any float a
    // later pass reads (limb b·(n8p+4)+c, floats from 2·(b·n8p+c), in uint4).
    // Q = Σ q per token: registers, warp sums, then the warps' in order.
    for (int b = 0; b < a.B; ++b) {
        const int e = tok_e[b];
        const float mul = ldexpf(1.0f, 15 - (e == kE8TokenInvalid ? 0 : e));
        long long qs = 0;
        for (int c0 = 0; c0 < n8p; c0 += kThreads * kGroupsPerThread) {
            uint4 out[kGroupsPerThread];
#pragma unroll
            for (int k = 0; k < kGroupsPerThread; ++k) {
                const int col = c0 + threadIdx.x + k * kThreads;
                out[k] = make_uint4(0, 0, 0, 0);
                if (col >= n8p || col * 8 >= a.n || e == kE8TokenInvalid) continue;
                float v[8];
#pragma unroll
                for (int t = 0; t < 8; ++t) v[t] = xb[b * xs + col * 8 + t];
                out[k] = limb_group(v, mul, qs);
            }
            __syncthreads();
#pragma unroll
            for (int k = 0; k < kGroupsPerThread; ++k) {
                const int col = c0 + threadIdx.x + k * kThreads;
                if (col < n8p) limb[b * ls + col] = out[k];
            }
            __syncthreads();
        }
        for (int o = 16; o > 0; o >>= 1) qs += __shfl_xor_sync(0xffffffffu, qs, o);
        if (lane == 0) warp_q[warp] = qs;
        __syncthreads();
        if (threadIdx.x == 0) {
            long long q = 0;
            for (int w = 0; w < kWarps; ++w) q += warp_q[w];
            tok_q[b] = q;
        }
        __syncthreads();  // warp_q is the next token's
    }
    if constexpr (SMEM) asm volatile("cp.async.wait_all;\n" ::: "memory");
    __syncthreads();

    // 3. The CTA's rows over all of K, one warp per (row tile, stage, K range).
    {
        const int g = lane >> 2, t = lane & 3;
        const int items = (rt1 - rt0) * a.S * a.nsub;
        const uint4* lp = limb + min(g, a.B - 1) * ls;  // a padding token reads a real one; its sums are not kept
        for (int item = warp; item < items; item += kWarps) {
            const int lt = item / (a.S * a.nsub), rem = item - lt * (a.S * a.nsub);
            const int s = rem / a.nsub, sub = rem - s * a.nsub;
            const int rt = rt0 + lt;
            const int ka = sub * a.wlen, kz = min(a.KB, ka + a.wlen);
            const uint4* cp = a.codes + static_cast<size_t>(rt * a.S + s) * a.KB * 32 + lane;
            mma_item_to<1>(cp, ka, kz, tab, [&](int kb, int, int ks) { return lp[kb * 8 + t + ks * 4]; }, rt, g, t, a.m,
                           a.B, [&](int tok, int row, int hi, int lo) {
                               const int i = (tok * a.S + s) * rows + (row - row0);
                               atomicAdd(acc_hi + i, hi);
                               atomicAdd(acc_lo + i, static_cast<unsigned>(lo));
                           });
        }
    }
    __syncthreads();

    // 4. The rows' x~·W~ᵀ (the finish kernel's formula), then the tickets.
    for (int i = threadIdx.x; i < a.B * (row1 - row0); i += kThreads) {
        const int b = i / (row1 - row0), r = i - b * (row1 - row0);
        const int e = tok_e[b];
        const bool bad = e == kE8TokenInvalid;
        const float coef = bad ? 0.0f : ldexpf(0.5f, e - 15);
        const long long q6 = 6 * tok_q[b];
        float sum = 0.0f;
        for (int s = 0; s < a.S; ++s) {
            const int j = (b * a.S + s) * rows + r;
            const long long p = 256LL * acc_hi[j] + static_cast<long long>(acc_lo[j]);
            sum += a.stage_w[s] * static_cast<float>(p - q6);
        }
        a.yt[static_cast<size_t>(b) * a.m + row0 + r] = bad ? __int_as_float(0x7fc00000) : coef * sum;
    }
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) {
        int nl = 0, off = 0;
        for (int k = 0; k < a.bout.count; ++k) {
            const int sz = a.bout.size[k];
            const int lo = max(off, row0), hi = min(off + sz, row1);
            if (lo < hi) {
                const unsigned mine = static_cast<unsigned>(hi - lo);
                if (atomicAdd(a.tickets + k, mine) + mine == static_cast<unsigned>(sz)) last[nl++] = k;
            }
            off += sz;
        }
        nlast = nl;
    }
    __syncthreads();
    if (nlast == 0) return;
    __threadfence();  // the other CTAs' rows, seen through L2 (__ldcg)
    float* buf = reinterpret_cast<float*>(base);  // everything in shared memory is dead now
    const int cap = static_cast<int>(a.smem / sizeof(float));
    for (int j = 0; j < nlast; ++j) {
        const int k = last[j];
        const int off = block_offset(a.bout, k), sz = a.bout.size[k];
        const int per = max(1, min(a.B, cap / sz));
        const float scale = rsqrtf(static_cast<float>(sz));
        for (int b0 = 0; b0 < a.B; b0 += per) {
            const int nb = min(per, a.B - b0);
            for (int i0 = threadIdx.x; i0 < nb * sz; i0 += kBatch * kThreads) {
                float v[kBatch];
#pragma unroll
                for (int k = 0; k < kBatch; ++k) {
                    const int i = i0 + k * kThreads, b = i / sz, r = i - b * sz;
                    v[k] = i < nb * sz ? __ldcg(a.yt + static_cast<size_t>(b0 + b) * a.m + off + r) : 0.0f;
                }
#pragma unroll
                for (int k = 0; k < kBatch; ++k)
                    if (i0 + k * kThreads < nb * sz) buf[i0 + k * kThreads] = v[k];
            }
            __syncthreads();
            fwht_shared_multi(buf, sz, nb, sz);
            for (int i = threadIdx.x; i < nb * sz; i += kThreads) {
                const int b = i / sz, r = i - b * sz, row = off + r;
                float v = buf[i] * scale * __half2float(a.su[row]);
                if (a.bias) v += a.bias[row];
                store_act(a.out, a.act, static_cast<size_t>(b0 + b) * a.m + row, v);
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) a.tickets[k] = 0u;  // for the next call
    }
}

int max_block(const E8Blocks& b) {
    int m = 0;
    for (int k = 0; k < b.count; ++k) m = std::max(m, b.size[k]);
    return m;
}

} // namespace

bool e8_rows_plan(E8RowsArgs& a, int num_sms, int max_smem) {
    if (a.B < 1 || a.B > kE8RowsMaxTokens || a.RT < 1 || a.KB < 1 || num_sms < 1) return false;
    if (a.bout.count > 24 || max_block(a.bin) > kE8FusedMaxBlock || max_block(a.bout) > kE8FusedMaxBlock) return false;
    // One CTA per SM (the table and the input fill its shared memory), each a
    // run of whole row tiles.
    a.tiles = (a.RT + num_sms - 1) / num_sms;
    a.grid = (a.RT + a.tiles - 1) / a.tiles;
    // About two items per warp, each a whole number of 64-column blocks.
    const int per = a.tiles * a.S;
    a.nsub = std::max(1, std::min(a.KB, (2 * kWarps + per - 1) / per));
    a.wlen = (a.KB + a.nsub - 1) / a.nsub;
    a.nsub = (a.KB + a.wlen - 1) / a.wlen;
    const size_t input = static_cast<size_t>(a.B) * 64 * a.KB * sizeof(float);
    const size_t sums = static_cast<size_t>(a.B) * a.S * 32 * a.tiles * 2 * sizeof(int);
    const size_t need = (a.smem_table ? kTableBytes : 0) + input + sums;
    a.smem = std::max(need, static_cast<size_t>(max_block(a.bout)) * sizeof(float));
    a.smem = (a.smem + 15) / 16 * 16;
    if (max_smem <= kStaticReserve || a.smem > static_cast<size_t>(max_smem - kStaticReserve)) return false;
    a.max_smem = max_smem;
    return true;
}

cudaError_t e8_shell_rows(const E8RowsArgs& a, cudaStream_t stream) {
    if (a.smem_table) {
        const cudaError_t e = ensure_smem<rows_kernel<true>>(a.max_smem - kStaticReserve);
        if (e != cudaSuccess) return e;
        return launch(rows_kernel<true>, dim3(a.grid), dim3(kThreads), a.smem, stream, a);
    }
    const cudaError_t e = ensure_smem<rows_kernel<false>>(a.max_smem - kStaticReserve);
    if (e != cudaSuccess) return e;
    return launch(rows_kernel<false>, dim3(a.grid), dim3(kThreads), a.smem, stream, a);
}

} // namespace glq::kernels::cuda_launch
