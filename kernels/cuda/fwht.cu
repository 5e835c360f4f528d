// CUDA block-diagonal FWHT.
//
// Pass 1 (all blocks): one thread block per (row, segment) of length
// L = min(b, 8192 floats / 4096 doubles) loads the segment into shared memory
// (32 KiB) and runs the log2(L) low butterfly stages there.
// Pass 2 (blocks larger than L only): H_b = H_{b/L} ⊗ H_L in Sylvester order,
// so the remaining stages are a (b/L)-point transform of the elements at
// stride L; each thread loads one such column into registers, transforms it
// and writes it back. The 1/√b scale is applied by the last pass.

#include "kernels/cuda/fwht.cuh"

#include <cmath>

namespace glq::kernels::cuda_launch {
namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void fwht_shared_kernel(T* __restrict__ x, int64_t d, int64_t offset, int L, int segments, T scale) {
    extern __shared__ unsigned char smem_raw[];
    T* s = reinterpret_cast<T*>(smem_raw);
    const int64_t row = blockIdx.x;
    T* p = x + row * d + offset + static_cast<int64_t>(blockIdx.y) * L;
    for (int i = threadIdx.x; i < L; i += blockDim.x) s[i] = p[i];
    __syncthreads();
    for (int h = 1; h < L; h *= 2) {
        for (int k = threadIdx.x; k < L / 2; k += blockDim.x) {
            const int i = (k / h) * 2 * h + (k % h);
            const T a = s[i], c = s[i + h];
            s[i] = a + c;
            s[i + h] = a - c;
        }
        __syncthreads();
    }
    for (int i = threadIdx.x; i < L; i += blockDim.x) p[i] = s[i] * scale;
}

template <typename T>
__global__ void fwht_strided_kernel(T* __restrict__ x, int64_t rows, int64_t d, int64_t offset, int L, int k, T scale) {
    const int64_t tid = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (tid >= rows * L) return;
    const int64_t row = tid / L;
    const int col = static_cast<int>(tid % L);
    T* p = x + row * d + offset + col;
    T v[kFwhtMaxHighFactor];
    for (int j = 0; j < k; ++j) v[j] = p[static_cast<int64_t>(j) * L];
    for (int h = 1; h < k; h *= 2)
        for (int i = 0; i < k; i += 2 * h)
            for (int j = i; j < i + h; ++j) {
                const T a = v[j], c = v[j + h];
                v[j] = a + c;
                v[j + h] = a - c;
            }
    for (int j = 0; j < k; ++j) p[static_cast<int64_t>(j) * L] = v[j] * scale;
}

} // namespace

template <typename T>
cudaError_t fwht_block(T* x, int64_t rows, int64_t d, int64_t offset, int64_t b, cudaStream_t stream) {
    if (rows == 0) return cudaSuccess;
    const int64_t L = b < fwht_shared_max<T>() ? b : fwht_shared_max<T>();
    const int64_t k = b / L;
    if (k > kFwhtMaxHighFactor || rows > 0x7fffffff) return cudaErrorInvalidValue;
    const T full_scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(b)));
    const int threads = static_cast<int>(L / 2 < kThreads ? (L / 2 > 0 ? L / 2 : 1) : kThreads);
    const dim3 grid(static_cast<unsigned>(rows), static_cast<unsigned>(k));
    fwht_shared_kernel<T><<<grid, threads, L * sizeof(T), stream>>>(x, d, offset, static_cast<int>(L),
                                                                    static_cast<int>(k), k == 1 ? full_scale : T(1));
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess || k == 1) return err;
    const int64_t work = rows * L;
    fwht_strided_kernel<T><<<static_cast<unsigned>((work + kThreads - 1) / kThreads), kThreads, 0, stream>>>(
        x, rows, d, offset, static_cast<int>(L), static_cast<int>(k), full_scale);
    return cudaGetLastError();
}

template cudaError_t fwht_block<float>(float*, int64_t, int64_t, int64_t, int64_t, cudaStream_t);
template cudaError_t fwht_block<double>(double*, int64_t, int64_t, int64_t, int64_t, cudaStream_t);

} // namespace glq::kernels::cuda_launch
