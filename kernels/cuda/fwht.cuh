#pragma once
// Raw-pointer launchers of the block-diagonal FWHT (no LibTorch).

#include <cstdint>

#include <cuda_runtime.h>

namespace glq::kernels::cuda_launch {

// Largest block transformed entirely in shared memory (elements).
template <typename T>
constexpr int64_t fwht_shared_max() { return sizeof(T) == 4 ? 8192 : 4096; }
// Largest block overall: the strided pass keeps b / fwht_shared_max values per thread.
constexpr int64_t kFwhtMaxHighFactor = 64;

// In place: x is [rows, d] row-major; transforms the columns [offset, offset + b)
// of every row with H_b / √b (b a power of two).
template <typename T>
cudaError_t fwht_block(T* x, int64_t rows, int64_t d, int64_t offset, int64_t b, cudaStream_t stream);

} // namespace glq::kernels::cuda_launch
