#include "ui/bpw_budget.h"

#include <cmath>
#include <limits>

#include "core/common/error.h"

namespace glq::ui {

int stage_count(int bpw) { return bpw / 2 + bpw % 2; }

int64_t padded_weights(int64_t rows, int64_t cols) { return rows * ((cols + 7) / 8) * 8; }

uint64_t layer_stored_bytes(int64_t rows, int64_t cols, int bpw) {
    const uint64_t index_bits = static_cast<uint64_t>(padded_weights(rows, cols)) * static_cast<uint64_t>(bpw);
    const uint64_t signs = 2 * static_cast<uint64_t>(rows + cols);             // SU, SV fp16
    const uint64_t scalars = 4 * static_cast<uint64_t>(stage_count(bpw));      // Wscale + inv_resid_scale*
    return (index_bits + 7) / 8 + signs + scalars;
}

double predicted_loss(const LayerSensitivity& layer, int bpw) {
    if (layer.measured(bpw)) return layer.loss(bpw);
    int nearest = -1;
    for (int b = kMinBpw; b <= kMaxBpw; ++b)
        if (layer.measured(b) && (nearest < 0 || std::abs(b - bpw) < std::abs(nearest - bpw))) nearest = b;
    if (nearest < 0) return std::numeric_limits<double>::quiet_NaN();
    return layer.loss(nearest) * std::pow(4.0, -(bpw - nearest));
}

BudgetSummary summarize_budget(const std::vector<LayerSensitivity>& layers, const std::vector<int>& bpw) {
    BudgetSummary s;
    double weighted = 0.0;
    for (size_t i = 0; i < layers.size(); ++i) {
        const auto& l = layers[i];
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

std::vector<int> allocate_bpw(const std::vector<LayerSensitivity>& layers, double target_bpw, int min_bpw,
                              int max_bpw) {
    if (min_bpw < kMinBpw || max_bpw > kMaxBpw || min_bpw > max_bpw)
        throw glq::Error("allocate", "min and max bpw must satisfy 2 <= min <= max <= 8");
    if (!(target_bpw >= min_bpw))
        throw glq::Error("allocate", "target average bpw must be at least the minimum bpw (" + std::to_string(min_bpw) + ")");
    std::vector<int> bpw(layers.size(), min_bpw);
    std::vector<double> size(layers.size());
    double total = 0.0;
    for (size_t i = 0; i < layers.size(); ++i) {
        size[i] = static_cast<double>(layers[i].parameters());
        total += size[i];
    }
    const double budget = target_bpw * total;
    double used = min_bpw * total;
    for (;;) {
        double best_gain = -1.0;
        size_t best_layer = 0;
        int best_rate = 0;
        for (size_t i = 0; i < layers.size(); ++i) {
            const double now = predicted_loss(layers[i], bpw[i]);
            if (std::isnan(now)) continue;  // nothing measured: stays at the minimum
            for (int t = bpw[i] + 1; t <= max_bpw; ++t) {
                const double extra = (t - bpw[i]) * size[i];
                if (used + extra > budget + 1e-9 * budget) break;
                const double gain = (now - predicted_loss(layers[i], t)) / extra;
                if (gain > best_gain) {
                    best_gain = gain;
                    best_layer = i;
                    best_rate = t;
                }
            }
        }
        if (best_gain < 0.0) break;
        used += (best_rate - bpw[best_layer]) * size[best_layer];
        bpw[best_layer] = best_rate;
    }
    return bpw;
}

} // namespace glq::ui
