#pragma once
// The sensitivity table: per linear layer, its shape and the proxy loss
// tr(ΔW·H·ΔWᵀ)/m measured at each candidate bpw (2..8). Written by the
// profiling pass, read by the allocator (`glqw allocate`) and the GUI's plots.
// Plain C++ (no LibTorch) so the GUI can include it.
//
// File format (sensitivity.json), the same the GUI's editor reads:
//   {"format": "glq-sensitivity", "version": 1,
//    "model": "<model dir or name>",            (optional)
//    "layers": [{"name": "model.layers.0.self_attn.q_proj",
//                "rows": 576, "cols": 576,
//                "proxy_loss": {"2": 0.0123, "3": 0.0041, ..., "8": 1.2e-6}}, ...]}
// A layer may lack some rates (the reference profiles only at 2 bpw).

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace glq::quant {

constexpr int kSensitivityMinBpw = 2;
constexpr int kSensitivityMaxBpw = 8;

struct LayerSensitivity {
    std::string name;  // HF module prefix
    int64_t rows = 0;
    int64_t cols = 0;
    // proxy_loss[b - 2]; NaN = not measured.
    std::array<double, kSensitivityMaxBpw - kSensitivityMinBpw + 1> proxy_loss;
    LayerSensitivity() { proxy_loss.fill(std::numeric_limits<double>::quiet_NaN()); }

    int64_t parameters() const { return rows * cols; }
    bool measured(int bpw) const;
    double loss(int bpw) const;  // NaN when not measured or bpw outside 2..8
    void set_loss(int bpw, double value);  // throws glq::Error for bpw outside 2..8
};

struct SensitivityTable {
    std::string model;
    std::vector<LayerSensitivity> layers;

    const LayerSensitivity* find(const std::string& name) const;
    // Adds or replaces one measurement (creating the layer entry when new).
    void record(const std::string& name, int64_t rows, int64_t cols, int bpw, double proxy_loss);

    // Throw glq::Error naming `where`/the file and the problem: not JSON, wrong
    // format tag or version, a layer without a name or shape, a bpw key outside
    // 2..8, a negative or non-numeric loss, a layer with no loss, a name twice.
    static SensitivityTable from_json_text(const std::string& text, const std::string& where);
    static SensitivityTable load(const std::filesystem::path& path);
    // Layers with nothing measured are left out (the reader would refuse them).
    std::string to_json_text() const;
    void save(const std::filesystem::path& path) const;  // atomic
};

} // namespace glq::quant
