#pragma once
// One linear layer through the GLQ e8_shell pipeline, as the reference's
// quantize_layer_e8_shell_rht does it: damp H by 1% of its mean diagonal,
// RHT both sides of W and the input side of H (seed-42 signs), LDLQ at the
// layer's bit rate, and the artifacts in the checkpoint's layout (§1.3b):
//
//   Qidxs, Qidxs2.. Qidxs4   int16 [m, n/8]  (uint16 codebook indices, bit pattern)
//   inv_resid_scale{,2,3}    float32 []      cumulative 1/prod(rs), stages 2..4
//   SU float16 [m], SV float16 [n], Wscale float32 []
//
// and the inverse: artifacts -> W~ -> Ŵ = diag(SU)·BD_m·W~·BD_n·diag(SV).
// We require in_features % 8 == 0 (no column padding): the reference pads to
// a multiple of 8 after the RHT, but a padded n block-decomposes differently
// on load, so such a layer would not round-trip; every model we support has
// n % 8 == 0 and anything else gets a clear error.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/common/progress.h"
#include "core/quant/ldlq.h"

namespace glq::quant {

// A quantized linear in the reference's e8_shell format.
struct ShellLayerArtifacts {
    int bpw = 2;                             // 2..8 (recorded in config.json's layer_bpw)
    std::vector<torch::Tensor> qidxs;        // 1..4 stages, int16 [m, n/8], CPU or device
    std::vector<float> inv_resid_scale;      // cumulative weights of stages 2.. (size stages-1)
    torch::Tensor su;                        // float16 [m], ±1
    torch::Tensor sv;                        // float16 [n], ±1
    float wscale = 1.0f;
    torch::Tensor bias;                      // undefined unless the linear has a bias

    int64_t out_features() const { return qidxs.empty() ? 0 : qidxs.front().size(0); }
    int64_t in_features() const { return qidxs.empty() ? 0 : 8 * qidxs.front().size(1); }
    int64_t num_stages() const { return static_cast<int64_t>(qidxs.size()); }
    // {1, inv_resid_scale...}: the per-stage weights of the decode.
    std::vector<float> stage_weights() const;
    // Bytes the format stores for this layer (indices, signs, scales, bias).
    uint64_t storage_bytes() const;
    // Checks stage count against bpw, dtypes, shapes, ±1 signs, finite nonzero
    // scales; throws glq::Error naming `where` (the layer prefix / file).
    void validate(const std::string& where) const;
};

struct LayerQuantOptions {
    int bpw = 2;
    double damping = 0.01;      // relative, applied before the RHT (and again inside LDLQ)
    uint64_t sign_seed = 42;    // the reference's RHT seed
    bool error_feedback = true;
    int tune_iters = 0;         // LDLQ refinement passes (LdlqOptions::tune_iters)
    const CancelToken* cancel = nullptr;
    ProgressFn progress;
};

struct LayerQuantMetrics {
    int bpw = 2;
    int64_t rows = 0, cols = 0;
    double proxy_loss = 0.0;           // tr(ΔW~·H~·ΔW~ᵀ)/m, H~ damped once (the reference's metric)
    double relative_proxy_loss = 0.0;  // proxy_loss / (tr(W~·H~·W~ᵀ)/m)
    double sqnr_db = 0.0;              // 10·log10(Σ W² / Σ (W - Ŵ)²), original domain
    double mse = 0.0;                  // mean((W - Ŵ)²)
    double wscale = 1.0;
    DampingTier damping_tier = DampingTier::Normal;
    double seconds = 0.0;
};

struct QuantizedLayer {
    ShellLayerArtifacts artifacts;  // on the CPU
    torch::Tensor w_hat;            // float32 [m, n], original domain, on W's device
    LayerQuantMetrics metrics;
};

// W [m, n] (out, in) and H [n, n] (the layer input's XᵀX/N). Runs on W's
// device. `bias` (optional, [m]) is carried into the artifacts untouched.
QuantizedLayer quantize_layer(const torch::Tensor& w, const torch::Tensor& h, const LayerQuantOptions& options,
                              const torch::Tensor& bias = {});

// W~ (RHT domain, float32 [m, n]) on `device`.
torch::Tensor decode_rht_weight(const ShellLayerArtifacts& a, const torch::Device& device = torch::kCPU);
// Ŵ in the original domain, float32 [m, n] on `device`: exactly the w_hat
// quantize_layer returned for the same artifacts on the same device.
torch::Tensor dequantize_layer(const ShellLayerArtifacts& a, const torch::Device& device = torch::kCPU);

} // namespace glq::quant
