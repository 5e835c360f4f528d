// A GLQ linear, dequantised on load (see decoded_linear.h).

#include "core/format/decoded_linear.h"

#include "core/common/error.h"

namespace glq::format {

DecodedGlqLinear::DecodedGlqLinear(const LayerCodes& codes, const torch::Device& device, torch::ScalarType weight_dtype,
                                   const std::string& prefix) {
    if (weight_dtype != torch::kFloat32 && weight_dtype != torch::kBFloat16 && weight_dtype != torch::kFloat16)
        throw Error(prefix, std::string("unsupported weight dtype ") + c10::toString(weight_dtype));
    validate(codes, prefix);
    in_features_ = format::in_features(codes);
    out_features_ = format::out_features(codes);
    bpw_ = layer_bpw(codes);
    storage_bytes_ = format::storage_bytes(codes);
    w_hat_ = dequantize_layer(codes, device).to(weight_dtype).contiguous();
    if (layer_bias(codes).defined()) bias_ = layer_bias(codes).to(device, weight_dtype);
}

torch::Tensor DecodedGlqLinear::forward(const torch::Tensor& x) const {
    // The same product a dense nn.Linear of Ŵ computes, in the weight dtype.
    torch::Tensor y = torch::nn::functional::linear(x.to(w_hat_.scalar_type()), w_hat_, bias_);
    return y.to(x.scalar_type());
}

uint64_t DecodedGlqLinear::resident_bytes() const {
    uint64_t bytes = static_cast<uint64_t>(w_hat_.numel()) * w_hat_.element_size();
    if (bias_.defined()) bytes += static_cast<uint64_t>(bias_.numel()) * bias_.element_size();
    return bytes;
}

} // namespace glq::format
