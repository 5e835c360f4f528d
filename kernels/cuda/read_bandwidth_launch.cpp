// Tensor wrapper of the read-bandwidth probe (kernels/read_bandwidth.h).

#include "kernels/read_bandwidth.h"

#include <algorithm>
#include <string>
#include <vector>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <torch/torch.h>

#include "core/common/error.h"

namespace glq::kernels::cuda_launch {
cudaError_t read_reduce(const void* p, size_t n16, unsigned* out, int blocks, cudaStream_t stream);
}

namespace glq::kernels::cuda {

double measure_read_bandwidth(int64_t bytes, int repeats) {
    const int64_t n16 = std::max<int64_t>(1, bytes / 16);
    const auto opts = torch::TensorOptions().device(torch::kCUDA);
    const torch::Tensor buf = torch::randint(0, 1 << 30, {n16 * 4}, opts.dtype(torch::kInt32));
    const int blocks = at::cuda::getCurrentDeviceProperties()->multiProcessorCount * 4;
    torch::Tensor out = torch::zeros({blocks}, opts.dtype(torch::kInt32));
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    std::vector<double> rates;
    for (int r = 0; r < repeats + 1; ++r) {
        cudaEventRecord(a, stream);
        const cudaError_t e = cuda_launch::read_reduce(buf.data_ptr(), static_cast<size_t>(n16),
                                                       reinterpret_cast<unsigned*>(out.data_ptr<int32_t>()), blocks, stream);
        if (e != cudaSuccess) throw Error("read bandwidth", cudaGetErrorString(e));
        cudaEventRecord(b, stream);
        cudaEventSynchronize(b);
        float ms = 0;
        cudaEventElapsedTime(&ms, a, b);
        if (r > 0) rates.push_back(static_cast<double>(n16) * 16.0 / (ms * 1e-3));
    }
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    std::sort(rates.begin(), rates.end());
    return rates[rates.size() / 2];
}

} // namespace glq::kernels::cuda
