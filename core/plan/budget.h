#pragma once
// The budget arithmetic of a bpw map, in one place: what the allocator
// (allocator.h) optimises, `glqw allocate` prints and the GUI's bpw map
// editor reads out. Plain C++ (no LibTorch).
//
// Average bpw: parameter-weighted, Σ rows·cols·b / Σ rows·cols (the rate a
// budget is given in; the reference weighs padded weights instead, which
// agrees whenever the columns are a multiple of 8, as the quantizer requires).
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
// it; otherwise the nearest measured rate's loss (the lower one on a tie)
// scaled by 4^-(b - b_measured): each extra bit divides the quantization
// error's energy by ~4, the model the reference's allocator uses. NaN when
// the layer has no measurement at all.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/plan/sensitivity.h"

namespace glq::plan {

int stage_count(int bpw);  // 16-bit stages + the 8-bit one: 2->1, 3->2, 4->2, 5->3 ...
// Weights after column padding: rows · ceil(cols/8) · 8.
int64_t padded_weights(int64_t rows, int64_t cols);
// Bytes of one layer as described above.
uint64_t layer_stored_bytes(int64_t rows, int64_t cols, int bpw);

// Predicted proxy loss of `layer` at `bpw` (see above); NaN when nothing is
// measured or bpw is outside 2..8.
double predicted_loss(const LayerSensitivity& layer, int bpw);
// The relative error at `bpw`: recorded, else predicted_loss over the layer's
// signal tr(W H Wᵀ)/m, which any rate with both a loss and a positive
// relative error gives (loss / relative error). NaN when neither is known.
double predicted_relative_error(const LayerSensitivity& layer, int bpw);

struct BudgetSummary {
    double average_bpw = 0.0;          // Σ params·bpw / Σ params
    uint64_t stored_bytes = 0;         // Σ layer_stored_bytes
    uint64_t original_bytes_bf16 = 0;  // the same layers as bf16
    double predicted_loss = 0.0;       // Σ predicted_loss over layers that have one
    int64_t parameters = 0;
    int layers = 0;
    int layers_without_loss = 0;       // layers with no measurement at all
};
// `bpw[i]` belongs to `layers[i]` (the sizes must match).
BudgetSummary summarize_budget(const std::vector<LayerSensitivity>& layers, const std::vector<int>& bpw);
// The same for a map by layer name; every layer of `table` must be in `bpw`.
BudgetSummary summarize_budget(const SensitivityTable& table, const std::map<std::string, int>& bpw);

} // namespace glq::plan
