// CUDA E8 nearest-codeword search, in two passes.
//
// Pass 1, a thread per vector: the E8 lattice decoder (O(1)) finds the
// nearest lattice point and a binary search of the sorted packed keys maps
// it to its row. That settles most vectors. The rest (~15-25%: the nearest
// lattice point lies beyond the truncated shells, or x sits on a Voronoi
// boundary) are marked.
// Pass 2, a warp per marked vector: an exact brute-force scan of the codebook
// prefix in double, 32 lanes striding over the rows, then a warp reduction
// on (score, row). The CPU settles those vectors with the orbit search of
// kernels/cpu/e8_search_impl.h, which is exact too; on the GPU that search
// runs in one thread, and its worst vectors (scoring thousands of rows of a
// partly kept shell alone) set the latency of the whole launch, which the
// LDLQ sweep pays once per 8-column block and stage. Both passes score in
// double with the same score_row, so GPU and CPU return identical indices,
// equal to the brute force. The tables (256 KiB of packed rows plus keys)
// stay hot in L2.

#include "kernels/cuda/e8_nearest.cuh"

namespace glq::kernels::cuda_launch {
namespace {

constexpr int kThreads = 128;

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = 8;
constexpr int32_t kUnsettled = -1;

// Pass 1: out[i] = the row of the decoded lattice point, or kUnsettled.
__global__ void e8_lattice_kernel(const double* __restrict__ x, int64_t n, e8::SearchView view,
                                  int64_t* __restrict__ out) {
    const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i >= n) return;
    double xi[8];
    for (int t = 0; t < 8; ++t) xi[t] = x[8 * i + t];
    out[i] = e8::lattice_row(view, xi);
}

// Pass 2: a warp settles one unsettled vector by scanning every row.
__global__ void e8_warp_scan_kernel(const double* __restrict__ x, int64_t n, e8::SearchView view,
                                    int64_t* __restrict__ out) {
    const int64_t i = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / kWarp;
    const int lane = static_cast<int>(threadIdx.x % kWarp);
    if (i >= n || out[i] != kUnsettled) return;  // uniform across the warp: one vector per warp
    double xi[8];
    for (int t = 0; t < 8; ++t) xi[t] = x[8 * i + t];
    // Each lane visits its rows in increasing order and keeps the first of
    // equal scores, so its candidate is its lowest row among ties.
    double best = 1.0e300;
    int32_t best_row = INT32_MAX;
    for (int32_t r = lane; r < view.size; r += kWarp) {
        const double d = e8::score_row(xi, view.packed[r]);
        if (d < best) {
            best = d;
            best_row = r;
        }
    }
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        const double other = __shfl_down_sync(0xffffffffu, best, offset);
        const int32_t other_row = __shfl_down_sync(0xffffffffu, best_row, offset);
        if (other < best || (other == best && other_row < best_row)) {
            best = other;
            best_row = other_row;
        }
    }
    if (lane == 0) out[i] = best_row;
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
    e8_lattice_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n, view, out);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    const int64_t warp_blocks = (n + kWarpsPerBlock - 1) / kWarpsPerBlock;
    e8_warp_scan_kernel<<<static_cast<unsigned>(warp_blocks), kWarpsPerBlock * kWarp, 0, stream>>>(x, n, view, out);
    return cudaGetLastError();
}

cudaError_t e8_nearest_bruteforce(const double* x, int64_t n, const e8::SearchView& view, int64_t* out,
                                  cudaStream_t stream) {
    if (n == 0) return cudaSuccess;
    e8_bruteforce_kernel<<<blocks_for(n), kThreads, 0, stream>>>(x, n, view, out);
    return cudaGetLastError();
}

} // namespace glq::kernels::cuda_launch
