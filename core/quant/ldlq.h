#pragma once
// LDLQ with the E8 shell codebook, as the reference `glq` package runs it
// (glq/ldlq.py, quantize_ldlq_codebook{,_2stage,_nstage}): a block LDL
// factorisation of the (RHT-domain) Hessian, then a sweep over 8-column
// blocks from the last to the first, each block's target corrected by the
// Hessian-weighted error of the blocks already quantised, and quantised by
// nearest E8 codeword with residual stages inside the block.
//
// Differences from the reference, all deliberate and format-neutral:
//  - The sweep runs in float32 on CPU and CUDA (the reference drops to fp16 on
//    CUDA); the Cholesky factorisation runs in float64.
//  - The full->256 paired residual scale is searched on the reference's grid
//    with a seeded generator, so a run is reproducible (the reference draws
//    unseeded samples). Only the cumulative 1/prod(rs) values are stored, so
//    any choice decodes correctly everywhere.
//  - The proxy loss is measured against the Hessian the caller passed (not the
//    heavier-damped or identity fallback), so losses stay comparable across
//    layers and bit rates.

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "core/codebook/e8_shell/shell_decode.h"
#include "core/common/progress.h"
#include "core/format/layer_metrics.h"

namespace glq::quant {

constexpr int64_t kLdlqBlock = codebook::kShellBlock;  // E8: one codeword per 8 columns
using codebook::kMaxShellBpw;
using codebook::kMinShellBpw;

// H = L · blockdiag(D) · Lᵀ with L unit block-lower-triangular (identity
// diagonal blocks) and D the b×b diagonal blocks. Computed in float64.
struct BlockLdl {
    torch::Tensor L;  // [n, n] float64
    torch::Tensor D;  // [n/b, b, b] float64
};
// Returns nullopt when H is not (numerically) positive definite.
std::optional<BlockLdl> try_block_ldl(const torch::Tensor& h, int64_t block = kLdlqBlock);
// Same, throwing glq::Error when H is not positive definite.
BlockLdl block_ldl(const torch::Tensor& h, int64_t block = kLdlqBlock);

// The residual-stage recipe of one bit rate (the reference's
// quantize_layer_e8_shell_rht): 16-bit stages use the whole 65,536-entry
// table, 8-bit stages its first 256 rows.
//   2: [full]  3: [full, 256]  4: [full, full]  5: [full, full, 256]
//   6: full×3  7: full×3 + 256  8: full×4
struct ShellRecipe {
    int bpw = 2;
    std::vector<int64_t> codebook_sizes;  // per stage: 65536 or 256
    // resid_scales[s] multiplies the residual before stage s+1 is quantised.
    std::vector<double> resid_scales;
    // Stage weights in the reconstruction, rounded to float32 exactly as they
    // are stored (inv_resid_scale*): 1, 1/rs1, 1/(rs1·rs2), ...
    std::vector<float> stage_weights;
    int64_t num_stages() const { return static_cast<int64_t>(codebook_sizes.size()); }
};
// Throws glq::Error for a bpw outside 2..8.
ShellRecipe shell_recipe(int bpw);

// The residual scale for a full -> 256-entry transition: the value on the
// reference's grid {0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30} that minimises the
// two-stage error on 8,000 standard normal 8-vectors drawn from a generator
// seeded with `seed`. Computed once per seed and cached.
double paired_resid_scale_full_to_small(uint64_t seed = 0);

struct LdlqOptions {
    // false: plain nearest rounding of every block (for comparisons/tests).
    bool error_feedback = true;
    // Relative damping added inside LDLQ: H + damp·mean(diag H)·I (the
    // reference's second 1%).
    double damping = 0.01;
    // Refinement passes after the sweep (the reference's --tune-iters): each
    // pass visits the blocks again, last to first, and re-quantises block k
    // towards the proxy's optimum with every other block fixed,
    //   target = Ŵ_k + ((W - Ŵ)·H)_k · H_kk⁻¹,
    // through all residual stages. Unlike the reference, a row keeps its new
    // codes only when they lower its proxy loss (the exact change is cheap:
    // -2·δ·E_k + δ·H_kk·δᵀ per row), so a pass never makes a layer worse.
    int tune_iters = 0;
    const CancelToken* cancel = nullptr;
    ProgressFn progress;  // called every few blocks, unit "blocks"
};

using format::DampingTier;

struct LdlqResult {
    // Per stage, codebook indices [m, n/8] int64 (values < the stage's codebook size).
    std::vector<torch::Tensor> indices;
    ShellRecipe recipe;
    float wscale = 1.0f;       // rms(W)·opt_scale (1 when W is ~0)
    torch::Tensor w_hat;       // [m, n] float32, decoded exactly as a reader would
    double proxy_loss = 0.0;   // tr(ΔW·H·ΔWᵀ)/m with the H passed in
    double relative_proxy_loss = 0.0;  // proxy_loss / (tr(W·H·Wᵀ)/m)
    double mse = 0.0;          // mean((W - Ŵ)²)
    DampingTier damping_tier = DampingTier::Normal;
};

// Quantises W [m, n] (n a multiple of 8) against H [n, n] at `bpw` (2..8).
// W and H are both in the same (usually RHT) domain; the work runs on W's
// device in float32. Throws glq::Error on bad shapes or bpw, glq::Cancelled
// when the token fires.
LdlqResult ldlq_quantize(const torch::Tensor& w, const torch::Tensor& h, int bpw,
                         const LdlqOptions& options = {});

using codebook::decode_shell;

// tr(ΔW·H·ΔWᵀ)/m in float64.
double proxy_loss(const torch::Tensor& w, const torch::Tensor& w_hat, const torch::Tensor& h);

} // namespace glq::quant
