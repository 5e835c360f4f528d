// The budget arithmetic of a bpw map (see budget.h).

#include "core/plan/budget.h"

#include <cmath>
#include <limits>

#include "core/common/error.h"

namespace glq::plan {

int stage_count(int bpw) { return bpw / 2 + bpw % 2; }

int64_t padded_weights(int64_t rows, int64_t cols) { return rows * ((cols + 7) / 8) * 8; }

uint64_t layer_stored_bytes(int64_t rows, int64_t cols, int bpw) {
    const uint64_t index_bits = static_cast<uint64_t>(padded_weights(rows, cols)) * static_cast<uint64_t>(bpw);
    const uint64_t signs = 2 * static_cast<uint64_t>(rows + cols);         // SU, SV fp16
    const uint64_t scalars = 4 * static_cast<uint64_t>(stage_count(bpw));  // Wscale + inv_resid_scale*
    return (index_bits + 7) / 8 + signs + scalars;
}

double predicted_loss(const LayerSensitivity& layer, int bpw) {
    if (bpw < kSensitivityMinBpw || bpw > kSensitivityMaxBpw) return std::numeric_limits<double>::quiet_NaN();
    if (layer.measured(bpw)) return layer.loss(bpw);
    // Nearest measured rate (lower first on a tie), scaled by 4 per bit.
    for (int d = 1; d <= kSensitivityMaxBpw - kSensitivityMinBpw; ++d)
        for (int b : {bpw - d, bpw + d})
            if (layer.measured(b)) return layer.loss(b) * std::pow(4.0, -(bpw - b));
    return std::numeric_limits<double>::quiet_NaN();
}

double predicted_relative_error(const LayerSensitivity& layer, int bpw) {
    if (bpw < kSensitivityMinBpw || bpw > kSensitivityMaxBpw) return std::numeric_limits<double>::quiet_NaN();
    if (layer.has_relative_error(bpw)) return layer.relative_error_at(bpw);
    // tr(W H Wᵀ)/m = loss / relative error at any rate that has both; a zero
    // relative error (an all-zero matrix) says nothing about it.
    for (int b = kSensitivityMinBpw; b <= kSensitivityMaxBpw; ++b) {
        if (!layer.measured(b) || !layer.has_relative_error(b) || layer.relative_error_at(b) <= 0) continue;
        const double signal = layer.loss(b) / layer.relative_error_at(b);
        return signal > 0 ? predicted_loss(layer, bpw) / signal : std::numeric_limits<double>::quiet_NaN();
    }
    return std::numeric_limits<double>::quiet_NaN();
}

BudgetSummary summarize_budget(const std::vector<LayerSensitivity>& layers, const std::vector<int>& bpw) {
    if (bpw.size() != layers.size())
        throw Error("bpw map", std::to_string(bpw.size()) + " rates for " + std::to_string(layers.size()) + " layers");
    BudgetSummary s;
    s.layers = static_cast<int>(layers.size());
    double weighted = 0.0;
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerSensitivity& l = layers[i];
        const int64_t p = l.parameters();
        s.parameters += p;
        weighted += static_cast<double>(p) * bpw[i];
        s.stored_bytes += layer_stored_bytes(l.rows, l.cols, bpw[i]);
        s.original_bytes_bf16 += 2 * static_cast<uint64_t>(p);
        const double loss = predicted_loss(l, bpw[i]);
        if (std::isnan(loss))
            ++s.layers_without_loss;
        else
            s.predicted_loss += loss;
    }
    s.average_bpw = s.parameters > 0 ? weighted / static_cast<double>(s.parameters) : 0.0;
    return s;
}

BudgetSummary summarize_budget(const SensitivityTable& table, const std::map<std::string, int>& bpw) {
    std::vector<int> rates;
    rates.reserve(table.layers.size());
    for (const LayerSensitivity& l : table.layers) {
        const auto it = bpw.find(l.name);
        if (it == bpw.end()) throw Error(l.name, "has no rate in the bpw map");
        rates.push_back(it->second);
    }
    return summarize_budget(table.layers, rates);
}

} // namespace glq::plan
