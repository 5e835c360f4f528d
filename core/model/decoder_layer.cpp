#include "core/model/decoder_layer.h"

#include "core/common/error.h"
#include "core/model/attention.h"
#include "core/model/rms_norm.h"

namespace glq::model {

const std::array<const char*, DecoderLayer::SlotCount>& DecoderLayer::slot_names() {
    static const std::array<const char*, SlotCount> names = {"self_attn.q_proj", "self_attn.k_proj",
                                                             "self_attn.v_proj", "self_attn.o_proj",
                                                             "mlp.gate_proj",    "mlp.up_proj",
                                                             "mlp.down_proj"};
    return names;
}

DecoderLayer::DecoderLayer(int64_t index, const io::ModelConfig& config, LayerWeights weights, const RopeTable* rope,
                           const LinearObserver* observer)
    : index_(index), heads_(config.num_attention_heads), kv_heads_(config.num_key_value_heads),
      head_dim_(config.head_dim), eps_(config.rms_norm_eps),
      use_rope_(config.use_rope.empty() ? true : bool(config.use_rope.at(static_cast<std::size_t>(index)))),
      input_norm_(std::move(weights.input_norm)), post_attention_norm_(std::move(weights.post_attention_norm)),
      q_norm_(std::move(weights.q_norm)), k_norm_(std::move(weights.k_norm)), rope_(rope), observer_(observer) {
    if (config.sliding_window && !config.sliding_layers.empty() &&
        config.sliding_layers.at(static_cast<std::size_t>(index)))
        window_ = config.sliding_window;
    const std::string base = "model.layers." + std::to_string(index) + ".";
    std::shared_ptr<LinearOp>* ops[] = {&weights.q, &weights.k, &weights.v, &weights.o,
                                        &weights.gate, &weights.up, &weights.down};
    for (int s = 0; s < SlotCount; ++s) {
        if (!*ops[s]) throw Error(base + slot_names()[s], "projection is missing");
        projections_[s] = {base + slot_names()[s], std::move(*ops[s])};
    }
}

void DecoderLayer::to(const torch::Device& device) {
    // Checked first, so that a refusal leaves the layer whole on one device.
    for (const Projection& p : projections_)
        if (!dynamic_cast<const DenseLinear*>(p.op.get()))
            throw Error(p.prefix, "only dense projections move between devices (this one is " + p.op->kind() + ")");
    for (torch::Tensor* t : {&input_norm_, &post_attention_norm_, &q_norm_, &k_norm_})
        if (t->defined()) *t = t->to(device);
    for (Projection& p : projections_) {
        const auto* dense = static_cast<const DenseLinear*>(p.op.get());
        if (dense->weight().device() == device) continue;
        std::optional<torch::Tensor> bias;
        if (dense->bias().defined()) bias = dense->bias().to(device);
        p.op = std::make_shared<DenseLinear>(dense->weight().to(device), std::move(bias));
    }
}

torch::Tensor DecoderLayer::project(Slot slot, const torch::Tensor& x) const {
    const Projection& p = projections_[slot];
    if (observer_ && *observer_) (*observer_)(p.prefix, x);
    return p.op->forward(x);
}

torch::Tensor DecoderLayer::forward(const torch::Tensor& hidden, const torch::Tensor& positions) const {
    StepContext step;
    const torch::Tensor pos = positions.to(hidden.device(), torch::kInt64);
    if (use_rope_) {
        const int64_t needed = pos.numel() ? pos.max().item<int64_t>() + 1 : 0;
        if (needed > rope_->length())
            throw Error("model.layers." + std::to_string(index_),
                        "position " + std::to_string(needed - 1) + " is beyond the RoPE table (" +
                            std::to_string(rope_->length()) + "); reserve it on the Transformer first");
        step.cos = rope_->cos().index_select(0, pos);
        step.sin = rope_->sin().index_select(0, pos);
    }
    if (window_) step.sliding_mask = attention_mask(pos, pos, window_);
    return forward(hidden, step);
}

torch::Tensor DecoderLayer::forward(const torch::Tensor& hidden, const StepContext& step) const {
    const torch::Tensor h = hidden + attention(rms_norm(hidden, input_norm_, eps_), step);
    return h + mlp(rms_norm(h, post_attention_norm_, eps_));
}

torch::Tensor DecoderLayer::attention(const torch::Tensor& x, const StepContext& step) const {
    const int64_t batch = x.size(0), tokens = x.size(1);
    torch::Tensor q = project(Q, x).view({batch, tokens, heads_, head_dim_});
    torch::Tensor k = project(K, x).view({batch, tokens, kv_heads_, head_dim_});
    torch::Tensor v = project(V, x).view({batch, tokens, kv_heads_, head_dim_});
    if (q_norm_.defined()) {
        q = rms_norm(q, q_norm_, eps_);
        k = rms_norm(k, k_norm_, eps_);
    }
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    v = v.transpose(1, 2);
    if (use_rope_) {
        q = apply_rope(q, step.cos, step.sin);
        k = apply_rope(k, step.cos, step.sin);
    }

    torch::Tensor keys = k, values = v;
    if (step.cache) {
        torch::Tensor& key_cache = step.cache->keys.at(static_cast<std::size_t>(index_));
        torch::Tensor& value_cache = step.cache->values.at(static_cast<std::size_t>(index_));
        if (step.slot_positions.defined()) {
            key_cache.index_copy_(2, step.slot_positions, k);
            value_cache.index_copy_(2, step.slot_positions, v);
            keys = key_cache;
            values = value_cache;
        } else {
            key_cache.narrow(2, step.start, tokens).copy_(k);
            value_cache.narrow(2, step.start, tokens).copy_(v);
            keys = key_cache.narrow(2, 0, step.start + tokens);
            values = value_cache.narrow(2, 0, step.start + tokens);
        }
    }
    const torch::Tensor& mask = window_ && step.sliding_mask.defined() ? step.sliding_mask : step.full_mask;
    const torch::Tensor out = grouped_attention(q, keys, values, mask, /*causal=*/tokens > 1);
    return project(O, out.transpose(1, 2).reshape({batch, tokens, heads_ * head_dim_}));
}

torch::Tensor DecoderLayer::mlp(const torch::Tensor& x) const {
    // Sequenced so observers see gate before up (operand order is unspecified).
    const torch::Tensor gate = torch::silu(project(Gate, x));
    const torch::Tensor up = project(Up, x);
    return project(Down, gate * up);
}

} // namespace glq::model
