#pragma once
// The E8 shell codebook of the reference `glq` package: 65,536 E8 lattice
// points (shells of norm² 0..10 whole plus 8,655 of norm² 12), in exactly the
// reference's order, so that a 16-bit index means the same vector in both
// tools. The 256-entry secondary codebook is its first 256 rows. The table is
// data (tools/gen_e8_codebook.py extracts it from the reference's
// e8_codebook.pt) and is compiled into the program.

#include <cstdint>

#include <torch/types.h>

namespace glq::codebook {

constexpr int64_t kE8CodebookSize = 65536;
constexpr int64_t kE8SmallCodebookSize = 256;
constexpr double kE8OptScale = 1.0;    // Wscale = rms(W~) * opt_scale
constexpr double kE8ResidScale = 3.0;  // same-codebook residual stage scale

// float32 [65536, 8] on the CPU (values in {-3, -2.5, ..., 3}).
const torch::Tensor& e8_codebook();
// The same table on `device`, cached per device, in `dtype`.
torch::Tensor e8_codebook_on(const torch::Device& device, torch::ScalarType dtype = torch::kFloat32);

// Nearest codeword (squared Euclidean) for each row of x [N, 8] among the
// first `codebook_size` entries (65536 or 256). Returns int64 indices [N].
// Both devices: E8 lattice decoding (D8 / D8+1/2 decoders) settles most
// vectors; the rest take an exact search (CPU: by coordinate orbits; CUDA: a
// warp-wide scan of the codebook per vector), never an N x 65536 matrix.
// Ties resolve to the lower index. `check_finite`: see kernels/e8_search.h.
torch::Tensor e8_nearest(const torch::Tensor& x, int64_t codebook_size = kE8CodebookSize, bool check_finite = true);

// Brute-force reference for tests (chunked, exact, lowest index on ties).
torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, int64_t codebook_size = kE8CodebookSize);

} // namespace glq::codebook
