#pragma once
// Rotary position embeddings in transformers' convention: the head dimension
// is split in halves (rotate_half), not interleaved pairs. Frequencies follow
// transformers' ROPE_INIT_FUNCTIONS for "default", "linear" and "llama3";
// the cos/sin tables are computed in fp32 (position * inv_freq, as HF's
// outer product does) and cast to the compute dtype, as HF casts them.

#include <cstdint>

#include <torch/torch.h>

#include "core/io/hf_config.h"

namespace glq::model {

// fp32 [head_dim / 2] inverse frequencies after scaling. Throws glq::Error
// for an unknown rope type or an odd head_dim.
torch::Tensor rope_inv_freq(int64_t head_dim, double theta, const io::RopeScaling& scaling);

// cos/sin for positions 0..length-1, [length, head_dim] each, grown on demand.
class RopeTable {
public:
    RopeTable() = default;
    RopeTable(torch::Tensor inv_freq, torch::ScalarType dtype, torch::Device device, int64_t initial_length);
    // Makes positions 0..length-1 available. Reallocates: call before a CUDA
    // graph capture, never inside one.
    void reserve(int64_t length);
    int64_t length() const { return cos_.defined() ? cos_.size(0) : 0; }
    const torch::Tensor& cos() const { return cos_; }
    const torch::Tensor& sin() const { return sin_; }

private:
    torch::Tensor inv_freq_;  // fp32, on the device
    torch::ScalarType dtype_ = torch::kFloat32;
    torch::Tensor cos_, sin_;
};

// x [B, H, T, D]; cos/sin [T, D] (broadcast over B and H): x*cos + rotate_half(x)*sin.
torch::Tensor apply_rope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

} // namespace glq::model
