#pragma once
// The arithmetic behind the bpw map editor's read-out and its allocate
// button, in plain C++ so it is easy to test.
//
// Size (GLQ's stored form of one linear layer, rows × cols, at b bpw):
//   - the weights are coded 8 at a time: each of b/2 16-bit stages stores one
//     16-bit E8 codebook index per 8 weights (2 bpw), an odd b adds one 8-bit
//     stage (a 256-entry codebook: 1 bpw). Columns are zero-padded to a
//     multiple of 8, rows never: index bits = rows · ceil(cols/8) · 8 · b.
//   - per layer: the RHT signs SU [rows] and SV [cols] as fp16, Wscale
//     (fp32) and one fp32 inverse residual scale per stage after the first.
// The reference checkpoint keeps an 8-bit stage's indices in an int16 tensor,
// so its file is larger than this for odd b by rows·ceil(cols/8) bytes per
// layer; this is the size the bpw budget buys, which is what an allocator
// compares.
//
// Predicted proxy loss: the measured loss at b when the sensitivity table has
// it; otherwise the nearest measured rate's loss scaled by 4^-(b - b_measured)
// (each extra bit divides the quantization error's energy by ~4; the same
// model the reference allocator uses).

#include <cstdint>
#include <vector>

#include "ui/sensitivity_table.h"

namespace glq::ui {

int stage_count(int bpw);  // 16-bit stages + the 8-bit one: 2->1, 3->2, 4->2, 5->3 ...
// Bytes of one layer as described above.
uint64_t layer_stored_bytes(int64_t rows, int64_t cols, int bpw);
// Weights after column padding: rows · ceil(cols/8) · 8.
int64_t padded_weights(int64_t rows, int64_t cols);
// Predicted proxy loss of `layer` at `bpw`; NaN when nothing is measured.
double predicted_loss(const LayerSensitivity& layer, int bpw);

struct BudgetSummary {
    double average_bpw = 0.0;     // Σ params·bpw / Σ params
    uint64_t stored_bytes = 0;    // Σ layer_stored_bytes
    uint64_t original_bytes_bf16 = 0;  // the same layers as bf16
    double predicted_loss = 0.0;  // Σ predicted_loss over layers that have one
    int64_t parameters = 0;
    int layers_without_loss = 0;  // layers with no measurement at all
};
// `bpw[i]` belongs to `layers[i]`.
BudgetSummary summarize_budget(const std::vector<LayerSensitivity>& layers, const std::vector<int>& bpw);

// Greedy marginal-gain allocation (the reference's algorithm, on the
// predicted losses above): start every layer at `min_bpw`, then repeatedly
// take the single raise (one layer, to any higher allowed rate) with the
// largest loss reduction per extra bit that keeps the parameter-weighted
// average (the one the read-out shows) <= `target_bpw`. The result's average
// never exceeds the target. (The reference weights by padded weights; for
// shapes whose columns are a multiple of 8, the usual case, they agree.) Throws glq::Error when min/max/target are inconsistent.
std::vector<int> allocate_bpw(const std::vector<LayerSensitivity>& layers, double target_bpw, int min_bpw = kMinBpw,
                              int max_bpw = kMaxBpw);

} // namespace glq::ui
