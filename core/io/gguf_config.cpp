// config.json / generation_config.json from GGUF metadata. Only keys that
// llama.cpp's converter stores can be recovered; anything that changes the
// model's maths but is not in the metadata (Llama 3 RoPE frequency factors,
// partial rotary) is refused rather than silently imported wrong.

#include "core/io/gguf_config.h"

#include <cstdio>
#include <cstdlib>

#include "core/common/error.h"

namespace glq::io {

using nlohmann::json;

bool gguf_architecture_supported(const std::string& arch) { return arch == "llama"; }

double shortest_float32(double value) {
    const float f = static_cast<float>(value);
    char buf[32];
    for (int precision = 1; precision <= 9; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(f));
        if (std::strtof(buf, nullptr) == f) return std::strtod(buf, nullptr);
    }
    return static_cast<double>(f);
}

namespace {

int64_t positive(const GgufFile& g, const std::string& key) {
    const int64_t v = g.get_int(key);
    if (v <= 0) throw Error(g.path(), "metadata '" + key + "' is " + std::to_string(v) + ", expected a positive count");
    return v;
}

std::optional<int64_t> token_id(const GgufFile& g, const std::string& key) {
    auto id = g.get_int_opt(key);
    if (!id || *id < 0 || *id == 0xFFFFFFFFll) return std::nullopt;  // -1 / UINT32_MAX mean "none"
    return id;
}

} // namespace

json hf_config_from_gguf(const GgufFile& g, DType dtype) {
    const std::string arch = g.get_string("general.architecture");
    if (!gguf_architecture_supported(arch))
        throw Error(g.path(), "architecture '" + arch + "' is not supported for import (supported: llama)");
    auto key = [&](const char* k) { return arch + "." + k; };

    const int64_t hidden = positive(g, key("embedding_length"));
    const int64_t layers = positive(g, key("block_count"));
    const int64_t heads = positive(g, key("attention.head_count"));
    const int64_t kv_heads = g.contains(key("attention.head_count_kv")) ? positive(g, key("attention.head_count_kv")) : heads;
    const int64_t ffn = positive(g, key("feed_forward_length"));
    const int64_t context = positive(g, key("context_length"));
    if (heads % kv_heads != 0)
        throw Error(g.path(), "attention.head_count " + std::to_string(heads) + " is not a multiple of head_count_kv " +
                                  std::to_string(kv_heads));
    int64_t head_dim = 0;
    if (g.contains(key("attention.key_length"))) {
        head_dim = positive(g, key("attention.key_length"));
    } else {
        if (hidden % heads != 0)
            throw Error(g.path(), "embedding_length " + std::to_string(hidden) + " is not a multiple of head_count " +
                                      std::to_string(heads));
        head_dim = hidden / heads;
    }
    if (g.contains(key("attention.value_length")) && g.get_int(key("attention.value_length")) != head_dim)
        throw Error(g.path(), "attention.value_length differs from key_length; not supported");
    if (g.contains(key("rope.dimension_count")) && g.get_int(key("rope.dimension_count")) != head_dim)
        throw Error(g.path(), "rope.dimension_count " + std::to_string(g.get_int(key("rope.dimension_count"))) +
                                  " differs from the head size " + std::to_string(head_dim) +
                                  " (partial rotary embeddings are not supported)");
    if (g.find_tensor("rope_freqs.weight"))
        throw Error(g.path(), "the model scales RoPE frequencies per dimension (rope_freqs.weight, Llama 3.1 style); "
                              "its HF rope_scaling cannot be recovered from GGUF metadata");

    json rope_scaling = nullptr;
    const std::string scaling = g.get_string_or(key("rope.scaling.type"), "none");
    if (scaling == "linear") {
        rope_scaling = {{"rope_type", "linear"}, {"factor", shortest_float32(g.get_float(key("rope.scaling.factor")))}};
    } else if (scaling == "none") {
        if (auto f = g.get_float_opt(key("rope.scale_linear")); f && *f != 1.0)  // older converters
            rope_scaling = {{"rope_type", "linear"}, {"factor", shortest_float32(*f)}};
    } else {
        throw Error(g.path(), "rope.scaling.type '" + scaling + "' is not supported (supported: none, linear)");
    }

    int64_t vocab = 0;
    if (g.contains(key("vocab_size"))) vocab = positive(g, key("vocab_size"));
    else if (g.contains("tokenizer.ggml.tokens"))
        vocab = static_cast<int64_t>(g.get_array("tokenizer.ggml.tokens", GgufValueType::STRING).items.size());
    else if (const GgufTensorInfo* e = g.find_tensor("token_embd.weight"); e && e->dims.size() == 2)
        vocab = e->dims[1];
    else throw Error(g.path(), "cannot tell the vocabulary size (no " + key("vocab_size") + ", tokens or token_embd)");

    json config = {
        {"architectures", {"LlamaForCausalLM"}},
        {"model_type", "llama"},
        {"hidden_size", hidden},
        {"intermediate_size", ffn},
        {"num_hidden_layers", layers},
        {"num_attention_heads", heads},
        {"num_key_value_heads", kv_heads},
        {"head_dim", head_dim},
        {"max_position_embeddings", context},
        {"rms_norm_eps", shortest_float32(g.get_float(key("attention.layer_norm_rms_epsilon")))},
        {"rope_theta", shortest_float32(g.get_float_opt(key("rope.freq_base")).value_or(10000.0))},
        {"rope_scaling", rope_scaling},
        {"vocab_size", vocab},
        {"hidden_act", "silu"},
        {"attention_bias", g.find_tensor("blk.0.attn_q.bias") != nullptr},
        {"attention_dropout", 0.0},
        {"mlp_bias", false},
        {"tie_word_embeddings", g.find_tensor("output.weight") == nullptr},
        {"use_cache", true},
        {"torch_dtype", dtype == DType::F32 ? "float32" : "bfloat16"},
    };
    if (auto id = token_id(g, "tokenizer.ggml.bos_token_id")) config["bos_token_id"] = *id;
    if (auto id = token_id(g, "tokenizer.ggml.eos_token_id")) config["eos_token_id"] = *id;
    if (auto id = token_id(g, "tokenizer.ggml.padding_token_id")) config["pad_token_id"] = *id;
    return config;
}

json generation_config_from_gguf(const GgufFile& g) {
    json config = json::object();
    if (auto id = token_id(g, "tokenizer.ggml.bos_token_id")) config["bos_token_id"] = *id;
    if (auto id = token_id(g, "tokenizer.ggml.eos_token_id")) config["eos_token_id"] = *id;
    if (auto id = token_id(g, "tokenizer.ggml.padding_token_id")) config["pad_token_id"] = *id;
    return config;
}

} // namespace glq::io
