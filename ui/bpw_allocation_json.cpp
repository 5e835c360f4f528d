#include "ui/bpw_allocation_json.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "ui/sensitivity_table.h"

namespace glq::ui {

using nlohmann::json;

namespace {
int checked_bpw(const json& v, const std::string& where, const std::string& key) {
    if (!v.is_number_integer())
        throw glq::Error(where, "'" + key + "': bpw must be an integer in 2..8, got " + v.dump());
    const int64_t b = v.get<int64_t>();
    if (b < kMinBpw || b > kMaxBpw)
        throw glq::Error(where, "'" + key + "': bpw " + std::to_string(b) + " is outside 2..8");
    return static_cast<int>(b);
}
} // namespace

BpwAllocation parse_bpw_allocation(const std::string& text, const std::string& where,
                                   const std::vector<std::string>& known_layers) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw glq::Error(where, std::string("not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) throw glq::Error(where, "expected a flat JSON object {\"layer name\": bpw, ...}");
    const std::set<std::string> known(known_layers.begin(), known_layers.end());
    BpwAllocation a;
    for (const auto& [key, value] : j.items()) {
        if (key == "default") {
            a.default_bpw = checked_bpw(value, where, key);
            continue;
        }
        if (!known.empty() && !known.count(key))
            throw glq::Error(where, "'" + key + "' is not a linear layer of this model");
        a.layers[key] = checked_bpw(value, where, key);
    }
    return a;
}

BpwAllocation load_bpw_allocation(const std::filesystem::path& path, const std::vector<std::string>& known_layers) {
    return parse_bpw_allocation(glq::read_file(path), path.string(), known_layers);
}

std::string bpw_allocation_to_json(const BpwAllocation& allocation) {
    json j = json::object();
    for (const auto& [k, v] : allocation.layers) j[k] = v;
    if (allocation.default_bpw) j["default"] = *allocation.default_bpw;
    return j.dump(2) + "\n";
}

void save_bpw_allocation(const std::filesystem::path& path, const BpwAllocation& allocation) {
    glq::write_file_atomic(path, bpw_allocation_to_json(allocation));
}

} // namespace glq::ui
