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
