#pragma once
// A GLQ e8_shell linear for the engine (model::LinearOp):
//   y = SU ⊙ BD_m( (BD_n(SV ⊙ x)) · W~ᵀ ) (+ bias)
// The weight never leaves the RHT domain: W~ is decoded from the indices once
// at load (dequantise-on-load) and the two Hadamard transforms run on the
// activations. The transforms run in float32 whatever the activation dtype
// (as the reference does); the matmul runs in the weight dtype chosen at load.

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "core/model/linear.h"
#include "core/quant/quantize_layer.h"

namespace glq::quant {

class GlqLinear final : public model::LinearOp {
public:
    // Validates the artifacts (throwing glq::Error naming `prefix`) and decodes
    // W~ on `device` in `weight_dtype` (float32, bfloat16 or float16).
    GlqLinear(const ShellLayerArtifacts& artifacts, const torch::Device& device,
              torch::ScalarType weight_dtype = torch::kFloat32, const std::string& prefix = "GLQ linear");

    torch::Tensor forward(const torch::Tensor& x) const override;
    int64_t in_features() const override { return in_features_; }
    int64_t out_features() const override { return out_features_; }
    std::string kind() const override { return "glq"; }
    // The checkpoint's bytes for this layer (indices, signs, scales, bias).
    uint64_t storage_bytes() const override { return storage_bytes_; }
    // What the decoded weight occupies on the device now.
    uint64_t resident_bytes() const;
    int bpw() const { return bpw_; }
    const torch::Tensor& rht_weight() const { return w_tilde_; }

private:
    int64_t in_features_ = 0;
    int64_t out_features_ = 0;
    int bpw_ = 2;
    uint64_t storage_bytes_ = 0;
    torch::Tensor w_tilde_;  // [m, n] in weight dtype
    torch::Tensor su_;       // [m] float32
    torch::Tensor sv_;       // [n] float32
    torch::Tensor bias_;     // [m] float32 or undefined
};

} // namespace glq::quant
