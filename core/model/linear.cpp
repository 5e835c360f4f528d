#include "core/model/linear.h"

#include "core/common/error.h"

namespace glq::model {

DenseLinear::DenseLinear(torch::Tensor weight, std::optional<torch::Tensor> bias) : weight_(std::move(weight)) {
    if (weight_.dim() != 2) throw Error("DenseLinear", "weight must be 2-D, got " + std::to_string(weight_.dim()) + "-D");
    if (bias) {
        if (bias->dim() != 1 || bias->size(0) != weight_.size(0))
            throw Error("DenseLinear", "bias must be [" + std::to_string(weight_.size(0)) + "]");
        bias_ = std::move(*bias);
    }
}

torch::Tensor DenseLinear::forward(const torch::Tensor& x) const {
    return bias_.defined() ? at::linear(x, weight_, bias_) : at::linear(x, weight_);
}

uint64_t DenseLinear::storage_bytes() const {
    uint64_t bytes = weight_.numel() * weight_.element_size();
    if (bias_.defined()) bytes += bias_.numel() * bias_.element_size();
    return bytes;
}

} // namespace glq::model
