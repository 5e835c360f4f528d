// Sensitivity table and its JSON form (see sensitivity.h).

#include "core/quant/sensitivity.h"

#include <set>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace glq::quant {
namespace {

using nlohmann::json;

bool in_range(int bpw) { return bpw >= kSensitivityMinBpw && bpw <= kSensitivityMaxBpw; }

} // namespace

bool LayerSensitivity::measured(int bpw) const { return in_range(bpw) && !std::isnan(proxy_loss[bpw - kSensitivityMinBpw]); }

double LayerSensitivity::loss(int bpw) const {
    return in_range(bpw) ? proxy_loss[bpw - kSensitivityMinBpw] : std::numeric_limits<double>::quiet_NaN();
}

void LayerSensitivity::set_loss(int bpw, double value) {
    if (!in_range(bpw)) throw Error(name, "bpw " + std::to_string(bpw) + " is outside 2..8");
    proxy_loss[bpw - kSensitivityMinBpw] = value;
}

const LayerSensitivity* SensitivityTable::find(const std::string& name) const {
    for (const auto& l : layers)
        if (l.name == name) return &l;
    return nullptr;
}

void SensitivityTable::record(const std::string& name, int64_t rows, int64_t cols, int bpw, double proxy_loss) {
    for (auto& l : layers) {
        if (l.name != name) continue;
        if (l.rows != rows || l.cols != cols)
            throw Error(name, "shape " + std::to_string(rows) + "x" + std::to_string(cols) + " differs from the recorded " +
                                  std::to_string(l.rows) + "x" + std::to_string(l.cols));
        l.set_loss(bpw, proxy_loss);
        return;
    }
    LayerSensitivity l;
    l.name = name;
    l.rows = rows;
    l.cols = cols;
    l.set_loss(bpw, proxy_loss);
    layers.push_back(std::move(l));
}

SensitivityTable SensitivityTable::from_json_text(const std::string& text, const std::string& where) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw Error(where, std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) throw Error(where, "expected a JSON object with \"format\": \"glq-sensitivity\"");
    if (!j.contains("format") || !j["format"].is_string() || j["format"].get<std::string>() != "glq-sensitivity")
        throw Error(where, "not a sensitivity table (\"format\" must be \"glq-sensitivity\")");
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() != 1)
        throw Error(where, "unsupported sensitivity table version (this build reads version 1)");
    if (!j.contains("layers") || !j["layers"].is_array() || j["layers"].empty())
        throw Error(where, "\"layers\" must be a non-empty array");
    SensitivityTable t;
    if (j.contains("model") && j["model"].is_string()) t.model = j["model"].get<std::string>();
    std::set<std::string> seen;
    size_t i = 0;
    for (const auto& e : j["layers"]) {
        const std::string at = "layers[" + std::to_string(i++) + "]";
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty())
            throw Error(where, at + ": needs a \"name\" string");
        LayerSensitivity l;
        l.name = e["name"].get<std::string>();
        if (!seen.insert(l.name).second) throw Error(where, "layer '" + l.name + "' is listed twice");
        for (const char* key : {"rows", "cols"})
            if (!e.contains(key) || !e[key].is_number_integer() || e[key].get<int64_t>() <= 0)
                throw Error(where, "layer '" + l.name + "': \"" + key + "\" must be a positive integer");
        l.rows = e["rows"].get<int64_t>();
        l.cols = e["cols"].get<int64_t>();
        if (!e.contains("proxy_loss") || !e["proxy_loss"].is_object() || e["proxy_loss"].empty())
            throw Error(where, "layer '" + l.name + "': \"proxy_loss\" must map bpw (\"2\"..\"8\") to a loss");
        for (const auto& [k, v] : e["proxy_loss"].items()) {
            int bpw = 0;
            const bool key_ok = k.size() == 1 && k[0] >= '0' + kSensitivityMinBpw && k[0] <= '0' + kSensitivityMaxBpw;
            if (key_ok) bpw = k[0] - '0';
            if (!key_ok) throw Error(where, "layer '" + l.name + "': bpw \"" + k + "\" is not an integer in 2..8");
            if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
                throw Error(where, "layer '" + l.name + "': proxy loss at " + k + " bpw must be a finite number >= 0");
            l.set_loss(bpw, v.get<double>());
        }
        t.layers.push_back(std::move(l));
    }
    return t;
}

SensitivityTable SensitivityTable::load(const std::filesystem::path& path) {
    return from_json_text(read_file(path), path.string());
}

std::string SensitivityTable::to_json_text() const {
    json layers_json = json::array();
    for (const auto& l : layers) {
        json losses = json::object();
        for (int b = kSensitivityMinBpw; b <= kSensitivityMaxBpw; ++b)
            if (l.measured(b)) losses[std::to_string(b)] = l.loss(b);
        if (losses.empty()) continue;
        layers_json.push_back({{"name", l.name}, {"rows", l.rows}, {"cols", l.cols}, {"proxy_loss", losses}});
    }
    json j = {{"format", "glq-sensitivity"}, {"version", 1}, {"layers", layers_json}};
    if (!model.empty()) j["model"] = model;
    return j.dump(2) + "\n";
}

void SensitivityTable::save(const std::filesystem::path& path) const { write_file_atomic(path, to_json_text()); }

} // namespace glq::quant
