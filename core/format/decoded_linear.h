#pragma once
// A GLQ linear of any codebook dequantised on load (model::LinearOp): the
// reference path the compressed linears are tested against, chosen with
// --decode-on-load.
//   Ŵ = SU ⊙ BD_m( W~ ) BD_n ⊙ SV,   W~ = the codebook's decode of the codes
// is decoded once, in float32, and kept in the weight dtype chosen at load;
// forward is then an ordinary y = x·Ŵᵀ (+ bias). It holds a dense copy of the
// weight, so it saves no memory: compressed_linear.h is the default, which
// keeps the codes and multiplies against them.

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "core/format/layer_codes.h"
#include "core/model/linear.h"

namespace glq::format {

class DecodedGlqLinear final : public model::LinearOp {
public:
    // Validates the codes (throwing glq::Error naming `prefix`) and decodes
    // Ŵ on `device` in `weight_dtype` (float32, bfloat16 or float16).
    DecodedGlqLinear(const LayerCodes& codes, const torch::Device& device,
                       torch::ScalarType weight_dtype = torch::kFloat32, const std::string& prefix = "GLQ linear");

    torch::Tensor forward(const torch::Tensor& x) const override;
    int64_t in_features() const override { return in_features_; }
    int64_t out_features() const override { return out_features_; }
    std::string kind() const override { return "glq-decoded"; }
    // The checkpoint's bytes for this layer (indices, signs, scales, bias).
    uint64_t storage_bytes() const override { return storage_bytes_; }
    // What the decoded weight (and bias) occupy on the device.
    uint64_t resident_bytes() const override;
    int bpw() const { return bpw_; }
    // Ŵ [out, in] in the weight dtype: exactly what forward multiplies by.
    const torch::Tensor& weight() const { return w_hat_; }

private:
    int64_t in_features_ = 0;
    int64_t out_features_ = 0;
    int bpw_ = 2;
    uint64_t storage_bytes_ = 0;
    torch::Tensor w_hat_;  // [m, n] original domain, weight dtype
    torch::Tensor bias_;   // [m] weight dtype, or undefined
};

} // namespace glq::format
