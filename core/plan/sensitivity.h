#pragma once
// The sensitivity table: per linear layer, its shape, the proxy loss
// tr(ΔW·H·ΔWᵀ)/m measured at each candidate bpw (2..8) and, beside it, the
// relative error: that loss over the layer's own tr(W·H·Wᵀ)/m
// (LayerQuantMetrics::relative_proxy_loss, dimensionless), which compares
// layers whose outputs have very different scales. Written by the profiling
// pass, read by the allocator (`glqw allocate`, proxy loss only) and the
// GUI's plots. Plain C++ (no LibTorch) so the GUI can include it.
//
// File format (sensitivity.json), the same the GUI's editor reads:
//   {"format": "glq-sensitivity", "version": 2,
//    "model": "<model dir or name>",            (optional)
//    "layers": [{"name": "model.layers.0.self_attn.q_proj",
//                "rows": 576, "cols": 576,
//                "proxy_loss": {"2": 0.0123, "3": 0.0041, ..., "8": 1.2e-6},
//                "relative_error": {"2": 0.061, "3": 0.016, ...}}, ...]}   (optional)
// A layer may lack some rates (the reference profiles only at 2 bpw); a
// relative error needs the proxy loss at its rate. Version 1 (no relative
// errors) is still read; its relative errors read as absent (NaN). The
// reference package has no such table (its profiling pass writes only the
// flat bpw_allocation.json), so this format is ours alone.

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace glq::plan {

constexpr int kSensitivityMinBpw = 2;
constexpr int kSensitivityMaxBpw = 8;

// The largest layer a table may describe: far beyond any real linear (the
// largest are ~260k x 16k), small enough that rows x cols, and their sum over
// a table the allocator multiplies by 8 bits, cannot overflow 64 bits.
constexpr int64_t kMaxLayerDim = int64_t{1} << 31;
constexpr int64_t kMaxLayerParameters = int64_t{1} << 40;

struct LayerSensitivity {
    std::string name;  // HF module prefix
    int64_t rows = 0;
    int64_t cols = 0;
    // proxy_loss[b - 2] and relative_error[b - 2]; NaN = not measured.
    std::array<double, kSensitivityMaxBpw - kSensitivityMinBpw + 1> proxy_loss;
    std::array<double, kSensitivityMaxBpw - kSensitivityMinBpw + 1> relative_error;
    LayerSensitivity() {
        proxy_loss.fill(std::numeric_limits<double>::quiet_NaN());
        relative_error.fill(std::numeric_limits<double>::quiet_NaN());
    }

    // rows x cols; the loader bounds both (kMaxLayerParameters), so this cannot overflow for a loaded table.
    int64_t parameters() const { return rows * cols; }
    bool measured(int bpw) const;
    double loss(int bpw) const;  // NaN when not measured or bpw outside 2..8
    void set_loss(int bpw, double value);  // throws glq::Error for bpw outside 2..8
    bool has_relative_error(int bpw) const;
    double relative_error_at(int bpw) const;  // NaN when absent or bpw outside 2..8
    void set_relative_error(int bpw, double value);  // throws glq::Error for bpw outside 2..8
};

// One rate's line of `glqw profile`'s summary: medians over the layers
// measured at that rate, and the layer with the largest relative error.
struct RateSummary {
    int bpw = 0;
    size_t layers = 0;                 // with a proxy loss at this rate
    double median_proxy_loss = 0.0;
    size_t with_relative_error = 0;    // of those, with a relative error
    double median_relative_error = std::numeric_limits<double>::quiet_NaN();  // NaN when none
    double max_relative_error = std::numeric_limits<double>::quiet_NaN();
    std::string max_relative_error_layer;
};

struct SensitivityTable {
    std::string model;
    // The codebook the losses were measured with ("e8_shell", "trellis"):
    // losses of two codebooks are not comparable. Absent in a file: e8_shell.
    std::string codebook = "e8_shell";
    std::vector<LayerSensitivity> layers;

    const LayerSensitivity* find(const std::string& name) const;
    // Adds or replaces one measurement (creating the layer entry when new).
    // The relative error replaces the rate's old one too (NaN: none, so a
    // re-measured loss never sits beside a stale relative error). Throws
    // glq::Error for another shape under the same name or a relative error
    // that is negative or infinite.
    void record(const std::string& name, int64_t rows, int64_t cols, int bpw, double proxy_loss,
                double relative_error = std::numeric_limits<double>::quiet_NaN());
    // True when some layer has a relative error (a version-1 table has none).
    bool has_relative_errors() const;
    // One entry per rate that some layer has, in rising bpw.
    std::vector<RateSummary> summarize_rates() const;

    // Throw glq::Error naming `where`/the file and the problem: not JSON, wrong
    // format tag or version (1 and 2 are read), a layer without a name or
    // shape, a bpw key outside 2..8, a negative or non-numeric loss or
    // relative error, a relative error at a rate without a loss, a layer with
    // no loss, a name twice.
    static SensitivityTable from_json_text(const std::string& text, const std::string& where);
    static SensitivityTable load(const std::filesystem::path& path);
    // Always version 2. Layers with nothing measured are left out (the reader
    // would refuse them); "relative_error" only where a layer has one.
    std::string to_json_text() const;
    void save(const std::filesystem::path& path) const;  // atomic
};

} // namespace glq::plan
