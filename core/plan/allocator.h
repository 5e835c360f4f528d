#pragma once
// Mixed-precision bit allocation: choose one bpw per layer to minimise the
// summed proxy loss Σ_i loss_i(b_i) subject to the parameter-weighted budget
// Σ_i params_i·b_i <= target·Σ_i params_i, with min <= b_i <= max.
//
// This is a multiple-choice knapsack, solved by dynamic programming over the
// budget. Costs are counted in units of gcd(params_i), which for transformer
// layers (multiples of 64×64) keeps the table small enough to be exact on
// small and mid-size models; when it would not fit (the unit count times the
// layer count above ~1.5e8), the unit is enlarged and every layer's cost is
// rounded UP to it, so the result still never exceeds the budget, and any
// budget the rounding left over is then spent by exact best-gain upgrades.
// `exact` in the result says which case ran. (The reference instead runs a
// greedy marginal-gain heuristic on a 4×-per-bit model of a 2-bpw loss.)
//
// A loss the table did not measure is predicted from the nearest measured
// rate with the reference's model, loss falling 4× per added bit
// (budget.h's predicted_loss). A layer with no measurement at all is an
// error, not a guess: both front ends (`glqw allocate`, the GUI's Allocate
// button) and the quantization job call this one function, so the same
// table always gives the same map or the same error.

#include <cstdint>
#include <map>
#include <string>

#include "core/plan/budget.h"
#include "core/plan/sensitivity.h"

namespace glq::plan {

struct AllocationRequest {
    double target_bpw = 4.0;  // parameter-weighted average
    int min_bpw = 2;
    int max_bpw = 8;
};

struct Allocation {
    std::map<std::string, int> bpw;  // layer -> bits per weight
    double average_bpw = 0.0;        // Σ params·bpw / Σ params  (<= target); summarize_budget's
    double total_loss = 0.0;         // Σ predicted_loss at the chosen rates; summarize_budget's
    uint64_t used_bits = 0;
    uint64_t budget_bits = 0;        // floor(target · Σ params)
    bool exact = true;               // false: costs were rounded to a coarser unit
};

// Throws glq::Error naming the setting ("min bpw", "max bpw", "target bpw";
// a front end may rename them to its own options) for min/max outside 2..8
// or reversed, or a target outside [min, max]; "sensitivity table" for an
// empty table; the first layer without a measured loss (and how many more
// lack one) when any layer has none; a layer without a shape.
Allocation allocate_bpw(const SensitivityTable& table, const AllocationRequest& request);

} // namespace glq::plan
