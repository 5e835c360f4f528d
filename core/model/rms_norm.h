#pragma once
// RMSNorm exactly as transformers' LlamaRMSNorm computes it: the mean of
// squares in fp32, the normalised value cast back to the input dtype, then
// multiplied by the weight (so bf16 models round where HF rounds).

#include <torch/torch.h>

namespace glq::model {

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

} // namespace glq::model
