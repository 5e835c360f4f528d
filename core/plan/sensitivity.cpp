// Sensitivity table and its JSON form (see sensitivity.h).

#include "core/plan/sensitivity.h"

#include <algorithm>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"

namespace glq::plan {
namespace {

using nlohmann::json;

bool in_range(int bpw) { return bpw >= kSensitivityMinBpw && bpw <= kSensitivityMaxBpw; }

constexpr int kVersion = 2;  // 2 added "relative_error"; 1 is still read

// Calls set(bpw, value) for each entry of a {"<bpw>": number >= 0} object;
// `what` names the quantity in the errors.
void read_rate_map(const json& m, const std::string& where, const std::string& layer, const std::string& what,
                   const std::function<void(int, double)>& set) {
    for (const auto& [k, v] : m.items()) {
        const bool key_ok = k.size() == 1 && k[0] >= '0' + kSensitivityMinBpw && k[0] <= '0' + kSensitivityMaxBpw;
        if (!key_ok) throw Error(where, "layer '" + layer + "': bpw \"" + k + "\" is not an integer in 2..8");
        if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
            throw Error(where, "layer '" + layer + "': " + what + " at " + k + " bpw must be a finite number >= 0");
        set(k[0] - '0', v.get<double>());
    }
}

} // namespace

bool LayerSensitivity::measured(int bpw) const { return in_range(bpw) && !std::isnan(proxy_loss[bpw - kSensitivityMinBpw]); }

double LayerSensitivity::loss(int bpw) const {
    return in_range(bpw) ? proxy_loss[bpw - kSensitivityMinBpw] : std::numeric_limits<double>::quiet_NaN();
}

void LayerSensitivity::set_loss(int bpw, double value) {
    if (!in_range(bpw)) throw Error(name, "bpw " + std::to_string(bpw) + " is outside 2..8");
    proxy_loss[bpw - kSensitivityMinBpw] = value;
}

bool LayerSensitivity::has_relative_error(int bpw) const {
    return in_range(bpw) && !std::isnan(relative_error[bpw - kSensitivityMinBpw]);
}

double LayerSensitivity::relative_error_at(int bpw) const {
    return in_range(bpw) ? relative_error[bpw - kSensitivityMinBpw] : std::numeric_limits<double>::quiet_NaN();
}

void LayerSensitivity::set_relative_error(int bpw, double value) {
    if (!in_range(bpw)) throw Error(name, "bpw " + std::to_string(bpw) + " is outside 2..8");
    relative_error[bpw - kSensitivityMinBpw] = value;
}

const LayerSensitivity* SensitivityTable::find(const std::string& name) const {
    for (const auto& l : layers)
        if (l.name == name) return &l;
    return nullptr;
}

void SensitivityTable::record(const std::string& name, int64_t rows, int64_t cols, int bpw, double proxy_loss,
                              double relative_error) {
    // Refused here, not at load: the writer would otherwise save a table its
    // own reader rejects.
    if (!std::isnan(relative_error) && (!std::isfinite(relative_error) || relative_error < 0))
        throw Error(name, "relative error at " + std::to_string(bpw) + " bpw must be a finite number >= 0 (got " +
                              std::to_string(relative_error) + ")");
    for (auto& l : layers) {
        if (l.name != name) continue;
        if (l.rows != rows || l.cols != cols)
            throw Error(name, "shape " + std::to_string(rows) + "x" + std::to_string(cols) + " differs from the recorded " +
                                  std::to_string(l.rows) + "x" + std::to_string(l.cols));
        l.set_loss(bpw, proxy_loss);
        l.set_relative_error(bpw, relative_error);
        return;
    }
    LayerSensitivity l;
    l.name = name;
    l.rows = rows;
    l.cols = cols;
    l.set_loss(bpw, proxy_loss);
    l.set_relative_error(bpw, relative_error);
    layers.push_back(std::move(l));
}

bool SensitivityTable::has_relative_errors() const {
    for (const auto& l : layers)
        for (int b = kSensitivityMinBpw; b <= kSensitivityMaxBpw; ++b)
            if (l.has_relative_error(b)) return true;
    return false;
}

namespace {

// The median of a non-empty list (the mean of the middle two for an even count).
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

} // namespace

std::vector<RateSummary> SensitivityTable::summarize_rates() const {
    std::vector<RateSummary> out;
    for (int b = kSensitivityMinBpw; b <= kSensitivityMaxBpw; ++b) {
        RateSummary r;
        r.bpw = b;
        std::vector<double> losses, relative;
        for (const auto& l : layers) {
            if (!l.measured(b)) continue;
            losses.push_back(l.loss(b));
            if (!l.has_relative_error(b)) continue;
            relative.push_back(l.relative_error_at(b));
            if (std::isnan(r.max_relative_error) || l.relative_error_at(b) > r.max_relative_error) {
                r.max_relative_error = l.relative_error_at(b);
                r.max_relative_error_layer = l.name;
            }
        }
        if (losses.empty()) continue;
        r.layers = losses.size();
        r.median_proxy_loss = median(losses);
        r.with_relative_error = relative.size();
        if (!relative.empty()) r.median_relative_error = median(relative);
        out.push_back(std::move(r));
    }
    return out;
}

static SensitivityTable table_from_json(const json& j, const std::string& where);

SensitivityTable SensitivityTable::from_json_text(const std::string& text, const std::string& where) {
    const json j = io::parse_json(text, where);
    return io::with_file_errors(where, "sensitivity table", [&] { return table_from_json(j, where); });
}

static SensitivityTable table_from_json(const json& j, const std::string& where) {
    if (!j.is_object()) throw Error(where, "expected a JSON object with \"format\": \"glq-sensitivity\"");
    if (!j.contains("format") || !j["format"].is_string() || j["format"].get<std::string>() != "glq-sensitivity")
        throw Error(where, "not a sensitivity table (\"format\" must be \"glq-sensitivity\")");
    if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int64_t>() < 1 ||
        j["version"].get<int64_t>() > kVersion)
        throw Error(where, "unsupported sensitivity table version (this build reads versions 1 and 2)");
    if (!j.contains("layers") || !j["layers"].is_array() || j["layers"].empty())
        throw Error(where, "\"layers\" must be a non-empty array");
    SensitivityTable t;
    if (j.contains("model") && j["model"].is_string()) t.model = j["model"].get<std::string>();
    if (j.contains("codebook")) {
        if (!j["codebook"].is_string() || j["codebook"].get<std::string>().empty())
            throw Error(where, "\"codebook\" must be a codebook name such as \"e8_shell\"");
        t.codebook = j["codebook"].get<std::string>();
    }
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
        if (l.rows > kMaxLayerDim || l.cols > kMaxLayerDim || l.rows * l.cols > kMaxLayerParameters)
            throw Error(where, "layer '" + l.name + "': shape " + std::to_string(l.rows) + " x " + std::to_string(l.cols) +
                                   " is beyond the largest this workbench accepts (" + std::to_string(kMaxLayerDim) +
                                   " per side, 2^40 weights)");
        if (!e.contains("proxy_loss") || !e["proxy_loss"].is_object() || e["proxy_loss"].empty())
            throw Error(where, "layer '" + l.name + "': \"proxy_loss\" must map bpw (\"2\"..\"8\") to a loss");
        read_rate_map(e["proxy_loss"], where, l.name, "proxy loss", [&l](int b, double v) { l.set_loss(b, v); });
        // Version 1 never has it; a version-2 layer may lack it too.
        if (e.contains("relative_error")) {
            if (!e["relative_error"].is_object())
                throw Error(where, "layer '" + l.name + "': \"relative_error\" must map bpw (\"2\"..\"8\") to a number");
            read_rate_map(e["relative_error"], where, l.name, "relative error", [&](int b, double v) {
                if (!l.measured(b))
                    throw Error(where, "layer '" + l.name + "': relative error at " + std::to_string(b) +
                                           " bpw has no proxy loss at that rate");
                l.set_relative_error(b, v);
            });
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
        json losses = json::object(), relative = json::object();
        for (int b = kSensitivityMinBpw; b <= kSensitivityMaxBpw; ++b) {
            if (!l.measured(b)) continue;  // a relative error alone would be refused on reading
            losses[std::to_string(b)] = l.loss(b);
            if (l.has_relative_error(b)) relative[std::to_string(b)] = l.relative_error_at(b);
        }
        if (losses.empty()) continue;
        json entry = {{"name", l.name}, {"rows", l.rows}, {"cols", l.cols}, {"proxy_loss", losses}};
        if (!relative.empty()) entry["relative_error"] = relative;
        layers_json.push_back(std::move(entry));
    }
    json j = {{"format", "glq-sensitivity"}, {"version", kVersion}, {"layers", layers_json}};
    if (!model.empty()) j["model"] = model;
    j["codebook"] = codebook;
    return j.dump(2) + "\n";
}

void SensitivityTable::save(const std::filesystem::path& path) const { write_file_atomic(path, to_json_text()); }

} // namespace glq::plan
