// CPU kernels of the compressed E8 shell linear (see kernels/e8_shell_linear.h).
//
// Decode (B < 17 tokens): exact integer arithmetic, the CUDA matvec's method.
//
//   1. Per token (once per call, shared by every path): E from max|x~|
//      (2^E > max|x~|, one more where the mantissa would round past 32639),
//      q = rint(x~·2^(15-E)), |q| <= 32639; Q = Σq. q splits into two signed
//      int8 limbs hi = (q + 128) >> 8, lo = q - 256·hi (both in [-128, 127],
//      which is why |q| stops at 32639 and not 32767). The limbs are stored
//      per 64-column block in the byte order the nibble split below produces.
//   2. Per row, stage and block of 64 columns: the eight 16-bit codes load
//      their packed table rows into one vector (eight scalar loads: faster
//      than vpgatherdd on Zen 4; the 256 KB table stays in L2, the codes are
//      prefetched non-temporally), w & 0x0F0F0F0F gives the even nibbles
//      (2v + 6, 0..12) as bytes and (w >> 4) & 0x0F0F0F0F the odd ones;
//      vpmaddubsw (u8 nibble × s8 limb) then vpmaddwd by ones (AVX2), or
//      vpdpbusd (AVX-VNNI, when the CPU has it), add into int32 sums Hi and
//      Lo per row, stage and token: exact for any n <= 2^20 (|Hi|, |Lo| <=
//      12·128·n < 2^31). One token (decode) uses each loaded row straight
//      from its register; 2-16 tokens split the row into nibble bytes once
//      (L1) and run up to four tokens per pass over it.
//   3. P_s = 256·Hi + Lo = Σ nibble·q exactly (int64), and
//      ỹ = 2^(E-16) · Σ_s w_s · float(P_s - 6Q)   (the -6 offset of the
//      nibbles folded into Q; the CUDA finish kernel's formula).
//
// The result differs from the float product of x~ only by the fixed-point
// rounding of x~ (at most 2^(E-16) <= ~2^-15·max|x~| per element). The scalar
// loop computes the same integers (Σ nibble·q directly) and the same float
// formula, so every path gives the same bits. A token with a non-finite x~
// gives a NaN row (CUDA: kE8TokenInvalid); an all-zero token gives zeros.
// Rows run in parallel on LibTorch's intra-op pool (this file is compiled
// with OpenMP: see kernels/CMakeLists.txt).
//
// Prefill (B >= 17): tiles of rows decode to float W~ and multiply with a GEMM.

#include "kernels/e8_shell_linear.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include <ATen/Parallel.h>
#include <torch/torch.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define GLQ_E8_X86 1
#endif

#include "core/common/error.h"

namespace glq::kernels::cpu {
namespace {

constexpr int kMaxStages = 4;
constexpr int64_t kGemmMinBatch = 17;  // from here on: decode tiles + GEMM
constexpr int64_t kGemmTileRows = 256;
constexpr int64_t kMaxCols = int64_t{1} << 20;  // int32 sums stay exact up to here
constexpr int kBlockBytes = 128;                // limbs of one token and 64 columns: hiE hiO loE loO
constexpr int kPrefetchBytes = 1024;           // how far ahead of the kernel the codes are fetched
constexpr int kQMax = 32639;                    // |q| bound that keeps hi = (q + 128) >> 8 <= 127

struct Problem {
    int64_t B = 0, n = 0, n8 = 0, m = 0;
    int64_t nblk = 0;  // blocks of 64 columns (8 groups), the last one zero padded
    int S = 1;
    const uint16_t* codes[kMaxStages] = {};
    float w[kMaxStages] = {};   // w_s
    float hw[kMaxStages] = {};  // ½ · w_s (float decode)
    const uint32_t* table = nullptr;
    float* y = nullptr;  // [B, m]
    // The tokens in fixed point (step 1).
    const int8_t* limbs = nullptr;  // [B][nblk][128]
    const int16_t* q = nullptr;     // [B][n]
    const int* exps = nullptr;      // [B]
    const int64_t* qsum = nullptr;  // [B]
    const uint8_t* bad = nullptr;   // [B]: a non-finite x~
};

// ---- step 1: the tokens in 16-bit fixed point ------------------------------

struct Tokens {
    std::vector<int8_t> limbs;
    std::vector<int16_t> q;
    std::vector<int> exps;
    std::vector<int64_t> qsum;
    std::vector<uint8_t> bad;
};

// The byte of token block where column c's limb goes: the nibble split puts
// group g's word at bytes 4g..4g+3, its even nibbles (t = 0, 2, 4, 6) in the
// first vector and its odd ones in the second.
inline int limb_offset(int64_t c) {
    const int g = static_cast<int>((c >> 3) & 7), t = static_cast<int>(c & 7);
    return (t & 1) * 32 + 4 * g + (t >> 1);
}

void quantise_tokens(const float* xt, int64_t B, int64_t n, int64_t nblk, Tokens& tk) {
    tk.limbs.assign(static_cast<size_t>(B * nblk * kBlockBytes), 0);
    tk.q.assign(static_cast<size_t>(B * n), 0);
    tk.exps.assign(static_cast<size_t>(B), 0);
    tk.qsum.assign(static_cast<size_t>(B), 0);
    tk.bad.assign(static_cast<size_t>(B), 0);
    for (int64_t b = 0; b < B; ++b) {
        const float* x = xt + b * n;
        float amax = 0.0f;
        bool finite = true;
        for (int64_t c = 0; c < n; ++c) {
            finite = finite && std::isfinite(x[c]);
            amax = std::max(amax, std::fabs(x[c]));
        }
        if (!finite) {
            tk.bad[static_cast<size_t>(b)] = 1;
            continue;
        }
        int e = 0;
        if (amax > 0.0f) {
            const float f = std::frexp(amax, &e);  // amax = f·2^e, f in [0.5, 1)
            if (f * 32768.0f >= kQMax + 0.5f) ++e;  // q would round past kQMax: one more bit of headroom
        }
        // x·2^(15-e) is exact in double for every float x and e.
        const double mul = std::ldexp(1.0, 15 - e);
        int16_t* qb = tk.q.data() + b * n;
        int8_t* lb = tk.limbs.data() + b * nblk * kBlockBytes;
        int64_t qs = 0;
        for (int64_t c = 0; c < n; ++c) {
            const int q = std::clamp(static_cast<int>(std::nearbyint(static_cast<double>(x[c]) * mul)), -kQMax, kQMax);
            const int hi = (q + 128) >> 8, lo = q - 256 * hi;
            qb[c] = static_cast<int16_t>(q);
            qs += q;
            int8_t* blk = lb + (c >> 6) * kBlockBytes;
            blk[limb_offset(c)] = static_cast<int8_t>(hi);
            blk[64 + limb_offset(c)] = static_cast<int8_t>(lo);
        }
        tk.exps[static_cast<size_t>(b)] = e;
        tk.qsum[static_cast<size_t>(b)] = qs;
    }
}

// ---- step 3: the float result of one row and token ---------------------------

// P[s] = Σ nibble·q of stage s. Not inlined: compiled once, without the
// kernels' FMA target, so that no path contracts its multiply-add into an FMA
// and every path rounds the same way (the same bits).
__attribute__((noinline)) float finish(const Problem& p, int64_t b, const int64_t* P) {
    if (p.bad[b]) return std::numeric_limits<float>::quiet_NaN();
    const int64_t q6 = 6 * p.qsum[b];
    float acc = 0.0f;
    for (int s = 0; s < p.S; ++s) acc += p.w[s] * static_cast<float>(P[s] - q6);
    const int sh = p.exps[b] - 16;
    // A power of two times acc: exact (and the same bits as ldexpf) where 2^sh is normal.
    return sh >= -126 ? acc * std::ldexp(1.0f, sh) : std::ldexp(acc, sh);
}

// ---- the scalar loop ----------------------------------------------------------

void rows_scalar(const Problem& p, int64_t r0, int64_t r1) {
    std::vector<int64_t> P(static_cast<size_t>(p.B * p.S));
    for (int64_t i = r0; i < r1; ++i) {
        std::fill(P.begin(), P.end(), 0);
        for (int s = 0; s < p.S; ++s) {
            const uint16_t* c = p.codes[s] + i * p.n8;
            for (int64_t j = 0; j < p.n8; ++j) {
                const uint32_t word = p.table[c[j]];
                for (int64_t b = 0; b < p.B; ++b) {
                    const int16_t* q = p.q + b * p.n + 8 * j;
                    int64_t d = 0;
                    for (int t = 0; t < 8; ++t) d += static_cast<int64_t>((word >> (4 * t)) & 0xFu) * q[t];
                    P[static_cast<size_t>(b * p.S + s)] += d;
                }
            }
        }
        for (int64_t b = 0; b < p.B; ++b) p.y[b * p.m + i] = finish(p, b, P.data() + b * p.S);
    }
}

// The eight weights of group j of row i: Σ_s ½·w_s·(nibble_t - 6).
inline void group_weights_scalar(const Problem& p, int64_t i, int64_t j, float* v) {
    for (int t = 0; t < 8; ++t) v[t] = 0.0f;
    for (int s = 0; s < p.S; ++s) {
        const uint32_t word = p.table[p.codes[s][i * p.n8 + j]];
        for (int t = 0; t < 8; ++t) v[t] += p.hw[s] * static_cast<float>(static_cast<int>((word >> (4 * t)) & 0xFu) - 6);
    }
}

void decode_scalar(const Problem& p, int64_t r0, int64_t r1, float* out) {
    for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = 0; j < p.n8; ++j) group_weights_scalar(p, i, j, out + (i - r0) * p.n + 8 * j);
}

#ifdef GLQ_E8_X86
// ---- the AVX2 / VNNI integer kernel --------------------------------------------
// One body (e8_shell_linear_int.inc), compiled twice: for AVX2 alone and
// with AVX-VNNI; each copy has only its own instruction set enabled.
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace int_avx2 {
constexpr bool kVnni = false;
#include "kernels/cpu/e8_shell_linear_int.inc"
} // namespace int_avx2
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx2,fma,avxvnni")
namespace int_vnni {
constexpr bool kVnni = true;
#include "kernels/cpu/e8_shell_linear_int.inc"
} // namespace int_vnni
#pragma GCC pop_options

// ---- the float decode (GEMM route) ---------------------------------------------

__attribute__((target("avx2,fma"))) inline __m256 group_weights_avx2(const Problem& p, const uint16_t* const* rowc,
                                                                      int64_t j) {
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    const __m256i mask = _mm256_set1_epi32(0xF);
    const __m256i six = _mm256_set1_epi32(6);
    __m256 v = _mm256_setzero_ps();
    for (int s = 0; s < p.S; ++s) {
        const __m256i word = _mm256_set1_epi32(static_cast<int>(p.table[rowc[s][j]]));
        const __m256i nib = _mm256_sub_epi32(_mm256_and_si256(_mm256_srlv_epi32(word, shifts), mask), six);
        v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(nib), _mm256_set1_ps(p.hw[s]), v);
    }
    return v;
}

__attribute__((target("avx2,fma"))) void decode_avx2(const Problem& p, int64_t r0, int64_t r1, float* out) {
    for (int64_t i = r0; i < r1; ++i) {
        const uint16_t* rowc[kMaxStages];
        for (int s = 0; s < p.S; ++s) rowc[s] = p.codes[s] + i * p.n8;
        for (int64_t j = 0; j < p.n8; ++j) _mm256_storeu_ps(out + (i - r0) * p.n + 8 * j, group_weights_avx2(p, rowc, j));
    }
}
#endif

std::atomic<bool> g_force_scalar{false};
std::atomic<bool> g_no_vnni{false};

bool avx2() {
#ifdef GLQ_E8_X86
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has && !g_force_scalar.load(std::memory_order_relaxed);
#else
    return false;
#endif
}

bool avx_vnni() {
#ifdef GLQ_E8_X86
    static const bool has = __builtin_cpu_supports("avxvnni");
    return has && avx2() && !g_no_vnni.load(std::memory_order_relaxed);
#else
    return false;
#endif
}

Problem make_problem(const std::vector<torch::Tensor>& codes, const std::vector<float>& stage_w, const uint32_t* table) {
    if (codes.empty() || codes.size() > kMaxStages || stage_w.size() != codes.size() || !table)
        throw Error("E8 shell linear (CPU)", "needs 1-4 stages of codes with one weight each and a table");
    Problem p;
    p.S = static_cast<int>(codes.size());
    p.m = codes[0].size(0);
    p.n8 = codes[0].size(1);
    p.n = 8 * p.n8;
    p.nblk = (p.n8 + 7) / 8;
    for (int s = 0; s < p.S; ++s) {
        const torch::Tensor& c = codes[static_cast<size_t>(s)];
        if (c.device().type() != torch::kCPU || c.scalar_type() != torch::kInt16 || !c.is_contiguous() || c.dim() != 2 ||
            c.size(0) != p.m || c.size(1) != p.n8)
            throw Error("E8 shell linear (CPU)", "stage " + std::to_string(s + 1) + " codes must be contiguous CPU int16 [" +
                                                     std::to_string(p.m) + ", " + std::to_string(p.n8) + "]");
        p.codes[s] = reinterpret_cast<const uint16_t*>(c.data_ptr<int16_t>());
        p.w[s] = stage_w[static_cast<size_t>(s)];
        p.hw[s] = 0.5f * stage_w[static_cast<size_t>(s)];
    }
    p.table = table;
    return p;
}

int64_t grain_rows(const Problem& p) {
    return std::max<int64_t>(4, 16384 / std::max<int64_t>(1, p.n8 * p.S));
}

} // namespace

bool e8_shell_has_avx2() { return avx2(); }
bool e8_shell_has_avx_vnni() { return avx_vnni(); }
void e8_shell_force_scalar(bool on) { g_force_scalar.store(on); }
void e8_shell_disable_vnni(bool on) { g_no_vnni.store(on); }

torch::Tensor e8_shell_decode_rows(const std::vector<torch::Tensor>& codes, const std::vector<float>& stage_w,
                                   const uint32_t* table, int64_t r0, int64_t rows) {
    const Problem p = make_problem(codes, stage_w, table);
    if (r0 < 0 || rows < 0 || r0 + rows > p.m) throw Error("E8 shell linear (CPU)", "row range out of bounds");
    torch::Tensor out = torch::empty({rows, p.n}, torch::kFloat32);
    float* o = out.data_ptr<float>();
    at::parallel_for(r0, r0 + rows, grain_rows(p), [&](int64_t a, int64_t b) {
#ifdef GLQ_E8_X86
        if (avx2()) { decode_avx2(p, a, b, o + (a - r0) * p.n); return; }
#endif
        decode_scalar(p, a, b, o + (a - r0) * p.n);
    });
    return out;
}

torch::Tensor e8_shell_matmul(const torch::Tensor& xt, const std::vector<torch::Tensor>& codes,
                              const std::vector<float>& stage_w, const uint32_t* table) {
    Problem p = make_problem(codes, stage_w, table);
    if (xt.device().type() != torch::kCPU || xt.scalar_type() != torch::kFloat32 || !xt.is_contiguous() || xt.dim() != 2 ||
        xt.size(1) != p.n)
        throw Error("E8 shell linear (CPU)", "x~ must be contiguous CPU float32 [B, " + std::to_string(p.n) + "]");
    p.B = xt.size(0);
    torch::Tensor y = torch::empty({p.B, p.m}, torch::kFloat32);
    if (p.B == 0 || p.m == 0) return y;
    if (p.B >= kGemmMinBatch) {
        // Prefill: decode a tile of rows once, multiply it with the GEMM.
        for (int64_t r0 = 0; r0 < p.m; r0 += kGemmTileRows) {
            const int64_t rows = std::min(kGemmTileRows, p.m - r0);
            const torch::Tensor tile = e8_shell_decode_rows(codes, stage_w, table, r0, rows);
            y.narrow(1, r0, rows).copy_(torch::mm(xt, tile.t()));
        }
        return y;
    }
    if (p.n > kMaxCols)
        throw Error("E8 shell linear (CPU)", "in_features " + std::to_string(p.n) + " exceeds " + std::to_string(kMaxCols) +
                                                 " (the int32 sums of the decode path)");
    thread_local Tokens tk;
    quantise_tokens(xt.data_ptr<float>(), p.B, p.n, p.nblk, tk);
    p.limbs = tk.limbs.data();
    p.q = tk.q.data();
    p.exps = tk.exps.data();
    p.qsum = tk.qsum.data();
    p.bad = tk.bad.data();
    p.y = y.data_ptr<float>();
    at::parallel_for(0, p.m, grain_rows(p), [&](int64_t a, int64_t b) {
#ifdef GLQ_E8_X86
        if (avx_vnni()) { int_vnni::rows_int(p, a, b); return; }
        if (avx2()) { int_avx2::rows_int(p, a, b); return; }
#endif
        rows_scalar(p, a, b);
    });
    return y;
}

} // namespace glq::kernels::cpu
