// Tensor wrapper for the CUDA block-diagonal FWHT.

#include "kernels/fwht.h"

#include <string>

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/common/error.h"
#include "kernels/cuda/fwht.cuh"

namespace glq::kernels::cuda {
namespace {

template <typename T>
void run(torch::Tensor& x, const std::vector<int64_t>& blocks) {
    const c10::cuda::CUDAGuard guard(x.device());
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    int64_t offset = 0;
    for (int64_t b : blocks) {
        if (b > cuda_launch::fwht_shared_max<T>() * cuda_launch::kFwhtMaxHighFactor)
            throw Error("block_fwht (CUDA)", "block size " + std::to_string(b) + " exceeds the kernel's limit of " +
                                                 std::to_string(cuda_launch::fwht_shared_max<T>() * cuda_launch::kFwhtMaxHighFactor));
        const cudaError_t err = cuda_launch::fwht_block<T>(x.data_ptr<T>(), x.size(0), x.size(1), offset, b, stream);
        if (err != cudaSuccess) throw Error("block_fwht (CUDA)", cudaGetErrorString(err));
        offset += b;
    }
}

} // namespace

void block_fwht_(torch::Tensor& x, const std::vector<int64_t>& blocks) {
    if (x.scalar_type() == torch::kFloat64) run<double>(x, blocks);
    else run<float>(x, blocks);
}

} // namespace glq::kernels::cuda
