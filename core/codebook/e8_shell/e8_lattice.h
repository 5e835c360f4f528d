#pragma once
// Search tables for nearest-codeword queries on the E8 shell codebook (see
// kernels/cpu/e8_search_impl.h for the algorithm): the packed rows, the rows
// sorted by packed key (a lattice point -> row map), and the rows grouped by
// their sorted absolute coordinates (orbits of signed permutations).

#include <cstdint>

#include <torch/types.h>

#include "kernels/e8_search.h"

namespace glq::codebook {

// Tables for the first `codebook_size` rows (1..65536), on `device`. Built on
// first use and cached per (device, size); thread-safe.
const kernels::E8SearchTables& e8_search_tables(int64_t codebook_size, const torch::Device& device);

// The E8 lattice membership test on doubled coordinates: all even with
// Σ ≡ 0 (mod 4), or all odd with Σ ≡ 0 (mod 4).
bool is_e8_point_doubled(const int* c2);

} // namespace glq::codebook
