#include "core/model/kv_cache.h"

#include "core/common/error.h"

namespace glq::model {

KVCache KVCache::allocate(const io::ModelConfig& config, int64_t batch, int64_t capacity, torch::ScalarType dtype,
                          torch::Device device) {
    if (batch < 1) throw Error("KV cache", "batch must be at least 1, got " + std::to_string(batch));
    if (capacity < 1) throw Error("KV cache", "capacity must be at least 1, got " + std::to_string(capacity));
    capacity = (capacity + 63) / 64 * 64;
    KVCache cache;
    const auto options = torch::TensorOptions().dtype(dtype).device(device);
    for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
        cache.keys.push_back(torch::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, options));
        cache.values.push_back(torch::zeros({batch, config.num_key_value_heads, capacity, config.head_dim}, options));
    }
    cache.key_positions = torch::arange(capacity, torch::TensorOptions().dtype(torch::kInt64).device(device));
    return cache;
}

uint64_t KVCache::bytes() const {
    uint64_t total = 0;
    for (const auto& t : keys) total += t.numel() * t.element_size();
    for (const auto& t : values) total += t.numel() * t.element_size();
    return total;
}

} // namespace glq::model
