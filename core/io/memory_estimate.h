#pragma once
// What loading a model for chat needs on a device, from its shape alone
// (config.json), before anything is loaded: the one estimate behind the
// Model view's "fits" check and the Compare panes' memory read-out, so the
// two never disagree. Plain C++ (no LibTorch, no Qt).

#include <cstdint>
#include <string>

namespace glq::io {

struct ModelConfig;
class ModelDir;

struct MemoryEstimate {
    uint64_t weights = 0;    // parameters x element size
    uint64_t kv_cache = 0;   // K and V of every layer for `context` tokens, batch 1
    uint64_t workspace = 0;  // activations, logits, runtime slack (see memory_estimate.cpp)
    uint64_t total() const {  // saturating, as the parts are
        uint64_t t;
        if (__builtin_add_overflow(weights, kv_cache, &t) || __builtin_add_overflow(t, workspace, &t)) return UINT64_MAX;
        return t;
    }
};

// K and V of every layer for one position.
uint64_t kv_bytes_per_position(int64_t layers, int64_t kv_heads, int64_t head_dim, uint64_t bytes_per_element);

MemoryEstimate estimate_memory(int64_t parameters, int64_t layers, int64_t kv_heads, int64_t head_dim,
                               uint64_t bytes_per_element, int64_t context);
MemoryEstimate estimate_memory(const ModelConfig& config, uint64_t bytes_per_element, int64_t context);
MemoryEstimate estimate_memory_of_weights(uint64_t weight_bytes, int64_t layers, int64_t kv_heads, int64_t head_dim,
                                          uint64_t bytes_per_element, int64_t context);

// What a model folder's weights take once loaded. A GLQ checkpoint's
// quantized linears stay compressed (the engine keeps their codes), so their
// stored tensors count as stored; every other weight is a parameter in the
// compute dtype.
struct WeightFootprint {
    int64_t dense_parameters = 0;
    uint64_t compressed_bytes = 0;
    uint64_t bytes(uint64_t bytes_per_element) const {
        return static_cast<uint64_t>(dense_parameters) * bytes_per_element + compressed_bytes;
    }
};
// A tensor of a GLQ layer (Qidxs*, SU, SV, Wscale, inv_resid_scale*).
bool is_glq_layer_tensor(const std::string& name);
WeightFootprint weight_footprint(const ModelDir& dir);
// estimate_memory from the folder: its config and weight_footprint.
MemoryEstimate estimate_memory(const ModelDir& dir, uint64_t bytes_per_element, int64_t context);

} // namespace glq::io
