#pragma once
// One decoder layer of the llama family: pre-norm attention (q/k/v with
// optional bias, optional per-head q/k RMSNorm, RoPE unless the layer is NoPE,
// optional sliding window) and a pre-norm SwiGLU MLP, each with a residual.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "core/io/hf_config.h"
#include "core/model/kv_cache.h"
#include "core/model/linear.h"
#include "core/model/rope.h"

namespace glq::model {

// Called with each projection's input before the projection runs (see transformer.h).
using LinearObserver = std::function<void(const std::string& prefix, const torch::Tensor& input)>;

// How one forward call attends. The Transformer builds it once per call and
// every layer reads it.
struct StepContext {
    torch::Tensor cos, sin;        // [T, D]: RoPE for this call's positions
    KVCache* cache = nullptr;      // null: attend only within this call's tokens
    int64_t start = 0;             // with a cache (eager): slot of this call's first token
    // Static decode (CUDA-graph capturable): [T] int64 device positions. The
    // cache is written with index_copy_ and attended over its whole capacity
    // under the masks below, so no shape depends on the position.
    torch::Tensor slot_positions;
    torch::Tensor full_mask;       // bool [T, L]; undefined: causal (T == L) or, for T == 1, all keys
    torch::Tensor sliding_mask;    // same, for sliding-window layers
};

struct Projection {
    std::string prefix;            // "model.layers.3.self_attn.q_proj"
    std::shared_ptr<LinearOp> op;
};

struct LayerWeights {
    torch::Tensor input_norm, post_attention_norm;  // [C]
    torch::Tensor q_norm, k_norm;                   // [D] (qwen3), else undefined
    std::shared_ptr<LinearOp> q, k, v, o, gate, up, down;
};

class DecoderLayer {
public:
    enum Slot { Q, K, V, O, Gate, Up, Down, SlotCount };
    static const std::array<const char*, SlotCount>& slot_names();  // "self_attn.q_proj", ...

    DecoderLayer(int64_t index, const io::ModelConfig& config, LayerWeights weights, const RopeTable* rope,
                 const LinearObserver* observer);

    // Layer-by-layer calibration: hidden [B, T, C] at positions [T] (int64),
    // causal, without a cache. Returns the layer's output hidden state.
    torch::Tensor forward(const torch::Tensor& hidden, const torch::Tensor& positions) const;
    // The engine's path (prefill, decode, static decode).
    torch::Tensor forward(const torch::Tensor& hidden, const StepContext& step) const;

    int64_t index() const { return index_; }
    bool uses_rope() const { return use_rope_; }
    bool sliding() const { return window_.has_value(); }
    std::optional<int64_t> window() const { return window_; }
    Projection& projection(Slot slot) { return projections_[slot]; }
    const Projection& projection(Slot slot) const { return projections_[slot]; }
    const torch::Tensor& input_norm() const { return input_norm_; }
    const torch::Tensor& post_attention_norm() const { return post_attention_norm_; }
    // Where the layer's weights are (layer streaming moves them).
    torch::Device device() const { return input_norm_.device(); }
    // Moves the norms and projections to `device`. Only dense projections
    // move (the pipeline streams the dense model); others throw glq::Error.
    void to(const torch::Device& device);

private:
    torch::Tensor project(Slot slot, const torch::Tensor& x) const;
    torch::Tensor attention(const torch::Tensor& x, const StepContext& step) const;
    torch::Tensor mlp(const torch::Tensor& x) const;

    int64_t index_;
    int64_t heads_, kv_heads_, head_dim_;
    double eps_;
    bool use_rope_;
    std::optional<int64_t> window_;
    torch::Tensor input_norm_, post_attention_norm_, q_norm_, k_norm_;
    std::array<Projection, SlotCount> projections_;
    const RopeTable* rope_;
    const LinearObserver* observer_;
};

} // namespace glq::model
