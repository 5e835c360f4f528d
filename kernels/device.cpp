#include "kernels/device.h"

#include <sstream>

#include <torch/cuda.h>
#ifdef GLQ_WITH_CUDA
#include <cuda_runtime.h>
#endif

namespace glq::kernels {

bool built_with_cuda() {
#ifdef GLQ_WITH_CUDA
    return true;
#else
    return false;
#endif
}

bool cuda_device_available() { return torch::cuda::is_available() && torch::cuda::device_count() > 0; }

std::optional<uint64_t> cuda_free_memory(int index) {
#ifdef GLQ_WITH_CUDA
    int previous = 0;
    if (cudaGetDevice(&previous) != cudaSuccess || cudaSetDevice(index) != cudaSuccess) {
        cudaGetLastError();
        return std::nullopt;
    }
    size_t free = 0, total = 0;
    const cudaError_t err = cudaMemGetInfo(&free, &total);
    cudaSetDevice(previous);
    if (err != cudaSuccess) {
        cudaGetLastError();
        return std::nullopt;
    }
    return static_cast<uint64_t>(free);
#else
    (void)index;
    return std::nullopt;
#endif
}

std::string describe_devices() {
    std::ostringstream ss;
    ss << "cpu";
#ifdef GLQ_WITH_CUDA
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        n = 0;
    }
    for (int i = 0; i < n; ++i) {
        cudaDeviceProp p{};
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        ss << "\ncuda:" << i << " " << p.name << ", " << (p.totalGlobalMem >> 20) << " MiB, sm_" << p.major
           << p.minor << ", " << p.multiProcessorCount << " SMs";
    }
#endif
    return ss.str();
}

} // namespace glq::kernels
