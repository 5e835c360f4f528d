// Layer index and projection type from an HF module name (see module_name.h).

#include "core/plan/module_name.h"

#include <array>

namespace glq::plan {
namespace {

constexpr std::string_view kLayers = "layers.";
constexpr size_t kMaxIndexDigits = 9;  // fits int32; no model has a billion layers

std::string_view last_component(std::string_view name) {
    constexpr std::string_view weight = ".weight";
    if (name.size() >= weight.size() && name.substr(name.size() - weight.size()) == weight)
        name.remove_suffix(weight.size());
    const size_t dot = name.rfind('.');
    return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

constexpr std::array<std::string_view, 7> kModules = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                      "gate_proj", "up_proj", "down_proj"};

} // namespace

std::optional<int64_t> layer_index_of(std::string_view name) {
    for (size_t at = name.find(kLayers); at != std::string_view::npos; at = name.find(kLayers, at + 1)) {
        if (at > 0 && name[at - 1] != '.') continue;  // "xlayers." is not the component "layers"
        const size_t digits = at + kLayers.size();
        size_t end = digits;
        while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
        if (end == digits || end - digits > kMaxIndexDigits || end >= name.size() || name[end] != '.')
            return std::nullopt;
        int64_t index = 0;
        for (size_t i = digits; i < end; ++i) index = index * 10 + (name[i] - '0');
        return index;
    }
    return std::nullopt;
}

Projection projection_of(std::string_view name) {
    const std::string_view last = last_component(name);
    for (size_t i = 0; i < kModules.size(); ++i)
        if (last == kModules[i]) return static_cast<Projection>(i);
    return Projection::Other;
}

const char* projection_short_name(Projection p) {
    switch (p) {
    case Projection::Q: return "q";
    case Projection::K: return "k";
    case Projection::V: return "v";
    case Projection::O: return "o";
    case Projection::Gate: return "gate";
    case Projection::Up: return "up";
    case Projection::Down: return "down";
    case Projection::Other: break;
    }
    return "other";
}

const char* projection_module_name(Projection p) {
    return p == Projection::Other ? "" : kModules[static_cast<size_t>(p)].data();
}

std::string input_owner(const std::string& name) {
    const Projection p = projection_of(name);
    const Projection owner = p == Projection::K || p == Projection::V ? Projection::Q
                             : p == Projection::Up                    ? Projection::Gate
                                                                      : p;
    if (owner == p) return name;
    const std::string_view last = last_component(name);
    const size_t at = static_cast<size_t>(last.data() - name.data());
    return name.substr(0, at) + projection_module_name(owner) + name.substr(at + last.size());
}

} // namespace glq::plan
