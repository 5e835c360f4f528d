// Exact (or conservatively rounded) multiple-choice knapsack over bit rates (see allocator.h).

#include "core/plan/allocator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <vector>

#include "core/common/error.h"

namespace glq::plan {
namespace {

// Keeps the DP's backtracking table (one byte per layer per budget unit) and
// its run time (layers × rates × units) within a second or two.
constexpr uint64_t kMaxTableCells = 150'000'000;
constexpr uint64_t kMaxUnits = 4'000'000;

std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

} // namespace

Allocation allocate_bpw(const SensitivityTable& table, const AllocationRequest& req) {
    if (req.min_bpw < kSensitivityMinBpw || req.min_bpw > kSensitivityMaxBpw)
        throw Error("min bpw", "must be an integer in 2..8, got " + std::to_string(req.min_bpw));
    if (req.max_bpw < kSensitivityMinBpw || req.max_bpw > kSensitivityMaxBpw)
        throw Error("max bpw", "must be an integer in 2..8, got " + std::to_string(req.max_bpw));
    if (req.min_bpw > req.max_bpw)
        throw Error("min bpw", "min " + std::to_string(req.min_bpw) + " is above max " + std::to_string(req.max_bpw));
    if (!std::isfinite(req.target_bpw) || req.target_bpw < req.min_bpw || req.target_bpw > req.max_bpw)
        throw Error("target bpw", "target " + fmt(req.target_bpw) + " must lie within [min, max] = [" +
                                 std::to_string(req.min_bpw) + ", " + std::to_string(req.max_bpw) + "]");
    if (table.layers.empty()) throw Error("sensitivity table", "has no layers");

    const int rates = req.max_bpw - req.min_bpw + 1;
    const size_t n = table.layers.size();
    std::vector<uint64_t> params(n);
    std::vector<std::vector<double>> loss(n, std::vector<double>(rates));
    uint64_t total_params = 0;
    // Unmeasured layers: one error naming the first and counting the rest,
    // so that a table missing many layers is not fixed one run at a time.
    const LayerSensitivity* first_unmeasured = nullptr;
    size_t unmeasured = 0;
    for (size_t i = 0; i < n; ++i) {
        const LayerSensitivity& l = table.layers[i];
        if (l.rows <= 0 || l.cols <= 0) throw Error(l.name, "has no shape in the sensitivity table");
        // Unsigned and checked: rows x cols of a hand-made table must not wrap
        // (signed overflow is undefined) and the sum, times 8 bits, must fit.
        if (l.rows > kMaxLayerDim || l.cols > kMaxLayerDim ||
            __builtin_mul_overflow(static_cast<uint64_t>(l.rows), static_cast<uint64_t>(l.cols), &params[i]) ||
            params[i] > static_cast<uint64_t>(kMaxLayerParameters))
            throw Error(l.name, "shape " + std::to_string(l.rows) + " x " + std::to_string(l.cols) +
                                    " is too large for the allocator");
        if (__builtin_add_overflow(total_params, params[i], &total_params) || total_params > (uint64_t{1} << 59))
            throw Error("sensitivity table", "the layers hold more than 2^59 weights in all");
        for (int r = 0; r < rates; ++r) loss[i][r] = predicted_loss(l, req.min_bpw + r);
        if (!std::isfinite(loss[i][0]) && unmeasured++ == 0) first_unmeasured = &l;
    }
    if (first_unmeasured) {
        std::string problem = "has no measured proxy loss in the sensitivity table";
        if (unmeasured > 1)
            problem += " (nor have " + std::to_string(unmeasured - 1) + " more of its " + std::to_string(n) + " layers)";
        problem += "; the allocator needs at least one measured rate per layer: profile the model first";
        throw Error(first_unmeasured->name, problem);
    }

    Allocation out;
    // A tiny relative slack keeps e.g. 3.5·P from flooring one bit short through rounding.
    out.budget_bits = static_cast<uint64_t>(std::floor(req.target_bpw * static_cast<double>(total_params) * (1 + 1e-12)));
    out.budget_bits = std::min<uint64_t>(out.budget_bits, static_cast<uint64_t>(req.max_bpw) * total_params);
    const uint64_t base_bits = static_cast<uint64_t>(req.min_bpw) * total_params;
    const uint64_t extra_budget = out.budget_bits - base_bits;  // target >= min, so >= 0

    // Cost unit: gcd of the layer sizes (exact), enlarged when the table would be too big.
    uint64_t unit = 0;
    for (uint64_t p : params) unit = std::gcd(unit, p);
    const uint64_t unit_limit = std::max<uint64_t>(1, std::min<uint64_t>(kMaxUnits, kMaxTableCells / n));
    if (extra_budget / unit > unit_limit) {
        out.exact = false;
        unit = (extra_budget + unit_limit - 1) / unit_limit;
    }
    const uint64_t capacity = extra_budget / unit;
    // cost[i][r] in units, rounded up (exact when unit divides params).
    std::vector<std::vector<uint64_t>> cost(n, std::vector<uint64_t>(rates));
    for (size_t i = 0; i < n; ++i)
        for (int r = 0; r < rates; ++r) cost[i][r] = (params[i] * static_cast<uint64_t>(r) + unit - 1) / unit;

    // dp[c]: least loss of the layers so far with total cost <= c.
    const size_t width = static_cast<size_t>(capacity) + 1;
    std::vector<double> dp(width, 0.0), next(width);
    std::vector<uint8_t> choice(n * width);
    for (size_t i = 0; i < n; ++i) {
        uint8_t* ch = &choice[i * width];
        for (size_t c = 0; c < width; ++c) {
            double best = std::numeric_limits<double>::infinity();
            uint8_t best_r = 0;
            for (int r = 0; r < rates; ++r) {
                if (cost[i][r] > c) break;  // costs grow with r
                const double v = dp[c - cost[i][r]] + loss[i][r];
                if (v < best) {
                    best = v;
                    best_r = static_cast<uint8_t>(r);
                }
            }
            next[c] = best;
            ch[c] = best_r;
        }
        dp.swap(next);
    }
    std::vector<int> pick(n);
    size_t c = width - 1;
    for (size_t i = n; i-- > 0;) {
        pick[i] = choice[i * width + c];
        c -= cost[i][pick[i]];
    }

    uint64_t used = base_bits;
    for (size_t i = 0; i < n; ++i) used += params[i] * static_cast<uint64_t>(pick[i]);
    if (!out.exact) {
        // Spend what the rounding left, one best upgrade (loss drop per bit) at a time.
        for (;;) {
            double best_gain = 0.0;
            size_t best_i = n;
            int best_r = 0;
            for (size_t i = 0; i < n; ++i)
                for (int r = pick[i] + 1; r < rates; ++r) {
                    const uint64_t extra = params[i] * static_cast<uint64_t>(r - pick[i]);
                    if (used + extra > out.budget_bits) break;
                    const double gain = (loss[i][pick[i]] - loss[i][r]) / static_cast<double>(extra);
                    if (gain > best_gain) {
                        best_gain = gain;
                        best_i = i;
                        best_r = r;
                    }
                }
            if (best_i == n) break;
            used += params[best_i] * static_cast<uint64_t>(best_r - pick[best_i]);
            pick[best_i] = best_r;
        }
    }

    out.used_bits = used;
    for (size_t i = 0; i < n; ++i) out.bpw[table.layers[i].name] = req.min_bpw + pick[i];
    // The read-out's own arithmetic, so the numbers the GUI shows for this map
    // are the ones `glqw allocate` prints.
    const BudgetSummary summary = summarize_budget(table, out.bpw);
    out.average_bpw = summary.average_bpw;
    out.total_loss = summary.predicted_loss;
    return out;
}

} // namespace glq::plan
