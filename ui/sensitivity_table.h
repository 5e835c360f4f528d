#pragma once
// The sensitivity table the plots and the bpw editor read: per linear layer,
// its shape, the proxy loss tr(ΔW H ΔWᵀ)/m measured at each candidate bpw and
// the relative error (that loss over tr(W H Wᵀ)/m, dimensionless) beside it.
//
// The same format core/quant/sensitivity.h reads and `glqw profile` writes;
// ui/ keeps its own reader because core/quant's is compiled into the
// LibTorch library (glq_quant), which ui/ must not link. The file:
//
//   {"format": "glq-sensitivity", "version": 2,
//    "model": "<model dir or name>",            (optional)
//    "layers": [{"name": "model.layers.0.self_attn.q_proj",
//                "rows": 576, "cols": 576,
//                "proxy_loss": {"2": 0.0123, "3": 0.0041, ..., "8": 1.2e-6},
//                "relative_error": {"2": 0.061, ...}}, ...]}   (optional)
//
// A layer may lack some bpw (a profiling pass may measure only 2 bpw); the
// bpw editor then predicts the missing ones (see bpw_budget.h). Version 1
// files (before relative errors) are read too, with no relative errors.

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace glq::ui {

constexpr int kMinBpw = 2;
constexpr int kMaxBpw = 8;
constexpr int kBpwCount = kMaxBpw - kMinBpw + 1;

struct LayerSensitivity {
    std::string name;
    int64_t rows = 0;
    int64_t cols = 0;
    // proxy_loss[b - kMinBpw], relative_error[b - kMinBpw]; NaN = not measured.
    std::array<double, kBpwCount> proxy_loss;
    std::array<double, kBpwCount> relative_error;
    LayerSensitivity() {
        proxy_loss.fill(std::numeric_limits<double>::quiet_NaN());
        relative_error.fill(std::numeric_limits<double>::quiet_NaN());
    }

    int64_t parameters() const { return rows * cols; }
    bool measured(int bpw) const { return !std::isnan(proxy_loss[bpw - kMinBpw]); }
    double loss(int bpw) const { return proxy_loss[bpw - kMinBpw]; }
    void set_loss(int bpw, double v) { proxy_loss[bpw - kMinBpw] = v; }
    bool has_relative_error(int bpw) const { return !std::isnan(relative_error[bpw - kMinBpw]); }
    double relative_error_at(int bpw) const { return relative_error[bpw - kMinBpw]; }
    void set_relative_error(int bpw, double v) { relative_error[bpw - kMinBpw] = v; }
};

struct SensitivityTable {
    std::string model;
    std::vector<LayerSensitivity> layers;

    const LayerSensitivity* find(const std::string& name) const;
    bool has_relative_errors() const;  // false for a version-1 table

    // Throws glq::Error naming the file and the problem: not JSON, wrong
    // format tag or version (1 and 2 are read), a layer without a name or
    // shape, a bpw key outside 2..8, a negative or non-numeric loss or
    // relative error, a relative error at a rate without a loss, a layer with
    // no loss at all, a name twice.
    static SensitivityTable load(const std::filesystem::path& path);
    static SensitivityTable from_json_text(const std::string& text, const std::string& where);
    // Layers with nothing measured are left out (the reader would refuse them).
    std::string to_json_text() const;
    void save(const std::filesystem::path& path) const;  // atomic
};

} // namespace glq::ui
