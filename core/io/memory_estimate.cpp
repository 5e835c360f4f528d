#include "core/io/memory_estimate.h"

#include <algorithm>

#include "core/io/hf_config.h"

namespace glq::io {

uint64_t kv_bytes_per_position(int64_t layers, int64_t kv_heads, int64_t head_dim, uint64_t bytes_per_element) {
    return static_cast<uint64_t>(layers) * 2 * static_cast<uint64_t>(kv_heads) * static_cast<uint64_t>(head_dim) *
           bytes_per_element;
}

MemoryEstimate estimate_memory(int64_t parameters, int64_t layers, int64_t kv_heads, int64_t head_dim,
                               uint64_t bytes_per_element, int64_t context) {
    MemoryEstimate m;
    m.weights = static_cast<uint64_t>(parameters) * bytes_per_element;
    m.kv_cache = kv_bytes_per_position(layers, kv_heads, head_dim, bytes_per_element) *
                 static_cast<uint64_t>(std::max<int64_t>(context, 0));
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

} // namespace glq::io
