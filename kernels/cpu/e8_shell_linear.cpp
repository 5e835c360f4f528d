// CPU kernels of the compressed E8 shell linear (see kernels/e8_shell_linear.h).
//
// Per group of 8 input columns and row: each stage's code loads its packed
// row (one 32-bit word from the 256 KB table, which stays in L2), the word is
// broadcast and shifted into its eight nibbles, (nibble - 6) · ½ · w_s gives
// the eight weights, summed over the stages; then one FMA per token with the
// eight activations. Two rows share each activation load. Rows run in
// parallel on LibTorch's intra-op pool.

#include "kernels/e8_shell_linear.h"

#include <algorithm>
#include <atomic>
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

struct Problem {
    const float* xt = nullptr;  // [B, n]
    int64_t B = 0, n = 0, n8 = 0, m = 0;
    int S = 1;
    const uint16_t* codes[kMaxStages] = {};
    float hw[kMaxStages] = {};  // ½ · w_s
    const uint32_t* table = nullptr;
    float* y = nullptr;  // [B, m]
};

// The eight weights of group j of row i: Σ_s ½·w_s·(nibble_t - 6).
inline void group_weights_scalar(const Problem& p, int64_t i, int64_t j, float* v) {
    for (int t = 0; t < 8; ++t) v[t] = 0.0f;
    for (int s = 0; s < p.S; ++s) {
        const uint32_t word = p.table[p.codes[s][i * p.n8 + j]];
        for (int t = 0; t < 8; ++t) v[t] += p.hw[s] * static_cast<float>(static_cast<int>((word >> (4 * t)) & 0xFu) - 6);
    }
}

void rows_scalar(const Problem& p, int64_t r0, int64_t r1) {
    float v[8];
    std::vector<double> acc(static_cast<size_t>(p.B));
    for (int64_t i = r0; i < r1; ++i) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t j = 0; j < p.n8; ++j) {
            group_weights_scalar(p, i, j, v);
            for (int64_t b = 0; b < p.B; ++b) {
                const float* x = p.xt + b * p.n + 8 * j;
                float s = 0.0f;
                for (int t = 0; t < 8; ++t) s += v[t] * x[t];
                acc[static_cast<size_t>(b)] += s;
            }
        }
        for (int64_t b = 0; b < p.B; ++b) p.y[b * p.m + i] = static_cast<float>(acc[static_cast<size_t>(b)]);
    }
}

void decode_scalar(const Problem& p, int64_t r0, int64_t r1, float* out) {
    for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = 0; j < p.n8; ++j) group_weights_scalar(p, i, j, out + (i - r0) * p.n + 8 * j);
}

#ifdef GLQ_E8_X86
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

__attribute__((target("avx2,fma"))) inline float hsum_avx2(__m256 v) {
    const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    __m128 s = _mm_add_ps(lo, hi);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

// R rows × NB tokens [b0, b0 + NB).
template <int R, int NB>
__attribute__((target("avx2,fma"))) void block_avx2(const Problem& p, int64_t i0, int64_t b0) {
    const uint16_t* rowc[R][kMaxStages];
    for (int r = 0; r < R; ++r)
        for (int s = 0; s < p.S; ++s) rowc[r][s] = p.codes[s] + (i0 + r) * p.n8;
    __m256 acc[R][NB];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < NB; ++t) acc[r][t] = _mm256_setzero_ps();
    const float* x0 = p.xt + b0 * p.n;
    for (int64_t j = 0; j < p.n8; ++j) {
        __m256 w[R];
        for (int r = 0; r < R; ++r) w[r] = group_weights_avx2(p, rowc[r], j);
        for (int t = 0; t < NB; ++t) {
            const __m256 x = _mm256_loadu_ps(x0 + t * p.n + 8 * j);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(w[r], x, acc[r][t]);
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < NB; ++t) p.y[(b0 + t) * p.m + i0 + r] = hsum_avx2(acc[r][t]);
}

template <int R>
void tokens_avx2(const Problem& p, int64_t i0) {
    int64_t b = 0;
    for (; b + 4 <= p.B; b += 4) block_avx2<R, 4>(p, i0, b);
    if (b + 2 <= p.B) { block_avx2<R, 2>(p, i0, b); b += 2; }
    if (b < p.B) block_avx2<R, 1>(p, i0, b);
}

void rows_avx2(const Problem& p, int64_t r0, int64_t r1) {
    int64_t i = r0;
    for (; i + 2 <= r1; i += 2) tokens_avx2<2>(p, i);
    if (i < r1) tokens_avx2<1>(p, i);
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

bool avx2() {
#ifdef GLQ_E8_X86
    static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return has && !g_force_scalar.load(std::memory_order_relaxed);
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
    for (int s = 0; s < p.S; ++s) {
        const torch::Tensor& c = codes[static_cast<size_t>(s)];
        if (c.device().type() != torch::kCPU || c.scalar_type() != torch::kInt16 || !c.is_contiguous() || c.dim() != 2 ||
            c.size(0) != p.m || c.size(1) != p.n8)
            throw Error("E8 shell linear (CPU)", "stage " + std::to_string(s + 1) + " codes must be contiguous CPU int16 [" +
                                                     std::to_string(p.m) + ", " + std::to_string(p.n8) + "]");
        p.codes[s] = reinterpret_cast<const uint16_t*>(c.data_ptr<int16_t>());
        p.hw[s] = 0.5f * stage_w[static_cast<size_t>(s)];
    }
    p.table = table;
    return p;
}

int64_t grain_rows(const Problem& p) {
    return std::max<int64_t>(2, 16384 / std::max<int64_t>(1, p.n8 * p.S));
}

} // namespace

bool e8_shell_has_avx2() { return avx2(); }
void e8_shell_force_scalar(bool on) { g_force_scalar.store(on); }

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
    p.xt = xt.data_ptr<float>();
    p.y = y.data_ptr<float>();
    at::parallel_for(0, p.m, grain_rows(p), [&](int64_t a, int64_t b) {
#ifdef GLQ_E8_X86
        if (avx2()) { rows_avx2(p, a, b); return; }
#endif
        rows_scalar(p, a, b);
    });
    return y;
}

} // namespace glq::kernels::cpu
