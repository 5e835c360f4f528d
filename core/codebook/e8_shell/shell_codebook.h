#pragma once
// The E8 shell codebook behind the codebook seam (core/codebook/codebook.h):
// one 16-bit index per 8 columns and stage, residual stages for 3..8 bpw, and
// the stage recipes of the reference's quantize_layer_e8_shell_rht:
//   2: [full]  3: [full, 256]  4: [full, full]  5: [full, full, 256]
//   6: full×3  7: full×3 + 256  8: full×4
// (16-bit stages use the whole 65,536-entry table, 8-bit stages its first 256
// rows). A strip is 8 columns; every row's 8-vector is encoded on its own
// (nearest codeword per stage, the residual scaled between stages).

#include <cstdint>
#include <vector>

#include "core/codebook/codebook.h"

namespace glq::codebook {

// The residual-stage recipe of one bit rate.
struct ShellRecipe {
    int bpw = 2;
    std::vector<int64_t> codebook_sizes;  // per stage: 65536 or 256
    // resid_scales[s] multiplies the residual before stage s+1 is quantised.
    std::vector<double> resid_scales;
    // Stage weights in the reconstruction, rounded to float32 exactly as they
    // are stored (inv_resid_scale*): 1, 1/rs1, 1/(rs1·rs2), ...
    std::vector<float> stage_weights;
    int64_t num_stages() const { return static_cast<int64_t>(codebook_sizes.size()); }
};
// Throws glq::Error for a bpw outside 2..8.
ShellRecipe shell_recipe(int bpw);

// The residual scale for a full -> 256-entry transition: the value on the
// reference's grid {0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30} that minimises the
// two-stage error on 8,000 standard normal 8-vectors drawn from a generator
// seeded with `seed` (the reference draws unseeded samples; only the stored
// cumulative weights matter to a reader). Computed once per seed and cached.
double paired_resid_scale_full_to_small(uint64_t seed = 0);

const Codebook& e8_shell_codebook();

} // namespace glq::codebook
