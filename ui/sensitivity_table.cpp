#include "ui/sensitivity_table.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace glq::ui {

using nlohmann::json;

const LayerSensitivity* SensitivityTable::find(const std::string& name) const {
    for (const auto& l : layers)
        if (l.name == name) return &l;
    return nullptr;
}

SensitivityTable SensitivityTable::load(const std::filesystem::path& path) {
    return from_json_text(glq::read_file(path), path.string());
}

SensitivityTable SensitivityTable::from_json_text(const std::string& text, const std::string& where) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw glq::Error(where, std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) throw glq::Error(where, "expected a JSON object with \"format\": \"glq-sensitivity\"");
    if (j.value("format", std::string()) != "glq-sensitivity")
        throw glq::Error(where, "not a sensitivity table (\"format\" must be \"glq-sensitivity\")");
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
        throw glq::Error(where, "unsupported sensitivity table version (this build reads version 1)");
    if (!j.contains("layers") || !j["layers"].is_array() || j["layers"].empty())
        throw glq::Error(where, "\"layers\" must be a non-empty array");

    SensitivityTable t;
    if (j.contains("model") && j["model"].is_string()) t.model = j["model"].get<std::string>();
    std::set<std::string> seen;
    size_t i = 0;
    for (const auto& e : j["layers"]) {
        const std::string at = "layers[" + std::to_string(i++) + "]";
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty())
            throw glq::Error(where, at + ": needs a \"name\" string");
        LayerSensitivity l;
        l.name = e["name"].get<std::string>();
        if (!seen.insert(l.name).second) throw glq::Error(where, "layer '" + l.name + "' is listed twice");
        for (const char* key : {"rows", "cols"}) {
            if (!e.contains(key) || !e[key].is_number_integer() || e[key].get<int64_t>() <= 0)
                throw glq::Error(where, "layer '" + l.name + "': \"" + key + "\" must be a positive integer");
        }
        l.rows = e["rows"].get<int64_t>();
        l.cols = e["cols"].get<int64_t>();
        if (!e.contains("proxy_loss") || !e["proxy_loss"].is_object() || e["proxy_loss"].empty())
            throw glq::Error(where, "layer '" + l.name + "': \"proxy_loss\" must map bpw (\"2\"..\"8\") to a loss");
        for (const auto& [k, v] : e["proxy_loss"].items()) {
            int bpw = 0;
            try {
                size_t used = 0;
                bpw = std::stoi(k, &used);
                if (used != k.size()) bpw = 0;
            } catch (const std::exception&) {
                bpw = 0;
            }
            if (bpw < kMinBpw || bpw > kMaxBpw)
                throw glq::Error(where, "layer '" + l.name + "': bpw \"" + k + "\" is not an integer in 2..8");
            if (!v.is_number() || v.get<double>() < 0 || !std::isfinite(v.get<double>()))
                throw glq::Error(where, "layer '" + l.name + "': proxy loss at " + k + " bpw must be a finite number >= 0");
            l.set_loss(bpw, v.get<double>());
        }
        t.layers.push_back(std::move(l));
    }
    return t;
}

std::string SensitivityTable::to_json_text() const {
    json layers_json = json::array();
    for (const auto& l : layers) {
        json losses = json::object();
        for (int b = kMinBpw; b <= kMaxBpw; ++b)
            if (l.measured(b)) losses[std::to_string(b)] = l.loss(b);
        if (losses.empty()) continue;  // nothing measured: not part of a sensitivity table
        layers_json.push_back({{"name", l.name}, {"rows", l.rows}, {"cols", l.cols}, {"proxy_loss", losses}});
    }
    json j = {{"format", "glq-sensitivity"}, {"version", 1}, {"layers", layers_json}};
    if (!model.empty()) j["model"] = model;
    return j.dump(1) + "\n";
}

void SensitivityTable::save(const std::filesystem::path& path) const { glq::write_file_atomic(path, to_json_text()); }

} // namespace glq::ui
