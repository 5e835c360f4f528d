#pragma once
// bpw_allocation.json, the reference tool's per-layer rate file: a flat JSON
// object {"<checkpoint prefix>": <int bpw>, ...}, e.g.
// {"model.layers.0.mlp.down_proj": 4, ...}. The reference also accepts a
// "default" key for layers the map does not list (default 2).

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace glq::ui {

struct BpwAllocation {
    std::map<std::string, int> layers;
    std::optional<int> default_bpw;
};

// Validates against `known_layers` when it is non-empty: every key must be a
// layer of the model (or "default") and every value an integer in 2..8.
// Throws glq::Error naming the file and the offending key.
BpwAllocation parse_bpw_allocation(const std::string& text, const std::string& where,
                                   const std::vector<std::string>& known_layers);
BpwAllocation load_bpw_allocation(const std::filesystem::path& path, const std::vector<std::string>& known_layers);
std::string bpw_allocation_to_json(const BpwAllocation& allocation);
void save_bpw_allocation(const std::filesystem::path& path, const BpwAllocation& allocation);  // atomic

} // namespace glq::ui
