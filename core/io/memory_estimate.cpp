#include "core/io/memory_estimate.h"

#include <algorithm>

#include "core/io/hf_config.h"
#include "core/io/model_dir.h"
#include "core/io/safetensors.h"

namespace glq::io {
namespace {

// Saturating: an estimate too large for 64 bits reads as "does not fit"
// instead of wrapping around to a small number (negative counts read as 0).
uint64_t sat_mul(uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t count(int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); }

} // namespace

uint64_t kv_bytes_per_position(int64_t layers, int64_t kv_heads, int64_t head_dim, uint64_t bytes_per_element) {
    return sat_mul(sat_mul(sat_mul(sat_mul(count(layers), 2), count(kv_heads)), count(head_dim)), bytes_per_element);
}

MemoryEstimate estimate_memory(int64_t parameters, int64_t layers, int64_t kv_heads, int64_t head_dim,
                               uint64_t bytes_per_element, int64_t context) {
    return estimate_memory_of_weights(sat_mul(count(parameters), bytes_per_element), layers, kv_heads, head_dim,
                                      bytes_per_element, context);
}

MemoryEstimate estimate_memory_of_weights(uint64_t weight_bytes, int64_t layers, int64_t kv_heads, int64_t head_dim,
                                          uint64_t bytes_per_element, int64_t context) {
    MemoryEstimate m;
    m.weights = weight_bytes;
    m.kv_cache = sat_mul(kv_bytes_per_position(layers, kv_heads, head_dim, bytes_per_element), count(context));
    // Activations for one token plus the logits, and the runtime's own
    // allocations (CUDA context, allocator slack): a flat 10 % of the
    // weights, at least 256 MiB, keeps "it fits" honest on small devices.
    m.workspace = std::max<uint64_t>(m.weights / 10, 256ull << 20);
    return m;
}

MemoryEstimate estimate_memory(const ModelConfig& c, uint64_t bytes_per_element, int64_t context) {
    return estimate_memory(c.num_parameters(), c.num_hidden_layers, c.num_key_value_heads, c.head_dim,
                           bytes_per_element, context);
}

namespace {
bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
} // namespace

bool is_glq_layer_tensor(const std::string& name) {
    return name.find(".Qidxs") != std::string::npos || ends_with(name, ".SU") || ends_with(name, ".SV") ||
           ends_with(name, ".Wscale") || name.find(".inv_resid_scale") != std::string::npos;
}

WeightFootprint weight_footprint(const ModelDir& dir) {
    WeightFootprint f;
    const ModelConfig& c = dir.config();
    if (!dir.quantization() || !dir.quantization()->is_glq()) {
        f.dense_parameters = c.num_parameters();
        return f;
    }
    for (const std::string& name : dir.weights().names()) {
        const TensorView v = dir.weights().view(name);
        if (is_glq_layer_tensor(name)) f.compressed_bytes += v.info->nbytes();
        else f.dense_parameters += v.info->numel();
    }
    if (!c.tie_word_embeddings && !dir.weights().contains("lm_head.weight"))
        f.dense_parameters += c.vocab_size * c.hidden_size;
    return f;
}

MemoryEstimate estimate_memory(const ModelDir& dir, uint64_t bytes_per_element, int64_t context) {
    const ModelConfig& c = dir.config();
    return estimate_memory_of_weights(weight_footprint(dir).bytes(bytes_per_element), c.num_hidden_layers,
                                      c.num_key_value_heads, c.head_dim, bytes_per_element, context);
}

} // namespace glq::io
