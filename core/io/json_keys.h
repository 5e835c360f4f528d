#pragma once
// Typed, validated access to the keys of a JSON object read from a file
// (config.json, generation_config.json, ...): every failure is a glq::Error
// naming the file and the key, e.g. "config.json: key 'hidden_size' must be
// an integer, got a string "576"". Internal to core/io.

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/json_file.h"
#include "core/common/error.h"

namespace glq::io::detail {

using nlohmann::json;

inline std::string type_name(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "a boolean";
    if (v.is_number_integer()) return "an integer";
    if (v.is_number()) return "a number";
    if (v.is_string()) return "a string";
    if (v.is_array()) return "a list";
    return "an object";
}

// Typed access to one JSON object, every failure naming the file and the key
// (with its path for nested objects, e.g. 'rope_scaling.factor').
class Keys {
public:
    Keys(const json& obj, std::string where, std::string prefix = "")
        : obj_(obj), where_(std::move(where)), prefix_(std::move(prefix)) {}

    // Present and not null.
    bool has(const char* key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }
    const json& at(const char* key) const { return obj_.at(key); }
    std::string name(const char* key) const { return "'" + prefix_ + key + "'"; }
    Error error(const char* key, const std::string& problem) const { return Error(where_, "key " + name(key) + " " + problem); }

    const json& require(const char* key) const {
        if (!has(key)) throw Error(where_, "missing key " + name(key));
        return obj_.at(key);
    }

    int64_t integer(const char* key) const { return as_integer(key, require(key)); }
    int64_t integer(const char* key, int64_t fallback) const { return has(key) ? as_integer(key, at(key)) : fallback; }
    std::optional<int64_t> optional_integer(const char* key) const {
        return has(key) ? std::optional<int64_t>(as_integer(key, at(key))) : std::nullopt;
    }
    int64_t positive(const char* key) const {
        const auto v = integer(key);
        if (v <= 0) throw error(key, "must be positive, got " + std::to_string(v));
        return v;
    }
    int64_t positive(const char* key, int64_t fallback) const {
        const auto v = integer(key, fallback);
        if (v <= 0) throw error(key, "must be positive, got " + std::to_string(v));
        return v;
    }

    double number(const char* key, double fallback) const {
        if (!has(key)) return fallback;
        const auto& v = at(key);
        if (!v.is_number()) throw error(key, "must be a number, got " + type_name(v));
        return v.get<double>();
    }
    double positive_number(const char* key, double fallback) const {
        const double v = number(key, fallback);
        if (!(v > 0) || !std::isfinite(v)) throw error(key, "must be a positive number");
        return v;
    }
    double required_positive_number(const char* key) const {
        require(key);
        return positive_number(key, 0);
    }

    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        const auto& v = at(key);
        if (!v.is_boolean()) throw error(key, "must be true or false, got " + type_name(v));
        return v.get<bool>();
    }

    std::string string(const char* key) const {
        const auto& v = require(key);
        if (!v.is_string()) throw error(key, "must be a string, got " + type_name(v));
        return v.get<std::string>();
    }
    std::string string(const char* key, const std::string& fallback) const { return has(key) ? string(key) : fallback; }

    // An integer or a list of integers (bos/eos token ids).
    std::vector<int64_t> integers(const char* key) const {
        std::vector<int64_t> out;
        if (!has(key)) return out;
        const auto& v = at(key);
        if (v.is_array()) {
            for (const auto& e : v) out.push_back(as_integer(key, e));
        } else {
            out.push_back(as_integer(key, v));
        }
        return out;
    }

private:
    int64_t as_integer(const char* key, const json& v) const {
        if (v.is_number_integer()) return v.get<int64_t>();
        // Some tools write 32.0 for 32; accept integral floats, nothing else.
        if (v.is_number_float() && std::nearbyint(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 9e15)
            return static_cast<int64_t>(v.get<double>());
        throw error(key, "must be an integer, got " + (v.is_primitive() ? type_name(v) + " " + json_excerpt(v) : type_name(v)));
    }

    const json& obj_;
    std::string where_;
    std::string prefix_;
};

} // namespace glq::io::detail
