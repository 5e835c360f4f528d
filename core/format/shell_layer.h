#pragma once
// One quantized linear in the reference's e8_shell checkpoint layout (§1.3b
// of the format notes), as read from and written to model.safetensors:
//
//   Qidxs, Qidxs2.. Qidxs4   int16 [m, n/8]  (uint16 codebook indices, bit pattern)
//   inv_resid_scale{,2,3}    float32 []      cumulative 1/prod(rs), stages 2..4
//   SU float16 [m], SV float16 [n], Wscale float32 []
//
// and its decode: codes -> W~ (the RHT domain) -> Ŵ = diag(SU)·BD_m·W~·BD_n·diag(SV).
// This is the format's side of a layer; the quantizer (core/quant) produces
// it, the engine's linears (decoded_linear.h, compressed_linear.h) run it.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/types.h>

#include "core/format/layer_tensor_source.h"

namespace glq::format {

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

// The layer's tensors under their checkpoint suffixes: Qidxs, Qidxs2..,
// inv_resid_scale.. (a stage the layer does not have as 0, see the .cpp),
// SU, SV, Wscale, bias.
std::vector<std::pair<std::string, torch::Tensor>> shell_layer_tensors(const ShellLayerArtifacts& a);
// Reads them back: stages 2..4 are present when their indices exist and their
// cumulative scale is nonzero (the reference's rule). Without a recorded
// `bpw`, an odd rate is recognised by a last stage inside the 256-row table.
// Validated; throws glq::Error naming the file and tensor.
ShellLayerArtifacts read_shell_layer(const LayerTensorSource& source, std::optional<int> bpw);

// W~ (RHT domain, float32 [m, n]) on `device`.
torch::Tensor decode_rht_weight(const ShellLayerArtifacts& a, const torch::Device& device = torch::kCPU);
// Ŵ in the original domain, float32 [m, n] on `device`: exactly the w_hat
// quantize_layer returned for the same artifacts on the same device.
torch::Tensor dequantize_layer(const ShellLayerArtifacts& a, const torch::Device& device = torch::kCPU);

// Inverse of the RHT: W = diag(SU) · BD_m · W~ · BD_n · diag(SV) for W~ [m, n].
torch::Tensor inverse_rht_weight(const torch::Tensor& wt, const torch::Tensor& su, const torch::Tensor& sv);

} // namespace glq::format
