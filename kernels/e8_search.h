#pragma once
// Nearest-codeword search in the E8 shell codebook: the kernel entry points.
// The algorithm (lattice decoding + an exact search by orbits) is described
// in kernels/cpu/e8_search_impl.h; CPU and CUDA run the same code and return
// identical indices. core/codebook/e8_shell/e8_lattice.h builds the tables from the
// codebook; most callers want glq::codebook::e8_nearest instead.

#include <torch/types.h>

namespace glq::kernels {

// Search tables for one codebook prefix (all int32 tensors on one device;
// the packed words are uint32 values stored bit for bit in int32).
struct E8SearchTables {
    torch::Tensor packed;      // [size] row r: nibble t = 2·c_t + 6
    torch::Tensor keys;        // [size] packed words in ascending uint32 order
    torch::Tensor key_rows;    // [size] the row of each key
    torch::Tensor groups;      // [num_groups, e8::kGroupFields]
    torch::Tensor group_rows;  // [size] rows ordered by group
    int64_t size = 0;
};

// Nearest row index (int64 [N]) for each row of x [N, 8] (float32 or
// float64, any device the tables live on). Lowest index on ties.
// `check_finite` refuses NaN/Inf inputs with a clear error; on a GPU that
// check costs a device-to-host sync, so the LDLQ sweep, whose inputs are
// finite by construction, turns it off.
torch::Tensor e8_nearest(const torch::Tensor& x, const E8SearchTables& tables, bool check_finite = true);

// The exact brute-force reference over the tables' rows (CPU or CUDA).
torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, const E8SearchTables& tables);

namespace cpu {
torch::Tensor e8_nearest(const torch::Tensor& x, const E8SearchTables& tables);
torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, const E8SearchTables& tables);
} // namespace cpu

#ifdef GLQ_WITH_CUDA
namespace cuda {
torch::Tensor e8_nearest(const torch::Tensor& x, const E8SearchTables& tables);
torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, const E8SearchTables& tables);
} // namespace cuda
#endif

} // namespace glq::kernels
