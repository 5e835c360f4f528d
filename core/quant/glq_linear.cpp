// GLQ e8_shell linear for the engine (see glq_linear.h).

#include "core/quant/glq_linear.h"

#include "core/common/error.h"
#include "core/quant/rht.h"

namespace glq::quant {

GlqLinear::GlqLinear(const ShellLayerArtifacts& artifacts, const torch::Device& device, torch::ScalarType weight_dtype,
                     const std::string& prefix) {
    if (weight_dtype != torch::kFloat32 && weight_dtype != torch::kBFloat16 && weight_dtype != torch::kFloat16)
        throw Error(prefix, std::string("unsupported weight dtype ") + c10::toString(weight_dtype));
    artifacts.validate(prefix);
    in_features_ = artifacts.in_features();
    out_features_ = artifacts.out_features();
    bpw_ = artifacts.bpw;
    storage_bytes_ = artifacts.storage_bytes();
    w_tilde_ = decode_rht_weight(artifacts, device).to(weight_dtype).contiguous();
    su_ = artifacts.su.to(device, torch::kFloat32);
    sv_ = artifacts.sv.to(device, torch::kFloat32);
    if (artifacts.bias.defined()) bias_ = artifacts.bias.to(device, torch::kFloat32);
}

torch::Tensor GlqLinear::forward(const torch::Tensor& x) const {
    // Input side: x^ = BD_n(SV ⊙ x), in float32.
    const torch::Tensor xt = block_hadamard(x.to(torch::kFloat32) * sv_);
    // RHT-domain product, accumulated in float32 for reduced-precision weights.
    torch::Tensor yt = torch::matmul(xt.to(w_tilde_.scalar_type()), w_tilde_.t()).to(torch::kFloat32);
    // Output side: y = SU ⊙ BD_m(y^).
    torch::Tensor y = block_hadamard(yt) * su_;
    if (bias_.defined()) y = y + bias_;
    return y.to(x.scalar_type());
}

uint64_t GlqLinear::resident_bytes() const {
    uint64_t bytes = static_cast<uint64_t>(w_tilde_.numel()) * w_tilde_.element_size();
    bytes += static_cast<uint64_t>(su_.numel() + sv_.numel()) * 4;
    if (bias_.defined()) bytes += static_cast<uint64_t>(bias_.numel()) * 4;
    return bytes;
}

} // namespace glq::quant
