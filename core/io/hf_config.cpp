#include "core/io/hf_config.h"

#include <algorithm>
#include <cmath>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"
#include "core/io/json_keys.h"

namespace glq::io {
namespace {

using nlohmann::json;
using detail::Keys;
using detail::type_name;

// The transformers 5.17 class defaults that differ between our model types.
struct Defaults {
    std::optional<int64_t> num_key_value_heads;  // nullopt = num_attention_heads
    std::optional<int64_t> head_dim;             // nullopt = hidden_size / num_attention_heads
    int64_t max_position_embeddings;
    double rope_theta;
    bool tie_word_embeddings;
    std::optional<int64_t> sliding_window;
    std::optional<int64_t> bos, eos, pad;
};

Defaults defaults_for(const std::string& model_type) {
    if (model_type == "llama") return {std::nullopt, std::nullopt, 2048, 10000.0, false, std::nullopt, 1, 2, std::nullopt};
    if (model_type == "mistral") return {8, std::nullopt, 4096 * 32, 10000.0, false, 4096, 1, 2, std::nullopt};
    if (model_type == "qwen2") return {32, std::nullopt, 32768, 10000.0, false, 4096, std::nullopt, std::nullopt, std::nullopt};
    if (model_type == "qwen3") return {32, 128, 32768, 10000.0, false, 4096, std::nullopt, std::nullopt, std::nullopt};
    /* smollm3 */ return {4, std::nullopt, 32768, 2000000.0, true, std::nullopt, 128000, 128001, 128004};
}

void parse_rope(ModelConfig& c, const Keys& top, const json& j, const std::string& where, double default_theta) {
    // transformers: `rope_scaling` (the v4 name) wins over `rope_parameters`.
    const char* rope_key = top.has("rope_scaling") ? "rope_scaling" : top.has("rope_parameters") ? "rope_parameters" : nullptr;
    c.rope_theta = top.positive_number("rope_theta", default_theta);
    if (!rope_key) return;
    const json& rope = j.at(rope_key);
    if (!rope.is_object()) throw top.error(rope_key, "must be an object, got " + type_name(rope));
    for (const char* layer_type : {"full_attention", "sliding_attention"})
        if (rope.contains(layer_type))
            throw top.error(rope_key, "holds per-layer-type RoPE parameters, which are not supported");
    const Keys r(rope, where, std::string(rope_key) + ".");
    c.rope_theta = r.positive_number("rope_theta", c.rope_theta);
    if (r.has("partial_rotary_factor") && r.number("partial_rotary_factor", 1.0) != 1.0)
        throw r.error("partial_rotary_factor", "is not 1; partial rotary embeddings are not supported");

    const char* type_key = r.has("rope_type") ? "rope_type" : "type";
    const std::string type = r.string(type_key, "default");
    auto& s = c.rope_scaling;
    s.type = type;
    if (type == "default") return;
    if (type == "linear") {
        s.factor = r.required_positive_number("factor");
        return;
    }
    if (type == "llama3") {
        s.factor = r.required_positive_number("factor");
        s.low_freq_factor = r.required_positive_number("low_freq_factor");
        s.high_freq_factor = r.required_positive_number("high_freq_factor");
        if (r.has("original_max_position_embeddings"))
            s.original_max_position_embeddings = r.positive("original_max_position_embeddings");
        else if (top.has("original_max_position_embeddings"))
            s.original_max_position_embeddings = top.positive("original_max_position_embeddings");
        else
            r.require("original_max_position_embeddings");
        if (s.high_freq_factor <= s.low_freq_factor)
            throw r.error("high_freq_factor", "must be larger than 'low_freq_factor'");
        return;
    }
    throw r.error(type_key, "is '" + type + "'; supported RoPE types: default, linear, llama3");
}

// Which layers use RoPE: all, except SmolLM3's NoPE layers.
void parse_nope_layers(ModelConfig& c, const Keys& k) {
    c.use_rope.assign(static_cast<std::size_t>(c.num_hidden_layers), true);
    if (c.model_type != "smollm3") return;
    if (k.has("no_rope_layers")) {
        const auto& list = k.at("no_rope_layers");
        if (!list.is_array()) throw k.error("no_rope_layers", "must be a list of 0/1 per layer");
        if (static_cast<int64_t>(list.size()) < c.num_hidden_layers)
            throw k.error("no_rope_layers", "has " + std::to_string(list.size()) + " entries for " +
                                                std::to_string(c.num_hidden_layers) + " layers");
        for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
            const auto& v = list[static_cast<std::size_t>(i)];
            if (!(v.is_number_integer() && (v.get<int64_t>() == 0 || v.get<int64_t>() == 1)) && !v.is_boolean())
                throw k.error("no_rope_layers", "entry " + std::to_string(i) + " is " + json_excerpt(v) + ", not 0 or 1");
            c.use_rope[static_cast<std::size_t>(i)] = v.is_boolean() ? v.get<bool>() : v.get<int64_t>() == 1;
        }
        return;
    }
    // 1 = RoPE; every interval-th layer (1-based) is NoPE.
    const int64_t interval = k.positive("no_rope_layer_interval", 4);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i)
        c.use_rope[static_cast<std::size_t>(i)] = (i + 1) % interval != 0;
}

// Which layers attend within a sliding window, following each family's
// modeling code: Mistral all layers; Qwen2/3 layers from max_window_layers on;
// SmolLM3 its NoPE layers; Llama never. `layer_types`, when given, decides.
void parse_sliding_window(ModelConfig& c, const Keys& k, const json& j, const Defaults& d) {
    const auto n = static_cast<std::size_t>(c.num_hidden_layers);
    c.sliding_layers.assign(n, false);
    std::optional<int64_t> window = d.sliding_window;
    if (j.contains("sliding_window")) window = k.has("sliding_window") ? std::optional(k.positive("sliding_window")) : std::nullopt;
    if (c.model_type == "llama") window.reset();  // LlamaAttention has no sliding window
    if (c.model_type == "qwen2" || c.model_type == "qwen3" || c.model_type == "smollm3")
        if (!k.boolean("use_sliding_window", false)) window.reset();

    if (k.has("layer_types")) {
        const auto& types = k.at("layer_types");
        if (!types.is_array() || types.size() < n)
            throw k.error("layer_types", "must list 'full_attention' or 'sliding_attention' for each of the " +
                                             std::to_string(n) + " layers");
        for (std::size_t i = 0; i < n; ++i) {
            const auto& t = types[i];
            if (t == "sliding_attention") c.sliding_layers[i] = window.has_value();
            else if (t != "full_attention")
                throw k.error("layer_types", "entry " + std::to_string(i) + " is " + json_excerpt(t) +
                                                 ", not 'full_attention' or 'sliding_attention'");
        }
    } else if (window) {
        const int64_t max_window_layers = k.integer("max_window_layers", 28);
        for (std::size_t i = 0; i < n; ++i) {
            if (c.model_type == "mistral") c.sliding_layers[i] = true;
            else if (c.model_type == "smollm3") c.sliding_layers[i] = !c.use_rope[i];
            else c.sliding_layers[i] = static_cast<int64_t>(i) >= max_window_layers;
        }
    }
    // Report a window only where some layer uses it.
    if (std::find(c.sliding_layers.begin(), c.sliding_layers.end(), true) == c.sliding_layers.end()) window.reset();
    c.sliding_window = window;
}

int64_t bounded(const Keys& k, const char* key, int64_t v, int64_t limit) {
    if (v > limit)
        throw k.error(key, "is " + std::to_string(v) + ", beyond the largest this workbench accepts (" +
                               std::to_string(limit) + "); the file is corrupt or not a supported model");
    return v;
}

std::optional<int64_t> token_id(const Keys& k, const json& j, const char* key, std::optional<int64_t> fallback) {
    if (!j.contains(key)) return fallback;
    const auto ids = k.integers(key);
    if (ids.empty()) return std::nullopt;
    return ids.front();  // a list for bos/pad is unusual; its first entry is the one tokenizers prepend
}

} // namespace

const std::vector<std::string>& supported_model_types() {
    static const std::vector<std::string> types{"llama", "mistral", "qwen2", "qwen3", "smollm3"};
    return types;
}

ModelConfig ModelConfig::from_json(const json& j, const std::string& where) {
    return with_file_errors(where, "config.json", [&] { return parse(j, where); });
}

ModelConfig ModelConfig::parse(const json& j, const std::string& where) {
    if (!j.is_object()) throw Error(where, "is not a JSON object");
    const Keys k(j, where);
    ModelConfig c;
    c.model_type = k.string("model_type");
    const auto& types = supported_model_types();
    if (std::find(types.begin(), types.end(), c.model_type) == types.end()) {
        std::string list;
        for (const auto& t : types) list += (list.empty() ? "" : ", ") + t;
        throw Error(where, "unsupported model_type '" + c.model_type + "' (supported: " + list + ")");
    }
    const Defaults d = defaults_for(c.model_type);

    if (k.has("architectures")) {
        const auto& a = k.at("architectures");
        if (!a.is_array() || (!a.empty() && !a[0].is_string())) throw k.error("architectures", "must be a list of class names");
        if (!a.empty()) c.architecture = a[0].get<std::string>();
    }

    // Each count is bounded (ModelConfig's header says by what) before
    // anything is sized by it: a hostile 1e15 layers must not allocate.
    c.vocab_size = bounded(k, "vocab_size", k.positive("vocab_size"), kMaxVocabSize);
    c.hidden_size = bounded(k, "hidden_size", k.positive("hidden_size"), kMaxHiddenSize);
    c.intermediate_size = bounded(k, "intermediate_size", k.positive("intermediate_size"), kMaxHiddenSize);
    c.num_hidden_layers = bounded(k, "num_hidden_layers", k.positive("num_hidden_layers"), kMaxLayers);
    c.num_attention_heads = bounded(k, "num_attention_heads", k.positive("num_attention_heads"), kMaxHeads);
    c.num_key_value_heads = bounded(k, "num_key_value_heads",
                                    k.positive("num_key_value_heads", d.num_key_value_heads.value_or(c.num_attention_heads)),
                                    kMaxHeads);
    if (c.num_attention_heads % c.num_key_value_heads != 0)
        throw Error(where, "key 'num_key_value_heads' (" + std::to_string(c.num_key_value_heads) +
                               ") does not divide 'num_attention_heads' (" + std::to_string(c.num_attention_heads) + ")");
    if (k.has("head_dim")) {
        c.head_dim = bounded(k, "head_dim", k.positive("head_dim"), kMaxHeadDim);
    } else if (d.head_dim) {
        c.head_dim = *d.head_dim;
    } else {
        if (c.hidden_size % c.num_attention_heads != 0)
            throw Error(where, "key 'hidden_size' (" + std::to_string(c.hidden_size) +
                                   ") is not divisible by 'num_attention_heads' (" +
                                   std::to_string(c.num_attention_heads) + ") and 'head_dim' is not given");
        c.head_dim = c.hidden_size / c.num_attention_heads;
    }
    c.max_position_embeddings = bounded(k, "max_position_embeddings",
                                        k.positive("max_position_embeddings", d.max_position_embeddings),
                                        kMaxPositions);
    c.rms_norm_eps = k.positive_number("rms_norm_eps", 1e-6);
    parse_rope(c, k, j, where, d.rope_theta);
    c.tie_word_embeddings = k.boolean("tie_word_embeddings", d.tie_word_embeddings);

    if (c.model_type == "qwen2") {
        c.attention_bias = true;  // Qwen2Attention: q/k/v always biased, o_proj never
        c.attention_out_bias = false;
    } else if (c.model_type == "mistral") {
        c.attention_bias = c.attention_out_bias = false;  // MistralAttention ignores the key
    } else {
        c.attention_bias = c.attention_out_bias = k.boolean("attention_bias", false);
    }
    c.mlp_bias = (c.model_type == "llama" || c.model_type == "smollm3") ? k.boolean("mlp_bias", false) : false;
    c.qk_norm = c.model_type == "qwen3";

    c.hidden_act = k.string("hidden_act", "silu");
    if (c.hidden_act != "silu")
        throw k.error("hidden_act", "is '" + c.hidden_act + "'; only 'silu' is supported for " + c.model_type);

    const char* dtype_key = k.has("dtype") ? "dtype" : "torch_dtype";
    c.torch_dtype = k.string(dtype_key, "float32");
    if (c.torch_dtype != "float32" && c.torch_dtype != "float16" && c.torch_dtype != "bfloat16")
        throw k.error(dtype_key, "is '" + c.torch_dtype + "'; supported: float32, float16, bfloat16");

    c.bos_token_id = token_id(k, j, "bos_token_id", d.bos);
    c.pad_token_id = token_id(k, j, "pad_token_id", d.pad);
    if (j.contains("eos_token_id")) c.eos_token_ids = k.integers("eos_token_id");
    else if (d.eos) c.eos_token_ids = {*d.eos};

    parse_nope_layers(c, k);
    parse_sliding_window(c, k, j, d);
    c.raw = j;
    return c;
}

ModelConfig ModelConfig::load(const std::filesystem::path& config_json) {
    const std::string where = config_json.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config_json, ec)) throw Error(where, "file does not exist");
    return from_json(parse_json(read_file(config_json), where), where);
}

int64_t ModelConfig::num_parameters() const {
    // Checked arithmetic: the bounds from_json() enforces keep every real
    // and every accepted config far below 2^63, but a ModelConfig filled in by
    // hand (or a future bound raised) must fail loudly instead of wrapping.
    auto mul = [](int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_mul_overflow(a, b, &r)) throw Error("config.json", "the parameter count overflows 64 bits");
        return r;
    };
    auto add = [](int64_t a, int64_t b) {
        int64_t r;
        if (__builtin_add_overflow(a, b, &r)) throw Error("config.json", "the parameter count overflows 64 bits");
        return r;
    };
    const int64_t h = hidden_size, q_out = mul(num_attention_heads, head_dim), kv_out = mul(num_key_value_heads, head_dim);
    int64_t attn = add(add(mul(h, q_out), mul(2, mul(h, kv_out))), mul(q_out, h));
    if (attention_bias) attn = add(attn, add(q_out, mul(2, kv_out)));
    if (attention_out_bias) attn = add(attn, h);
    if (qk_norm) attn = add(attn, mul(2, head_dim));
    int64_t mlp = mul(3, mul(h, intermediate_size));
    if (mlp_bias) mlp = add(mlp, add(mul(2, intermediate_size), h));
    const int64_t per_layer = add(add(attn, mlp), mul(2, h));  // + input and post-attention RMSNorm
    int64_t total = add(add(mul(vocab_size, h), mul(num_hidden_layers, per_layer)), h);  // embeddings, layers, final norm
    if (!tie_word_embeddings) total = add(total, mul(vocab_size, h));
    return total;
}

bool ModelConfig::any_nope_layer() const {
    return std::find(use_rope.begin(), use_rope.end(), false) != use_rope.end();
}

} // namespace glq::io
