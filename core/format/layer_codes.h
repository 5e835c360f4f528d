#pragma once
// A quantized linear as the checkpoint stores it, for every codebook: a closed
// set of types (std::variant), one per codebook, so that a caller dispatches
// with std::visit (or the helpers below) and never downcasts. Everything that
// reads or writes a layer's tensors goes through here: the checkpoint writer
// and reader (glq_checkpoint.h), the quantizer's resume files, the engine's
// linears.
//
//   e8_shell: shell_layer.h   (Qidxs.., inv_resid_scale.., SU, SV, Wscale)

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <torch/types.h>

#include "core/codebook/codebook.h"
#include "core/format/layer_tensor_source.h"
#include "core/format/shell_layer.h"

namespace glq::format {

using LayerCodes = std::variant<ShellLayerArtifacts>;

codebook::CodebookKind codebook_kind(const LayerCodes& codes);
int layer_bpw(const LayerCodes& codes);
int64_t out_features(const LayerCodes& codes);
int64_t in_features(const LayerCodes& codes);
// Bytes the format stores for this layer (codes, signs, scales, bias).
uint64_t storage_bytes(const LayerCodes& codes);
// Throws glq::Error naming `where` (the layer prefix / file) on anything a
// reader could not run.
void validate(const LayerCodes& codes, const std::string& where);
// Undefined unless the linear has a bias.
const torch::Tensor& layer_bias(const LayerCodes& codes);
const torch::Tensor& layer_su(const LayerCodes& codes);
const torch::Tensor& layer_sv(const LayerCodes& codes);

// W~ (RHT domain, float32 [m, n]) on `device`.
torch::Tensor decode_rht_weight(const LayerCodes& codes, const torch::Device& device = torch::kCPU);
// Ŵ in the original domain, float32 [m, n] on `device`: exactly the w_hat
// the quantizer returned for the same codes on the same device.
torch::Tensor dequantize_layer(const LayerCodes& codes, const torch::Device& device = torch::kCPU);

// The quantizer's output as stored codes: LDLQ's per-stage layer codes
// (codebook::RateEncoder::assemble) and stage weights, the RHT signs
// (float16 ±1), Wscale and the optional bias, all moved to the CPU.
LayerCodes make_layer_codes(codebook::CodebookKind kind, int bpw, const std::vector<torch::Tensor>& codes,
                            const std::vector<float>& stage_weights, const torch::Tensor& su, const torch::Tensor& sv,
                            float wscale, const torch::Tensor& bias);

// The layer's tensors under their checkpoint suffixes ("Qidxs", "SU", ...,
// "bias"), exactly as a checkpoint stores them.
std::vector<std::pair<std::string, torch::Tensor>> layer_tensors(const LayerCodes& codes);

// The inverse of layer_tensors for a layer stored with `kind`. `bpw`: the
// rate config.json records for it; nullopt when it records none (the
// codebook's own rule then decides). Validated; throws glq::Error.
LayerCodes read_layer_codes(codebook::CodebookKind kind, const LayerTensorSource& source, std::optional<int> bpw);

} // namespace glq::format
