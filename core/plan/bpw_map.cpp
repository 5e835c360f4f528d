// bpw_allocation.json reading, writing and validation (see bpw_map.h).

#include "core/plan/bpw_map.h"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"

namespace glq::plan {
namespace {

using nlohmann::json;

constexpr int kReferenceFallbackBpw = 2;

int parse_bpw(const json& v, const std::string& key, const std::string& where) {
    const std::string what = "\"" + key + "\": ";
    if (v.is_number_integer()) {
        const int64_t b = v.get<int64_t>();
        if (b >= 2 && b <= 8) return static_cast<int>(b);
        throw Error(where, what + "bpw " + std::to_string(b) + " is outside 2..8");
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        // 4.0 is a whole rate written by a float-minded tool; 3.5 is not a rate.
        if (std::isfinite(d) && d == std::floor(d) && d >= 2 && d <= 8) return static_cast<int>(d);
        throw Error(where, what + "bpw " + io::json_excerpt(v) + " is not an integer in 2..8 (each layer takes a whole rate)");
    }
    throw Error(where, what + "expected an integer bpw in 2..8, got " + io::json_excerpt(v));
}

} // namespace

int BpwMap::bpw_for(const std::string& prefix) const {
    if (auto it = layers.find(prefix); it != layers.end()) return it->second;
    return default_bpw.value_or(kReferenceFallbackBpw);
}

BpwMap BpwMap::from_json_text(const std::string& text, const std::string& where) {
    const json j = io::parse_json(text, where);
    if (!j.is_object())
        throw Error(where, "a bpw map must be a JSON object {\"<layer prefix>\": <bpw>, ...}, got " +
                               std::string(j.type_name()));
    BpwMap m;
    for (const auto& [k, v] : j.items()) {
        if (k.empty()) throw Error(where, "a layer name is empty");
        const int b = parse_bpw(v, k, where);
        if (k == "default")
            m.default_bpw = b;
        else
            m.layers[k] = b;
    }
    return m;
}

BpwMap BpwMap::load(const std::filesystem::path& path) { return from_json_text(read_file(path), path.string()); }

std::string BpwMap::to_json_text() const {
    json j = json::object();  // nlohmann's object keeps keys sorted
    if (default_bpw) j["default"] = *default_bpw;
    for (const auto& [k, b] : layers) j[k] = b;
    return j.dump(2) + "\n";
}

void BpwMap::save(const std::filesystem::path& path) const { write_file_atomic(path, to_json_text()); }

void BpwMap::validate_layers(const std::vector<std::string>& model_layers, const std::string& where) const {
    const std::set<std::string> known(model_layers.begin(), model_layers.end());
    for (const auto& [k, b] : layers) {
        if (known.count(k)) continue;
        std::string hint;
        if (!model_layers.empty()) hint = " (layers look like '" + model_layers.front() + "')";
        throw Error(where, "unknown layer '" + k + "': the model has no quantizable linear of that name" + hint);
    }
}

std::map<std::string, int> BpwMap::resolve(const std::vector<std::string>& model_layers) const {
    std::map<std::string, int> out;
    for (const auto& p : model_layers) out[p] = bpw_for(p);
    return out;
}

} // namespace glq::plan
