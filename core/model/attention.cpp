#include "core/model/attention.h"

namespace glq::model {

torch::Tensor attention_mask(const torch::Tensor& query_positions, const torch::Tensor& key_positions,
                             std::optional<int64_t> window) {
    const torch::Tensor q = query_positions.unsqueeze(1);
    const torch::Tensor k = key_positions.unsqueeze(0);
    torch::Tensor mask = k <= q;
    if (window) mask = mask.logical_and(k > q - *window);
    return mask;
}

torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& mask, bool causal) {
    const int64_t batch = q.size(0), heads = q.size(1), tokens = q.size(2), dim = q.size(3);
    const int64_t kv_heads = k.size(1), keys = k.size(2);
    const int64_t groups = heads / kv_heads;
    const std::optional<torch::Tensor> attn_mask = mask.defined() ? std::optional<torch::Tensor>(mask) : std::nullopt;
    if (groups == 1)
        return at::scaled_dot_product_attention(q, k, v, attn_mask, 0.0, causal && !mask.defined());
    if (tokens == 1) {
        // One query per head: the G query heads sharing a kv head become G query rows.
        const torch::Tensor folded = q.reshape({batch, kv_heads, groups, dim});
        const torch::Tensor out = at::scaled_dot_product_attention(folded, k, v, attn_mask, 0.0, false);
        return out.reshape({batch, heads, 1, dim});
    }
    const auto expand = [&](const torch::Tensor& t) {
        return t.unsqueeze(2).expand({batch, kv_heads, groups, keys, dim}).reshape({batch, heads, keys, dim});
    };
    return at::scaled_dot_product_attention(q, expand(k), expand(v), attn_mask, 0.0, causal && !mask.defined());
}

} // namespace glq::model
