#pragma once
// Raw-pointer launchers of the E8 nearest-codeword kernels (no LibTorch).

#include <cstdint>

#include <cuda_runtime.h>

#include "kernels/cpu/e8_search_impl.h"

namespace glq::kernels::cuda_launch {

// out[i] = nearest row of x[i, 0:8] (double, device memory). `view` holds
// device pointers.
cudaError_t e8_nearest(const double* x, int64_t n, const e8::SearchView& view, int64_t* out, cudaStream_t stream);
// The brute-force reference on the device.
cudaError_t e8_nearest_bruteforce(const double* x, int64_t n, const e8::SearchView& view, int64_t* out,
                                  cudaStream_t stream);

} // namespace glq::kernels::cuda_launch
