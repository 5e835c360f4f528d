#pragma once
// Scaled dot-product attention with grouped-query heads, through
// at::scaled_dot_product_attention, and the boolean masks it needs.

#include <cstdint>
#include <optional>

#include <torch/torch.h>

namespace glq::model {

// Boolean mask [T, L], true where query i (at query_positions[i]) may see key
// j (at key_positions[j]): causal, and within `window` positions when given
// (HF's sliding window: key > query - window).
torch::Tensor attention_mask(const torch::Tensor& query_positions, const torch::Tensor& key_positions,
                             std::optional<int64_t> window);

// q [B, H, T, D]; k, v [B, KV, L, D] with H a multiple of KV (query head h
// uses kv head h / (H / KV), as HF's repeat_kv). mask: bool [T, L] or
// undefined; causal: with an undefined mask, query i sees keys 0..i (needs
// T == L); with neither, every query sees every key. Returns [B, H, T, D].
// A single-token query is folded into [B, KV, H/KV, D] so the kv heads are
// never copied; longer queries expand k and v to H heads as HF does.
torch::Tensor grouped_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& mask, bool causal);

} // namespace glq::model
