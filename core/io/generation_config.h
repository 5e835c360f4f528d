#pragma once
// The sampling defaults a model ships in generation_config.json. A missing
// file means transformers' GenerationConfig defaults (greedy decoding), so a
// model folder without one is still valid.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace glq::io {

struct GenerationConfig {
    std::optional<int64_t> bos_token_id;
    std::vector<int64_t> eos_token_ids;   // generation stops at any of them
    std::optional<int64_t> pad_token_id;
    bool do_sample = false;               // false: greedy, the sampling knobs below are unused
    double temperature = 1.0;             // >= 0
    int64_t top_k = 50;                   // 0 = disabled
    double top_p = 1.0;                   // (0, 1]; 1 = disabled
    double min_p = 0.0;                   // [0, 1]; 0 = disabled
    double repetition_penalty = 1.0;      // > 0; 1 = disabled
    std::optional<int64_t> max_new_tokens;
    std::optional<int64_t> max_length;   // prompt + generated tokens, when max_new_tokens is absent
    bool from_file = false;               // false when generation_config.json was absent

    // Validates ranges; every problem throws glq::Error naming `where` and the key.
    static GenerationConfig from_json(const nlohmann::json& j, const std::string& where);
    // An absent file gives the defaults (from_file = false); a present but
    // unreadable or invalid one throws.
    static GenerationConfig load(const std::filesystem::path& generation_config_json);
};

} // namespace glq::io
