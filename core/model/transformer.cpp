#include "core/model/transformer.h"

#include "core/common/error.h"
#include "core/model/attention.h"
#include "core/model/rms_norm.h"
#include "core/model/weights.h"

namespace glq::model {
namespace {

// RoPE positions prepared up front; longer contexts grow the table on demand.
constexpr int64_t kInitialRopeLength = 4096;

struct Shapes {
    int64_t C, I, V, H, KV, D;
    explicit Shapes(const io::ModelConfig& c)
        : C(c.hidden_size), I(c.intermediate_size), V(c.vocab_size), H(c.num_attention_heads),
          KV(c.num_key_value_heads), D(c.head_dim) {}
};

void check_config(const io::ModelConfig& c, const std::string& where) {
    if (c.num_attention_heads <= 0 || c.num_key_value_heads <= 0 || c.num_attention_heads % c.num_key_value_heads)
        throw Error(where, "num_attention_heads (" + std::to_string(c.num_attention_heads) +
                               ") must be a positive multiple of num_key_value_heads (" +
                               std::to_string(c.num_key_value_heads) + ")");
    if (c.hidden_act != "silu")
        throw Error(where, "hidden_act '" + c.hidden_act + "' is not supported (the engine implements silu)");
    if (!c.use_rope.empty() && static_cast<int64_t>(c.use_rope.size()) != c.num_hidden_layers)
        throw Error(where, "use_rope lists " + std::to_string(c.use_rope.size()) + " layers, the model has " +
                               std::to_string(c.num_hidden_layers));
}

} // namespace

Transformer::Transformer(io::ModelConfig config, torch::ScalarType dtype, torch::Device device)
    : config_(std::move(config)), dtype_(dtype), device_(device) {}

std::unique_ptr<Transformer> Transformer::load(const std::filesystem::path& dir, const LoadOptions& options) {
    return load(io::ModelDir::open(dir), options);
}

std::unique_ptr<Transformer> Transformer::load(const io::ModelDir& dir, const LoadOptions& options) {
    torch::NoGradGuard no_grad;
    const io::ModelConfig& c = dir.config();
    const std::string folder = dir.path().string();
    check_config(c, (dir.path() / "config.json").string());
    if (dir.quantization() && !options.linear_factory)
        throw Error((dir.path() / "config.json").string(),
                    "is a quantized checkpoint (quant_method '" + dir.quantization()->quant_method +
                        "'); the dense loader reads unquantized weights only");
    const Shapes s(c);
    const io::SafetensorsModel& w = dir.weights();
    std::unique_ptr<Transformer> model(new Transformer(c, options.dtype, options.device));
    model->stream_layers_ = options.stream_layers;
    const torch::Device home = options.stream_layers ? torch::Device(torch::kCPU) : options.device;

    const int64_t per_layer = 9 + (c.qk_norm ? 2 : 0) + (c.attention_bias ? 3 : 0) + (c.attention_out_bias ? 1 : 0) +
                              (c.mlp_bias ? 3 : 0);
    Progress progress{"load", "", 0, 2 + c.num_hidden_layers * per_layer + (c.tie_word_embeddings ? 0 : 1), "tensors"};
    const auto get = [&](const std::string& name, const std::vector<int64_t>& shape) {
        if (options.cancel) options.cancel->check();
        torch::Tensor t = load_tensor(w, name, options.dtype, home, shape);
        ++progress.done;
        progress.item = name;
        if (options.progress) options.progress(progress);
        return t;
    };
    const auto linear = [&](const std::string& prefix, int64_t out, int64_t in,
                            bool bias) -> std::shared_ptr<LinearOp> {
        if (options.linear_factory) {
            if (options.cancel) options.cancel->check();
            if (std::shared_ptr<LinearOp> op = options.linear_factory(prefix, out, in, bias)) {
                if (op->out_features() != out || op->in_features() != in)
                    throw Error(folder, "linear '" + prefix + "' is " + std::to_string(op->out_features()) + "x" +
                                            std::to_string(op->in_features()) + ", config.json makes it " +
                                            std::to_string(out) + "x" + std::to_string(in));
                progress.done += bias ? 2 : 1;  // the tensors it stands for
                progress.item = prefix;
                if (options.progress) options.progress(progress);
                return op;
            }
        }
        torch::Tensor weight = get(prefix + ".weight", {out, in});
        std::optional<torch::Tensor> b;
        if (bias) b = get(prefix + ".bias", {out});
        return std::make_shared<DenseLinear>(std::move(weight), std::move(b));
    };

    torch::Tensor embedding = get("model.embed_tokens.weight", {s.V, s.C});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        LayerWeights lw;
        lw.input_norm = get(p + "input_layernorm.weight", {s.C});
        lw.q = linear(p + "self_attn.q_proj", s.H * s.D, s.C, c.attention_bias);
        lw.k = linear(p + "self_attn.k_proj", s.KV * s.D, s.C, c.attention_bias);
        lw.v = linear(p + "self_attn.v_proj", s.KV * s.D, s.C, c.attention_bias);
        lw.o = linear(p + "self_attn.o_proj", s.C, s.H * s.D, c.attention_out_bias);
        if (c.qk_norm) {
            lw.q_norm = get(p + "self_attn.q_norm.weight", {s.D});
            lw.k_norm = get(p + "self_attn.k_norm.weight", {s.D});
        }
        lw.post_attention_norm = get(p + "post_attention_layernorm.weight", {s.C});
        lw.gate = linear(p + "mlp.gate_proj", s.I, s.C, c.mlp_bias);
        lw.up = linear(p + "mlp.up_proj", s.I, s.C, c.mlp_bias);
        lw.down = linear(p + "mlp.down_proj", s.C, s.I, c.mlp_bias);
        model->layers_.push_back(
            std::make_unique<DecoderLayer>(i, model->config_, std::move(lw), &model->rope_, &model->observer_));
    }
    torch::Tensor norm = get("model.norm.weight", {s.C});
    // Tied models use the embedding as the output projection, as HF ties them
    // (even when a checkpoint also stores an lm_head.weight).
    torch::Tensor head = c.tie_word_embeddings ? embedding : get("lm_head.weight", {s.V, s.C});
    model->finish_init(std::move(embedding), std::move(norm), std::move(head));
    return model;
}

std::unique_ptr<Transformer> Transformer::random(const io::ModelConfig& c, torch::ScalarType dtype,
                                                 torch::Device device, uint64_t seed) {
    torch::NoGradGuard no_grad;
    check_config(c, "random model config");
    const Shapes s(c);
    torch::manual_seed(seed);
    const auto options = torch::TensorOptions().dtype(dtype).device(device);
    const auto normal = [&](std::vector<int64_t> shape) { return torch::randn(shape, options).mul_(0.02); };
    const auto linear = [&](int64_t out, int64_t in, bool bias) {
        std::optional<torch::Tensor> b;
        if (bias) b = normal({out});
        return std::make_shared<DenseLinear>(normal({out, in}), std::move(b));
    };
    std::unique_ptr<Transformer> model(new Transformer(c, dtype, device));
    torch::Tensor embedding = normal({s.V, s.C});
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
        LayerWeights lw;
        lw.input_norm = torch::ones({s.C}, options);
        lw.post_attention_norm = torch::ones({s.C}, options);
        if (c.qk_norm) {
            lw.q_norm = torch::ones({s.D}, options);
            lw.k_norm = torch::ones({s.D}, options);
        }
        lw.q = linear(s.H * s.D, s.C, c.attention_bias);
        lw.k = linear(s.KV * s.D, s.C, c.attention_bias);
        lw.v = linear(s.KV * s.D, s.C, c.attention_bias);
        lw.o = linear(s.C, s.H * s.D, c.attention_out_bias);
        lw.gate = linear(s.I, s.C, c.mlp_bias);
        lw.up = linear(s.I, s.C, c.mlp_bias);
        lw.down = linear(s.C, s.I, c.mlp_bias);
        model->layers_.push_back(
            std::make_unique<DecoderLayer>(i, model->config_, std::move(lw), &model->rope_, &model->observer_));
    }
    torch::Tensor head = c.tie_word_embeddings ? embedding : normal({s.V, s.C});
    model->finish_init(std::move(embedding), torch::ones({s.C}, options), std::move(head));
    return model;
}

void Transformer::finish_init(torch::Tensor embedding, torch::Tensor final_norm, torch::Tensor lm_head) {
    embedding_ = std::move(embedding);
    norm_ = std::move(final_norm);
    lm_head_ = std::move(lm_head);
    rope_ = RopeTable(rope_inv_freq(config_.head_dim, config_.rope_theta, config_.rope_scaling), dtype_, device_,
                      std::min<int64_t>(kInitialRopeLength, std::max<int64_t>(config_.max_position_embeddings, 1)));
    for (const auto& layer : layers_)
        for (int s = 0; s < DecoderLayer::SlotCount; ++s)
            by_prefix_[layer->projection(static_cast<DecoderLayer::Slot>(s)).prefix] = {
                layer->index(), static_cast<DecoderLayer::Slot>(s)};
}

void Transformer::reserve_positions(int64_t length) { rope_.reserve(length); }

torch::Tensor Transformer::embed(const torch::Tensor& ids) const {
    // Streamed, the table stays on the host and only the rows travel.
    return at::embedding(embedding_, ids.to(embedding_.device(), torch::kInt64)).to(device_);
}

void Transformer::move_layer(int64_t i, const torch::Device& device) {
    DecoderLayer& layer = decoder_layer(i);
    if (layer.device() == device) return;
    layer.to(device);
    ++revision_;
}

void Transformer::check_not_streamed(const char* what) const {
    if (stream_layers_)
        throw Error("model", std::string(what) + " needs every layer on " + device_.str() +
                                 ", but this model was loaded layer-streamed (weights on the host)");
}

DecoderLayer& Transformer::decoder_layer(int64_t i) {
    if (i < 0 || i >= num_layers())
        throw Error("model", "layer " + std::to_string(i) + " does not exist (" + std::to_string(num_layers()) +
                                 " layers)");
    return *layers_[static_cast<std::size_t>(i)];
}

const DecoderLayer& Transformer::decoder_layer(int64_t i) const {
    return const_cast<Transformer*>(this)->decoder_layer(i);
}

torch::Tensor Transformer::final_norm(const torch::Tensor& hidden) const {
    return rms_norm(hidden, norm_, config_.rms_norm_eps);
}

torch::Tensor Transformer::lm_head(const torch::Tensor& hidden) const { return at::linear(hidden, lm_head_); }

torch::Tensor Transformer::forward(const torch::Tensor& ids, KVCache* cache, int64_t start, bool last_only) {
    torch::NoGradGuard no_grad;
    check_not_streamed("forward()");
    if (ids.dim() != 2 || ids.size(1) < 1)
        throw Error("model input", "token ids must be [batch, tokens] with at least one token");
    const int64_t batch = ids.size(0), tokens = ids.size(1), end = start + tokens;
    if (start < 0) throw Error("model input", "start position must not be negative");
    if (!cache && start != 0) throw Error("model input", "a start position needs a KV cache");
    if (cache) {
        if (cache->batch() != batch)
            throw Error("KV cache", "holds batch " + std::to_string(cache->batch()) + ", the input has " +
                                        std::to_string(batch));
        if (end > cache->capacity())
            throw Error("KV cache", "capacity " + std::to_string(cache->capacity()) + " is too small for " +
                                        std::to_string(end) + " positions");
    }
    reserve_positions(end);
    StepContext step;
    step.cos = rope_.cos().narrow(0, start, tokens);
    step.sin = rope_.sin().narrow(0, start, tokens);
    step.cache = cache;
    step.start = start;
    const auto long_options = torch::TensorOptions().dtype(torch::kInt64).device(device_);
    const bool need_positions = tokens > 1 || config_.sliding_window.has_value();
    if (need_positions) {
        const torch::Tensor query_positions = torch::arange(start, end, long_options);
        const torch::Tensor key_positions = torch::arange(end, long_options);
        // A prefill that starts at 0 is plain causal (SDPA's is_causal); one that
        // extends a cached prefix needs the explicit offset mask.
        if (tokens > 1 && start > 0) step.full_mask = attention_mask(query_positions, key_positions, std::nullopt);
        if (config_.sliding_window && end > *config_.sliding_window)
            step.sliding_mask = attention_mask(query_positions, key_positions, config_.sliding_window);
    }
    torch::Tensor hidden = embed(ids);
    for (const auto& layer : layers_) hidden = layer->forward(hidden, step);
    if (last_only) hidden = hidden.narrow(1, tokens - 1, 1);
    torch::Tensor logits = lm_head(final_norm(hidden));
    if (cache) cache->length = end;
    return logits;
}

torch::Tensor Transformer::decode_static(const torch::Tensor& ids, const torch::Tensor& positions, KVCache& cache) {
    torch::NoGradGuard no_grad;
    check_not_streamed("decode_static()");
    reserve_positions(cache.capacity());  // a no-op once reserved: DecodeStep reserves before capturing
    StepContext step;
    step.cache = &cache;
    step.slot_positions = positions;
    step.cos = rope_.cos().index_select(0, positions);
    step.sin = rope_.sin().index_select(0, positions);
    step.full_mask = attention_mask(positions, cache.key_positions, std::nullopt);
    if (config_.sliding_window)
        step.sliding_mask = attention_mask(positions, cache.key_positions, config_.sliding_window);
    torch::Tensor hidden = embed(ids);
    for (const auto& layer : layers_) hidden = layer->forward(hidden, step);
    return lm_head(final_norm(hidden)).squeeze(1);
}

std::vector<std::string> Transformer::linear_prefixes() const {
    std::vector<std::string> prefixes;
    for (const auto& layer : layers_)
        for (int s = 0; s < DecoderLayer::SlotCount; ++s)
            prefixes.push_back(layer->projection(static_cast<DecoderLayer::Slot>(s)).prefix);
    return prefixes;
}

Projection& Transformer::find_projection(const std::string& prefix) const {
    const auto it = by_prefix_.find(prefix);
    if (it == by_prefix_.end())
        throw Error(prefix, "is not a linear layer of this model (expected e.g. model.layers.0.self_attn.q_proj)");
    return layers_[static_cast<std::size_t>(it->second.first)]->projection(it->second.second);
}

std::shared_ptr<LinearOp> Transformer::linear(const std::string& prefix) const { return find_projection(prefix).op; }

void Transformer::replace_linear(const std::string& prefix, std::shared_ptr<LinearOp> op) {
    Projection& slot = find_projection(prefix);
    if (!op) throw Error(prefix, "replacement linear op is null");
    if (op->in_features() != slot.op->in_features() || op->out_features() != slot.op->out_features())
        throw Error(prefix, "replacement is " + std::to_string(op->out_features()) + "x" +
                                std::to_string(op->in_features()) + ", the layer is " +
                                std::to_string(slot.op->out_features()) + "x" + std::to_string(slot.op->in_features()));
    slot.op = std::move(op);
    ++revision_;
}

void Transformer::set_linear_observer(LinearObserver observer) { observer_ = std::move(observer); }

KVCache Transformer::new_cache(int64_t batch, int64_t capacity) const {
    return KVCache::allocate(config_, batch, capacity, dtype_, device_);
}

uint64_t Transformer::weight_bytes(bool resident) const {
    const auto bytes = [](const torch::Tensor& t) { return t.defined() ? uint64_t(t.numel() * t.element_size()) : 0; };
    uint64_t total = bytes(embedding_) + bytes(norm_);
    if (!lm_head_.is_same(embedding_)) total += bytes(lm_head_);
    for (const auto& layer : layers_) {
        total += bytes(layer->input_norm()) + bytes(layer->post_attention_norm());
        for (int s = 0; s < DecoderLayer::SlotCount; ++s) {
            const LinearOp& op = *layer->projection(static_cast<DecoderLayer::Slot>(s)).op;
            total += resident ? op.resident_bytes() : op.storage_bytes();
        }
    }
    return total;
}

uint64_t Transformer::parameter_bytes() const { return weight_bytes(false); }
uint64_t Transformer::resident_bytes() const { return weight_bytes(true); }

} // namespace glq::model
