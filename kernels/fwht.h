#pragma once
// Block-diagonal fast Walsh–Hadamard transform along the last dimension:
// each block of size b (a power of two, consecutive along the last dim) is
// multiplied by the orthonormal Sylvester-order Hadamard matrix H_b / √b
// (entry (i, j) = (−1)^popcount(i & j) / √b). CPU: in-place butterflies,
// rows in parallel; CUDA: shared-memory kernel for the low stages (segments
// up to 8192 floats) plus a strided kernel for the stages of larger blocks.

#include <cstdint>
#include <vector>

#include <torch/types.h>

namespace glq::kernels {

// The reference's block structure of a dimension: its binary expansion,
// largest block first (2688 -> [2048, 512, 128], laid out contiguously).
std::vector<int64_t> block_decompose(int64_t d);

// BD_d along the last dimension of x (any leading shape) over
// block_decompose(x.size(-1)), with the 1/sqrt(block) normalisation. BD is
// symmetric and orthogonal, so it is its own inverse.
torch::Tensor block_hadamard(const torch::Tensor& x);

// Returns BD(x) for x [..., D] with D = Σ blocks; x is not modified.
// float32 and float64 are transformed natively; half/bfloat16 in float32.
torch::Tensor block_fwht(const torch::Tensor& x, const std::vector<int64_t>& blocks);

namespace cpu {
// In place on a contiguous [rows, D] float32/float64 CPU tensor.
void block_fwht_(torch::Tensor& x, const std::vector<int64_t>& blocks);
} // namespace cpu

#ifdef GLQ_WITH_CUDA
namespace cuda {
// In place on a contiguous [rows, D] float32/float64 CUDA tensor.
void block_fwht_(torch::Tensor& x, const std::vector<int64_t>& blocks);
} // namespace cuda
#endif

} // namespace glq::kernels
