#include "ui/sensitivity_table.h"

#include <nlohmann/json.hpp>
#include <functional>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace glq::ui {

using nlohmann::json;

namespace {

constexpr int kVersion = 2;  // 2 added "relative_error"; 1 is still read

// Calls set(bpw, value) for each entry of a {"<bpw>": number >= 0} object;
// `what` names the quantity in the errors.
void read_rate_map(const json& m, const std::string& where, const std::string& layer, const std::string& what,
                   const std::function<void(int, double)>& set) {
    for (const auto& [k, v] : m.items()) {
        int bpw = 0;
        try {
            size_t used = 0;
            bpw = std::stoi(k, &used);
            if (used != k.size()) bpw = 0;
        } catch (const std::exception&) {
            bpw = 0;
        }
        if (bpw < kMinBpw || bpw > kMaxBpw)
            throw glq::Error(where, "layer '" + layer + "': bpw \"" + k + "\" is not an integer in 2..8");
        if (!v.is_number() || v.get<double>() < 0 || !std::isfinite(v.get<double>()))
            throw glq::Error(where, "layer '" + layer + "': " + what + " at " + k + " bpw must be a finite number >= 0");
        set(bpw, v.get<double>());
    }
}

} // namespace

bool SensitivityTable::has_relative_errors() const {
    for (const auto& l : layers)
        for (int b = kMinBpw; b <= kMaxBpw; ++b)
            if (l.has_relative_error(b)) return true;
    return false;
}

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
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() < 1 ||
        j["version"].get<int64_t>() > kVersion)
        throw glq::Error(where, "unsupported sensitivity table version (this build reads versions 1 and 2)");
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
        read_rate_map(e["proxy_loss"], where, l.name, "proxy loss", [&l](int b, double v) { l.set_loss(b, v); });
        // Version 1 never has it; a version-2 layer may lack it too.
        if (e.contains("relative_error")) {
            if (!e["relative_error"].is_object())
                throw glq::Error(where, "layer '" + l.name + "': \"relative_error\" must map bpw (\"2\"..\"8\") to a number");
            read_rate_map(e["relative_error"], where, l.name, "relative error", [&](int b, double v) {
                if (!l.measured(b))
                    throw glq::Error(where, "layer '" + l.name + "': relative error at " + std::to_string(b) +
                                                " bpw has no proxy loss at that rate");
                l.set_relative_error(b, v);
            });
        }
        t.layers.push_back(std::move(l));
    }
    return t;
}

std::string SensitivityTable::to_json_text() const {
    json layers_json = json::array();
    for (const auto& l : layers) {
        json losses = json::object(), relative = json::object();
        for (int b = kMinBpw; b <= kMaxBpw; ++b) {
            if (!l.measured(b)) continue;  // a relative error alone would be refused on reading
            losses[std::to_string(b)] = l.loss(b);
            if (l.has_relative_error(b)) relative[std::to_string(b)] = l.relative_error_at(b);
        }
        if (losses.empty()) continue;  // nothing measured: not part of a sensitivity table
        json entry = {{"name", l.name}, {"rows", l.rows}, {"cols", l.cols}, {"proxy_loss", losses}};
        if (!relative.empty()) entry["relative_error"] = relative;
        layers_json.push_back(std::move(entry));
    }
    json j = {{"format", "glq-sensitivity"}, {"version", kVersion}, {"layers", layers_json}};
    if (!model.empty()) j["model"] = model;
    return j.dump(1) + "\n";
}

void SensitivityTable::save(const std::filesystem::path& path) const { glq::write_file_atomic(path, to_json_text()); }

} // namespace glq::ui
