#pragma once
// LDLQ as the reference `glq` package runs it (glq/ldlq.py for E8,
// glq/trellis.py trellis_ldlq for the trellis), with the codebook as an
// argument (core/codebook/codebook.h): a block LDL factorisation of the
// (RHT-domain) Hessian in blocks of the codebook's strip width, then a sweep
// over the column strips from the last to the first, each strip's target
// corrected by the Hessian-weighted error of the strips already quantised and
// encoded by the codebook through all its residual stages.
//
// Differences from the reference, all deliberate and format-neutral:
//  - The sweep runs in float32 on CPU and CUDA (the reference drops to fp16 on
//    CUDA); the Cholesky factorisation runs in float64.
//  - The E8 full->256 paired residual scale is searched on the reference's
//    grid with a seeded generator, so a run is reproducible (the reference
//    draws unseeded samples). Only the cumulative 1/prod(rs) values are
//    stored, so any choice decodes correctly everywhere.
//  - The proxy loss is measured against the Hessian the caller passed (not the
//    heavier-damped or identity fallback), so losses stay comparable across
//    layers and bit rates.

#include <cstdint>
#include <optional>
#include <vector>

#include <torch/types.h>

#include "core/codebook/codebook.h"
#include "core/common/progress.h"
#include "core/format/layer_metrics.h"

namespace glq::quant {

// H = L · blockdiag(D) · Lᵀ with L unit block-lower-triangular (identity
// diagonal blocks) and D the b×b diagonal blocks. Computed in float64.
struct BlockLdl {
    torch::Tensor L;  // [n, n] float64
    torch::Tensor D;  // [n/b, b, b] float64
};
// Returns nullopt when H is not (numerically) positive definite.
std::optional<BlockLdl> try_block_ldl(const torch::Tensor& h, int64_t block);
// Same, throwing glq::Error when H is not positive definite.
BlockLdl block_ldl(const torch::Tensor& h, int64_t block);

struct LdlqOptions {
    // false: plain nearest rounding of every block (for comparisons/tests).
    bool error_feedback = true;
    // Relative damping added inside LDLQ: H + damp·mean(diag H)·I (the
    // reference's second 1%).
    double damping = 0.01;
    // Refinement passes after the sweep (the reference's --tune-iters): each
    // pass visits the strips again, last to first, and re-encodes strip k
    // towards the proxy's optimum with every other strip fixed,
    //   target = Ŵ_k + ((W - Ŵ)·H)_k · H_kk⁻¹,
    // through all residual stages. Unlike the reference, a group of rows (one
    // row for E8, one 16-row tile band for the trellis) keeps its new codes
    // only when they lower its proxy loss (the exact change is cheap:
    // -2·δ·E_k + δ·H_kk·δᵀ per row), so a pass never makes a layer worse.
    int tune_iters = 0;
    const CancelToken* cancel = nullptr;
    ProgressFn progress;  // called every few blocks, unit "blocks"
};

using format::DampingTier;

struct LdlqResult {
    codebook::CodebookKind codebook = codebook::CodebookKind::E8Shell;
    int bpw = 2;
    // Per stage, the codebook's layer codes (RateEncoder::assemble): E8 int64
    // indices [m, n/8] (values < the stage's table size); trellis int32
    // states [tiles, 256/V].
    std::vector<torch::Tensor> codes;
    std::vector<float> stage_weights;  // 1, 1/rs, ... as stored
    float wscale = 1.0f;       // rms(W)·opt_scale (1 when W is ~0)
    torch::Tensor w_hat;       // [m, n] float32, decoded exactly as a reader would
    double proxy_loss = 0.0;   // tr(ΔW·H·ΔWᵀ)/m with the H passed in
    double relative_proxy_loss = 0.0;  // proxy_loss / (tr(W·H·Wᵀ)/m)
    double mse = 0.0;          // mean((W - Ŵ)²)
    DampingTier damping_tier = DampingTier::Normal;
};

// Quantises W [m, n] against H [n, n] with `codebook` at `bpw`. W and H are
// both in the same (usually RHT) domain; the work runs on W's device in
// float32. Throws glq::Error on bad shapes (the codebook's own rules) or bpw,
// glq::Cancelled when the token fires.
LdlqResult ldlq_quantize(const torch::Tensor& w, const torch::Tensor& h, const codebook::Codebook& codebook, int bpw,
                         const LdlqOptions& options = {});

// tr(ΔW·H·ΔWᵀ)/m in float64.
double proxy_loss(const torch::Tensor& w, const torch::Tensor& w_hat, const torch::Tensor& h);

} // namespace glq::quant
