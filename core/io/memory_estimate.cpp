#include "core/io/memory_estimate.h"

#include <algorithm>

#include "core/io/hf_config.h"

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
    MemoryEstimate m;
    m.weights = sat_mul(count(parameters), bytes_per_element);
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

} // namespace glq::io
