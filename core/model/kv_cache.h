#pragma once
// A static KV cache: per layer one key and one value tensor
// [batch, kv_heads, capacity, head_dim], allocated once. Prefill and decode
// write into it in place, so a decode step allocates nothing for the cache
// and keeps fixed addresses (what a CUDA graph replay needs).

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "core/io/hf_config.h"

namespace glq::model {

struct KVCache {
    std::vector<torch::Tensor> keys;    // per layer [B, KV, capacity, D]
    std::vector<torch::Tensor> values;  // per layer [B, KV, capacity, D]
    torch::Tensor key_positions;        // [capacity] int64 0..capacity-1, for the static decode masks
    int64_t length = 0;                 // positions 0..length-1 hold valid entries

    // capacity is rounded up to a multiple of 64 (aligned attention masks).
    static KVCache allocate(const io::ModelConfig& config, int64_t batch, int64_t capacity, torch::ScalarType dtype,
                            torch::Device device);
    int64_t batch() const { return keys.empty() ? 0 : keys.front().size(0); }
    int64_t capacity() const { return keys.empty() ? 0 : keys.front().size(2); }
    uint64_t bytes() const;
};

} // namespace glq::model
