#include "core/io/generation_config.h"

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"
#include "core/io/json_keys.h"

namespace glq::io {

GenerationConfig GenerationConfig::from_json(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) throw Error(where, "is not a JSON object");
    const detail::Keys k(j, where);
    GenerationConfig g;
    g.from_file = true;
    if (const auto bos = k.integers("bos_token_id"); !bos.empty()) g.bos_token_id = bos.front();
    if (const auto pad = k.integers("pad_token_id"); !pad.empty()) g.pad_token_id = pad.front();
    g.eos_token_ids = k.integers("eos_token_id");
    g.do_sample = k.boolean("do_sample", g.do_sample);

    g.temperature = k.number("temperature", g.temperature);
    if (!(g.temperature >= 0)) throw k.error("temperature", "must not be negative");
    g.top_k = k.integer("top_k", g.top_k);
    if (g.top_k < 0) throw k.error("top_k", "must not be negative");
    g.top_p = k.number("top_p", g.top_p);
    if (!(g.top_p > 0 && g.top_p <= 1)) throw k.error("top_p", "must lie in (0, 1]");
    g.min_p = k.number("min_p", g.min_p);
    if (!(g.min_p >= 0 && g.min_p <= 1)) throw k.error("min_p", "must lie in [0, 1]");
    g.repetition_penalty = k.number("repetition_penalty", g.repetition_penalty);
    if (!(g.repetition_penalty > 0)) throw k.error("repetition_penalty", "must be positive");
    if (k.has("max_new_tokens")) g.max_new_tokens = k.positive("max_new_tokens");
    if (k.has("max_length")) g.max_length = k.positive("max_length");
    return g;
}

GenerationConfig GenerationConfig::load(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return GenerationConfig{};
    const std::string where = path.string();
    const nlohmann::json j = parse_json(read_file(path), where);
    return with_file_errors(where, "generation_config.json", [&] { return from_json(j, where); });
}

} // namespace glq::io
