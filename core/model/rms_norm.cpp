#include "core/model/rms_norm.h"

namespace glq::model {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
    const torch::Tensor x32 = x.to(torch::kFloat32);
    const torch::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
    return weight * (x32 * torch::rsqrt(variance + eps)).to(x.scalar_type());
}

} // namespace glq::model
