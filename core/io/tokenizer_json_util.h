#pragma once
// Small readers for tokenizer.json fields that turn a wrong type or a missing
// key into one glq::Error naming the file and the component.

#include <string>

#include <nlohmann/json.hpp>

#include "core/io/json_file.h"
#include "core/common/error.h"

namespace glq::io::tokjson {

// How deep "Sequence" components (normalizers, pre_tokenizers, decoders,
// post_processors) may nest. Real files nest one Sequence, never two; each
// level recurses when the tokenizer is built and when it runs.
constexpr int kMaxTokenizerSequenceDepth = 8;

inline void check_sequence_depth(int depth, const std::string& where, const char* component) {
    if (depth >= kMaxTokenizerSequenceDepth)
        throw Error(where, std::string(component) + " Sequence nests more than " +
                               std::to_string(kMaxTokenizerSequenceDepth) + " deep; refusing it");
}

inline std::string type_of(const nlohmann::json& j, const std::string& where, const char* component) {
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
        throw Error(where, std::string(component) + " has no \"type\"");
    return j["type"].get<std::string>();
}

template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return fallback;
    return it->get<T>();
}

inline const nlohmann::json& require(const nlohmann::json& j, const char* key, const std::string& where,
                                     const std::string& component) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) throw Error(where, component + " has no \"" + key + "\"");
    return *it;
}

// A {"String": "..."} pattern; {"Regex": ...} is refused with a clear message.
inline std::string string_pattern(const nlohmann::json& pattern, const std::string& where,
                                  const std::string& component) {
    if (pattern.is_object() && pattern.contains("String")) return pattern["String"].get<std::string>();
    if (pattern.is_object() && pattern.contains("Regex"))
        throw Error(where, component + " with a Regex pattern (" + json_excerpt(pattern["Regex"]) +
                               ") is not supported; only String patterns are");
    throw Error(where, component + " has no String pattern");
}

} // namespace glq::io::tokjson
