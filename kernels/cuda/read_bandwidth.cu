// Read-only reduction kernel for kernels/read_bandwidth.h.

#include <cstdint>

#include <cuda_runtime.h>

namespace glq::kernels::cuda_launch {
namespace {

__global__ void __launch_bounds__(512) read_reduce_kernel(const uint4* __restrict__ p, size_t n, unsigned* out) {
    unsigned acc = 0;
    const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
    size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n; i += 4 * stride) {
        const uint4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2 * stride),
                    d = __ldcs(p + i + 3 * stride);
        acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
    }
    for (; i < n; i += stride) {
        const uint4 a = __ldcs(p + i);
        acc ^= a.x ^ a.y ^ a.z ^ a.w;
    }
    for (int o = 16; o > 0; o >>= 1) acc ^= __shfl_xor_sync(0xffffffffu, acc, o);
    if ((threadIdx.x & 31) == 0) atomicXor(out + blockIdx.x, acc);
}

} // namespace

cudaError_t read_reduce(const void* p, size_t n16, unsigned* out, int blocks, cudaStream_t stream) {
    read_reduce_kernel<<<blocks, 512, 0, stream>>>(static_cast<const uint4*>(p), n16, out);
    return cudaGetLastError();
}

} // namespace glq::kernels::cuda_launch
