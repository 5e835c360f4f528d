// The compressed E8 shell linear in one launch (see e8_shell_linear.cuh,
// e8_shell_fused_*): a cooperative grid of one CTA per SM (or as many as fit)
// runs the op's four phases with two grid-wide barriers instead of three
// dependent kernels:
//
//   0  the signed-order table streams into shared memory (cp.async) while
//   1  each CTA transforms (token, input FWHT block) pieces: SV, BD_n, the
//      block scale; x~ to a global scratch, each piece's max |x~|
//   -- grid barrier --
//   2  each CTA owns one K range: it reads the tokens' exponents from the
//      piece maxima and writes its range of x~ as 16-bit fixed-point limbs
//      into shared memory (and the range's sum of q per token)
//   3  its warps multiply row tiles of that range against the limbs on the
//      tensor cores (as matvec_kernel) and add exact int64 sums into the
//      workspace
//   -- grid barrier --
//   4  each CTA finishes (token, output FWHT block) pieces: stage weights,
//      fixed-point scale, BD_m, SU, bias, cast; zeroes the workspace it read.
//
// The integers and the float operations are those of the three-kernel path,
// in the same order, so the two give the same bits (tested).

#include <algorithm>
#include <climits>
#include <cmath>

#include <cooperative_groups.h>

#include "kernels/cuda/e8_shell_device.cuh"
#include "kernels/cuda/e8_shell_linear.cuh"

namespace glq::kernels::cuda_launch {
namespace {
using namespace e8dev;
namespace cg = cooperative_groups;

constexpr int kThreads = 512;
constexpr int kWarps = kThreads / 32;
constexpr int kStaticReserve = 2048;  // the kernel's static shared arrays (768 bytes), with room
constexpr size_t kTableBytes = static_cast<size_t>(kE8SignedRowsDev) * sizeof(uint32_t);

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}

template <int NTILE, bool SMEM>
__global__ void __launch_bounds__(kThreads, 1) fused_kernel(E8FusedArgs a) {
    extern __shared__ uint4 smem4[];
    __shared__ float fscratch[32];
    __shared__ long long lscratch[32];
    __shared__ int tok_e[kE8MatvecTokens];
    __shared__ unsigned long long tok_q[kE8MatvecTokens];
    const cg::grid_group grid = cg::this_grid();
    uint32_t* stab = reinterpret_cast<uint32_t*>(smem4);
    float* buf = reinterpret_cast<float*>(reinterpret_cast<char*>(smem4) + (SMEM ? kTableBytes : 0));
    const uint32_t* tab = SMEM ? stab : a.table;

    // 0. The table, asynchronously (waited for before phase 3).
    if constexpr (SMEM) {
        const uint4* g = reinterpret_cast<const uint4*>(a.table);
        for (int i = threadIdx.x; i < static_cast<int>(kE8SignedRowsDev / 4); i += kThreads) cp_async16(smem4 + i, g + i);
        asm volatile("cp.async.commit_group;\n" ::: "memory");
    }

    // 1. Input transform pieces.
    const int pieces_in = a.B * a.bin.count;
    for (int p = blockIdx.x; p < pieces_in; p += gridDim.x) {
        const int b = p / a.bin.count, k = p - b * a.bin.count;
        const int off = block_offset(a.bin, k), sz = a.bin.size[k];
        const size_t base = static_cast<size_t>(b) * a.n + off;
        for (int i = threadIdx.x; i < sz; i += kThreads)
            buf[i] = load_act(a.x, a.act, base + i) * __half2float(a.sv[off + i]);
        __syncthreads();
        fwht_shared(buf, sz);
        const float scale = rsqrtf(static_cast<float>(sz));
        float amax = 0.0f;
        bool finite = true;
        for (int i = threadIdx.x; i < sz; i += kThreads) {
            const float v = buf[i] * scale;
            a.xt[base + i] = v;
            finite = finite && isfinite(v);
            amax = fmaxf(amax, fabsf(v));
        }
        amax = block_reduce(amax, [](float u, float w) { return fmaxf(u, w); }, fscratch);
        const float bad = block_reduce(finite ? 0.0f : 1.0f, [](float u, float w) { return fmaxf(u, w); }, fscratch);
        if (threadIdx.x == 0) a.amax[p] = bad != 0.0f ? -1.0f : amax;
        __syncthreads();  // buf is the next piece's
    }
    grid.sync();

    // 2. Exponents of every token, then this CTA's K range as limbs.
    if (threadIdx.x < a.B) {
        float amax = 0.0f;
        bool bad = false;
        for (int k = 0; k < a.bin.count; ++k) {
            const float v = __ldcg(a.amax + threadIdx.x * a.bin.count + k);
            bad = bad || v < 0.0f;
            amax = fmaxf(amax, v);
        }
        int e = 0;
        if (amax > 0.0f) frexpf(amax, &e);
        tok_e[threadIdx.x] = bad ? kE8TokenInvalid : e;
        tok_q[threadIdx.x] = 0ull;
    }
    __syncthreads();
    const int sp = blockIdx.x % a.nsplit, rg = blockIdx.x / a.nsplit;
    const int kb0 = sp * a.klen, kb1 = min(a.KB, kb0 + a.klen);
    const int ng = 8 * (kb1 - kb0), ts = ng + 4;  // groups in range; token stride (uint4), 64 bytes off a bank period
    uint4* slimb = reinterpret_cast<uint4*>(buf);
    const bool active = rg < a.ngroups && kb0 < kb1;
    if (active) {
        constexpr int kTok = 8 * NTILE;
        for (int idx = threadIdx.x; idx < kTok * ng; idx += kThreads) {
            const int tok = idx / ng, gl = idx - tok * ng, grp = 8 * kb0 + gl;
            uint4 lg = make_uint4(0, 0, 0, 0);
            if (tok < a.B && grp * 8 < a.n && tok_e[tok] != kE8TokenInvalid) {
                const float mul = ldexpf(1.0f, 15 - tok_e[tok]);
                const float4* src = reinterpret_cast<const float4*>(a.xt + static_cast<size_t>(tok) * a.n + grp * 8);
                const float4 u = __ldcg(src), w = __ldcg(src + 1);
                const float v[8] = {u.x, u.y, u.z, u.w, w.x, w.y, w.z, w.w};
                long long qs = 0;
                lg = limb_group(v, mul, qs);
                if (qs != 0) atomicAdd(&tok_q[tok], static_cast<unsigned long long>(qs));
            }
            slimb[tok * ts + gl] = lg;
        }
        __syncthreads();
        if (rg == 0 && threadIdx.x < a.B) a.qpart[sp * a.B + threadIdx.x] = static_cast<long long>(tok_q[threadIdx.x]);
    }
    if constexpr (SMEM) asm volatile("cp.async.wait_all;\n" ::: "memory");
    __syncthreads();

    // 3. The CTA's row tiles of its K range, one warp per (row tile, stage, sub-range).
    if (active) {
        const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t = lane & 3;
        const int nrt = (a.RT - rg + a.ngroups - 1) / a.ngroups;
        const int nsub = (kb1 - kb0 + a.wlen - 1) / a.wlen;
        const int items = nrt * a.S * nsub;
        for (int item = warp; item < items; item += kWarps) {
            const int irt = item / (a.S * nsub), rem = item - irt * (a.S * nsub);
            const int s = rem / nsub, sub = rem - s * nsub;
            const int rt = rg + irt * a.ngroups;
            const int ka = kb0 + sub * a.wlen, kz = min(kb1, ka + a.wlen);
            const uint4* cp = a.codes + static_cast<size_t>(rt * a.S + s) * a.KB * 32 + lane;
            mma_item<NTILE>(cp, ka, kz, tab,
                            [&](int kb, int nt, int ks) { return slimb[(nt * 8 + g) * ts + ((kb - kb0) * 8 + t + ks * 4)]; },
                            rt, s, g, t, a.m, a.B, a.S, a.ws);
        }
    }
    grid.sync();

    // 4. Output pieces.
    const int pieces_out = a.B * a.bout.count;
    for (int p = blockIdx.x; p < pieces_out; p += gridDim.x) {
        const int b = p / a.bout.count, k = p - b * a.bout.count;
        const int off = block_offset(a.bout, k), sz = a.bout.size[k];
        long long qp = 0;
        for (int i = threadIdx.x; i < a.nsplit; i += kThreads) qp += __ldcg(a.qpart + i * a.B + b);
        const long long q6 = 6 * block_reduce(qp, [](long long u, long long w) { return u + w; }, lscratch);
        const int e = tok_e[b];
        const bool bad = e == kE8TokenInvalid;
        const float coef = bad ? 0.0f : ldexpf(0.5f, e - 15);
        for (int r = threadIdx.x; r < sz; r += kThreads) {
            float acc = 0.0f;
            for (int s = 0; s < a.S; ++s) {
                unsigned long long* w = a.ws + (static_cast<size_t>(b) * a.S + s) * a.m + off + r;
                acc += a.stage_w[s] * static_cast<float>(static_cast<long long>(__ldcg(w)) - q6);
                *w = 0ull;
            }
            buf[r] = bad ? __int_as_float(0x7fc00000) : coef * acc;
        }
        __syncthreads();
        fwht_shared(buf, sz);
        const float scale = rsqrtf(static_cast<float>(sz));
        for (int r = threadIdx.x; r < sz; r += kThreads) {
            const int i = off + r;
            float v = buf[r] * scale * __half2float(a.su[i]);
            if (a.bias) v += a.bias[i];
            store_act(a.out, a.act, static_cast<size_t>(b) * a.m + i, v);
        }
        __syncthreads();
    }
}

template <int NTILE, bool SMEM>
struct Fused {
    static cudaError_t run(const E8FusedArgs& a, size_t smem, int grid, cudaStream_t stream) {
        cudaError_t e = ensure_smem<fused_kernel<NTILE, SMEM>>(a.max_smem - kStaticReserve);
        if (e != cudaSuccess) return e;
        cudaLaunchConfig_t cfg = {};
        cfg.gridDim = dim3(grid);
        cfg.blockDim = dim3(kThreads);
        cfg.dynamicSmemBytes = smem;
        cfg.stream = stream;
        cudaLaunchAttribute attr[1];
        attr[0].id = cudaLaunchAttributeCooperative;
        attr[0].val.cooperative = 1;
        cfg.attrs = attr;
        cfg.numAttrs = 1;
        return cudaLaunchKernelEx(&cfg, fused_kernel<NTILE, SMEM>, a);
    }
    // CTAs of this kernel that fit on one SM with `smem` bytes (0: none).
    // The attribute is raised once, to the device's limit, whatever smem is.
    static int per_sm(size_t smem, int max_smem) {
        if (ensure_smem<fused_kernel<NTILE, SMEM>>(max_smem - kStaticReserve) != cudaSuccess) {
            (void)cudaGetLastError();  // a refusal here only means: use the three kernels
            return 0;
        }
        int n = 0;
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, fused_kernel<NTILE, SMEM>, kThreads, smem) != cudaSuccess)
        {
            (void)cudaGetLastError();
            return 0;
        }
        return n;
    }
};

template <bool SMEM>
int per_sm_of(int ntile, size_t smem, int max_smem) {
    switch (ntile) {
    case 1: return Fused<1, SMEM>::per_sm(smem, max_smem);
    case 2: return Fused<2, SMEM>::per_sm(smem, max_smem);
    default: return Fused<4, SMEM>::per_sm(smem, max_smem);
    }
}

template <bool SMEM>
cudaError_t run_of(int ntile, const E8FusedArgs& a, size_t smem, int grid, cudaStream_t stream) {
    switch (ntile) {
    case 1: return Fused<1, SMEM>::run(a, smem, grid, stream);
    case 2: return Fused<2, SMEM>::run(a, smem, grid, stream);
    default: return Fused<4, SMEM>::run(a, smem, grid, stream);
    }
}

int max_block(const E8Blocks& b) {
    int m = 0;
    for (int k = 0; k < b.count; ++k) m = std::max(m, b.size[k]);
    return m;
}

} // namespace

bool e8_fused_plan(E8FusedArgs& a, int num_sms, int max_smem) {
    if (a.B < 1 || a.B > kE8MatvecTokens) return false;
    if (max_block(a.bin) > kE8FusedMaxBlock || max_block(a.bout) > kE8FusedMaxBlock) return false;
    const int ntile = a.B <= 8 ? 1 : (a.B <= 16 ? 2 : 4);
    const int tokens = 8 * ntile;
    const size_t table = a.smem_table ? kTableBytes : 0;
    const size_t static_smem = kStaticReserve;
    if (static_cast<size_t>(max_smem) < table + static_smem) return false;
    const size_t avail = static_cast<size_t>(max_smem) - table - static_smem;
    const size_t transforms = 4 * static_cast<size_t>(std::max(max_block(a.bin), max_block(a.bout)));
    if (transforms > avail) return false;
    // Limbs of a K range: tokens x (8 groups per block + 4 padding) x 16 bytes.
    const long long klen_max = (static_cast<long long>(avail) / (16 * tokens) - 4) / 8;
    if (klen_max < 1) return false;
    a.max_smem = max_smem;
    const size_t least = std::max<size_t>(transforms, 16 * tokens * 12);
    const int per_sm = a.smem_table ? per_sm_of<true>(ntile, table + least, max_smem)
                                    : per_sm_of<false>(ntile, least, max_smem);
    if (per_sm < 1) return false;
    const int G = num_sms * std::min(per_sm, 1);  // one CTA per SM: the barrier's cost grows with CTAs
    // The split of K that balances CTAs best: per CTA, its row tiles x stages x blocks.
    int best = -1;
    long long best_cost = LLONG_MAX;
    const int lo = static_cast<int>(std::max<long long>(1, (a.KB + klen_max - 1) / klen_max));
    for (int nsplit = lo; nsplit <= std::min(G, a.KB); ++nsplit) {
        const int klen = (a.KB + nsplit - 1) / nsplit;
        const int ngroups = G / nsplit;
        const long long rows = (a.RT + ngroups - 1) / ngroups;
        // Per CTA: its row tiles x stages x blocks (16 warps share a block's
        // worth), and the limb fill. (A fixed cost per pass that favours long
        // ranges measured slower on the 8B shapes' down projection.)
        const long long cost = rows * a.S * klen * 16 + klen * tokens;
        if (cost < best_cost) {
            best_cost = cost;
            best = nsplit;
        }
    }
    if (best < 0) return false;
    a.nsplit = best;
    a.klen = (a.KB + best - 1) / best;
    a.nsplit = (a.KB + a.klen - 1) / a.klen;
    a.ngroups = G / a.nsplit;
    const long long rows = (a.RT + a.ngroups - 1) / a.ngroups;
    a.wlen = static_cast<int>(std::max<long long>(1, (rows * a.S * a.klen + 2 * kWarps - 1) / (2 * kWarps)));
    a.wlen = std::min(a.wlen, a.klen);
    a.ntile = ntile;
    a.grid = G;
    const size_t limbs = 16 * static_cast<size_t>(tokens) * (8 * a.klen + 4);
    a.smem = table + std::max(transforms, limbs);
    return true;
}

cudaError_t e8_shell_fused(const E8FusedArgs& a, cudaStream_t stream) {
    return a.smem_table ? run_of<true>(a.ntile, a, a.smem, a.grid, stream)
                        : run_of<false>(a.ntile, a, a.smem, a.grid, stream);
}

} // namespace glq::kernels::cuda_launch
