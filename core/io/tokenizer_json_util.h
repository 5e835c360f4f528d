#pragma once
// Small readers for tokenizer.json fields that turn a wrong type or a missing
// key into one glq::Error naming the file and the component.

#include <string>

#include <nlohmann/json.hpp>

#include "core/common/error.h"

namespace glq::io::tokjson {

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
        throw Error(where, component + " with a Regex pattern (" + pattern["Regex"].dump() +
                               ") is not supported; only String patterns are");
    throw Error(where, component + " has no String pattern");
}

} // namespace glq::io::tokjson
