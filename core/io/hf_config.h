#pragma once
// The parts of an HF config.json that the engine needs, for the llama-family
// model types we support: llama, mistral, qwen2, qwen3 (q/k norm), smollm3
// (NoPE layers). SmolLM2 checkpoints are model_type "llama".
//
// Keys absent from config.json take the defaults of the transformers 5.17
// config class of that model_type (LlamaConfig, MistralConfig, Qwen2Config,
// Qwen3Config, SmolLM3Config), so a config means here what it means there:
// e.g. Qwen3 head_dim defaults to 128, Mistral num_key_value_heads to 8 and
// sliding_window to 4096, SmolLM3 rope_theta to 2e6. RoPE parameters are read
// from `rope_scaling` (transformers 4), else `rope_parameters` (transformers
// 5), with `rope_type` or the older `type`; `rope_theta` inside that object
// wins over the top-level key. The dtype is `dtype` (transformers 5) or
// `torch_dtype`.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace glq::io {

struct RopeScaling {
    std::string type = "default";  // "default", "linear", "llama3"
    double factor = 1.0;
    double low_freq_factor = 1.0;
    double high_freq_factor = 4.0;
    int64_t original_max_position_embeddings = 8192;
};

// Upper bounds on a config's counts, far above any released model (the
// largest have ~260k vocab, hidden 16k-25k, ~130 layers, 128 heads, head_dim
// 256, 10M positions) and low enough that nothing sized by them overflows or
// exhausts memory: the parameter count stays below 2^62. A config beyond one
// is refused with an error naming config.json and the key.
constexpr int64_t kMaxVocabSize = int64_t{1} << 24;   // 16.8M tokens
constexpr int64_t kMaxHiddenSize = int64_t{1} << 20;  // hidden_size and intermediate_size
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxHeads = 4096;                   // attention and key/value heads
constexpr int64_t kMaxHeadDim = 16384;
constexpr int64_t kMaxPositions = int64_t{1} << 30;   // max_position_embeddings

struct ModelConfig {
    std::string model_type;        // llama | mistral | qwen2 | qwen3 | smollm3
    std::string architecture;      // architectures[0], e.g. LlamaForCausalLM
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t intermediate_size = 0;
    int64_t num_hidden_layers = 0;
    int64_t num_attention_heads = 0;
    int64_t num_key_value_heads = 0;
    int64_t head_dim = 0;          // explicit or hidden_size / num_attention_heads
    int64_t max_position_embeddings = 2048;
    double rms_norm_eps = 1e-6;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling;
    bool tie_word_embeddings = false;
    bool attention_bias = false;   // q/k/v have bias (always for qwen2)
    bool attention_out_bias = false;  // o_proj has bias (attention_bias, except qwen2)
    bool mlp_bias = false;
    bool qk_norm = false;          // qwen3: RMSNorm on q and k per head
    std::optional<int64_t> sliding_window;  // effective (qwen2/3 and smollm3: only with use_sliding_window)
    std::vector<bool> sliding_layers;       // per layer: true = attends within sliding_window only
    std::vector<bool> use_rope;    // per layer; false = NoPE layer (smollm3)
    std::string torch_dtype = "float32";  // float32 | float16 | bfloat16 (float32 when absent, as transformers)
    std::optional<int64_t> bos_token_id;
    std::vector<int64_t> eos_token_ids;
    std::optional<int64_t> pad_token_id;
    std::string hidden_act = "silu";

    nlohmann::json raw;            // the whole config.json, kept for export

    // Parses and validates; every problem throws glq::Error naming `where`
    // (the config.json path) and the key, e.g. "missing key 'hidden_size'" or
    // "unsupported model_type 'gpt2' (supported: llama, mistral, qwen2, qwen3, smollm3)".
    static ModelConfig from_json(const nlohmann::json& j, const std::string& where);
    static ModelConfig load(const std::filesystem::path& config_json);

    // of the dense model, embeddings included; checked 64-bit arithmetic
    // (glq::Error on overflow, which the bounds above make impossible for a
    // config that from_json() accepted).

    int64_t num_parameters() const;
    bool any_nope_layer() const;

private:
    static ModelConfig parse(const nlohmann::json& j, const std::string& where);
};

// The model types ModelConfig accepts, in the order error messages list them.
const std::vector<std::string>& supported_model_types();

} // namespace glq::io
