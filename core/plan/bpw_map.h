#pragma once
// The per-layer bit-rate map, in the reference's bpw_allocation.json form: a
// flat JSON object {"<HF module prefix>": <int bpw>, ...} with an optional
// "default" key for the layers it does not name (the reference falls back to
// 2 when "default" is absent too). Plain C++ (no LibTorch).

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace glq::plan {

struct BpwMap {
    std::map<std::string, int> layers;  // prefix -> 2..8
    std::optional<int> default_bpw;     // the "default" key

    // The rate of `prefix`: its entry, else "default", else 2 (the reference's rule).
    int bpw_for(const std::string& prefix) const;

    // Throws glq::Error naming `where` (the file) when the text is not a JSON
    // object, or a value is not an integer in 2..8.
    static BpwMap from_json_text(const std::string& text, const std::string& where);
    static BpwMap load(const std::filesystem::path& path);
    std::string to_json_text() const;  // keys sorted
    void save(const std::filesystem::path& path) const;  // atomic

    // Every named layer must be one of `model_layers` (the model's quantizable
    // linears); throws glq::Error naming `where` and the first unknown layer.
    void validate_layers(const std::vector<std::string>& model_layers, const std::string& where) const;
    // The complete map over `model_layers` (after validate_layers).
    std::map<std::string, int> resolve(const std::vector<std::string>& model_layers) const;
};

} // namespace glq::plan
