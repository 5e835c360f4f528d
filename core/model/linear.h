#pragma once
// The seam between the transformer and the quantization pipeline: every
// projection of a decoder layer (q/k/v/o, gate/up/down) is a LinearOp held by
// the model as std::shared_ptr, addressed by its HF module prefix
// ("model.layers.3.self_attn.q_proj"). The GLQ pipeline swaps a DenseLinear
// for its quantized op with Transformer::replace_linear(prefix, op).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <torch/torch.h>

namespace glq::model {

class LinearOp {
public:
    virtual ~LinearOp() = default;
    // y = x W^T (+ b) over the last dimension of x: [..., in] -> [..., out].
    // Must not synchronise with the host or allocate from outside LibTorch's
    // caching allocator: the decode step is captured in a CUDA graph.
    virtual torch::Tensor forward(const torch::Tensor& x) const = 0;
    virtual int64_t in_features() const = 0;
    virtual int64_t out_features() const = 0;
    // "dense", "glq", ...: for logs and the GUI's model view.
    virtual std::string kind() const = 0;
    // Bytes of the stored parameters (weights, codes, scales, bias), as a
    // checkpoint holds them.
    virtual uint64_t storage_bytes() const = 0;
    // Bytes this op really holds in memory now (a decoded layer holds more
    // than its checkpoint stores, a compressed one about the same). Shared
    // tables (a codebook every layer uses) are not counted here.
    virtual uint64_t resident_bytes() const = 0;
};

// An ordinary dense projection: weight [out, in], optional bias [out].
class DenseLinear final : public LinearOp {
public:
    DenseLinear(torch::Tensor weight, std::optional<torch::Tensor> bias = std::nullopt);
    torch::Tensor forward(const torch::Tensor& x) const override;
    int64_t in_features() const override { return weight_.size(1); }
    int64_t out_features() const override { return weight_.size(0); }
    std::string kind() const override { return "dense"; }
    uint64_t storage_bytes() const override;
    uint64_t resident_bytes() const override { return storage_bytes(); }

    const torch::Tensor& weight() const { return weight_; }
    const torch::Tensor& bias() const { return bias_; }  // undefined when there is none

private:
    torch::Tensor weight_;
    torch::Tensor bias_;
};

} // namespace glq::model
