// CUDA E8 nearest-codeword search.
//
// Design: rather than a blocked brute-force scan (65,536 codewords x 8 for
// every vector, ~1M flops each), each thread decodes its vector with the E8
// lattice decoder (O(1)) and maps the lattice point to its row by a binary
// search of the sorted packed keys; the ~15-25% of vectors whose nearest
// lattice point lies beyond the truncated shells (or on a Voronoi boundary)
// take the exact orbit search, which visits a few of the 24 coordinate
// orbits. The per-vector routine is the same source as the CPU search
// (kernels/cpu/e8_search_impl.h) and scores in double, so the GPU and CPU
// return identical indices, equal to the brute force. The tables (256 KiB of
// packed rows plus keys) stay hot in L2.

#include "kernels/cuda/e8_nearest.cuh"

namespace glq::kernels::cuda_launch {
namespace {

constexpr int kThreads = 128;

__global__ void e8_nearest_kernel(const double* __restrict__ x, int64_t n, e8::SearchView view, int64_t* __restrict__ out) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double xi[8];
    for (int t = 0; t < 8; ++t) xi[t] = x[8 * i + t];
    out[i] = e8::nearest_one(view, xi);
}

__global__ void e8_bruteforce_kernel(const double* __restrict__ x, int64_t n, e8::SearchView view, int64_t* __restrict__ out) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double xi[8];
    for (int t = 0; t < 8; ++t) xi[t] = x[8 * i + t];
    out[i] = e8::bruteforce_one(view.packed, view.size, xi);
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

} // namespace

cudaError_t e8_nearest(const double* x, int64_t n, const e8::SearchView& view, int64_t* out, cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    e8_nearest_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n, view, out);
    return cudaGetLastError();
}

cudaError_t e8_nearest_bruteforce(const double* x, int64_t n, const e8::SearchView& view, int64_t* out,
                                  cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    e8_bruteforce_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n, view, out);
    return cudaGetLastError();
}

} // namespace glq::kernels::cuda_launch
