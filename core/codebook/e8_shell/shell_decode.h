#pragma once
// What a reader of the E8 shell format needs to turn stored indices back into
// weights, and nothing of the quantizer: the block width, the bit rates the
// format knows, which stages of a rate use the full table or its 256-row
// prefix, and the decoder itself.
//
//   W~[i, 8j+t] = wscale · Σ_s stage_weights[s] · CB[indices_s[i, j]][t]
//
// Stage recipes (the reference's quantize_layer_e8_shell_rht): 16-bit stages
// index the whole 65,536-row table, 8-bit stages its first 256 rows:
//   2: [full]  3: [full, 256]  4: [full, full]  5: [full, full, 256]
//   6: full×3  7: full×3 + 256  8: full×4

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace glq::codebook {

constexpr int64_t kShellBlock = 8;  // one codeword per 8 input columns
constexpr int kMinShellBpw = 2;
constexpr int kMaxShellBpw = 8;

// Per stage, the number of table rows it indexes (65536 or 256). Throws
// glq::Error for a bpw outside 2..8.
std::vector<int64_t> shell_stage_sizes(int bpw);

// The decoder every reader uses. indices may be int64 or the stored int16 bit
// patterns (read as uint16). Returns float32 [m, 8·cols] on the indices' device.
torch::Tensor decode_shell(const std::vector<torch::Tensor>& indices, const std::vector<float>& stage_weights,
                           float wscale);

} // namespace glq::codebook
