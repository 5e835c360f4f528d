// Tensor wrappers for the CUDA E8 nearest-codeword kernels.

#include "kernels/e8_search.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/common/error.h"
#include "kernels/cuda/e8_nearest.cuh"
#include "kernels/e8_search_view.h"

namespace glq::kernels::cuda {
namespace {

template <typename Launch>
torch::Tensor run(const torch::Tensor& x, const E8SearchTables& tables, Launch launch) {
    const c10::cuda::CUDAGuard guard(x.device());
    torch::Tensor out = torch::empty({x.size(0)}, x.options().dtype(torch::kInt64));
    const cudaError_t err = launch(x.data_ptr<double>(), x.size(0), search_view_of(tables), out.data_ptr<int64_t>(),
                                   c10::cuda::getCurrentCUDAStream().stream());
    if (err != cudaSuccess) throw Error("e8_nearest (CUDA)", cudaGetErrorString(err));
    return out;
}

} // namespace

torch::Tensor e8_nearest(const torch::Tensor& x, const E8SearchTables& tables) {
    return run(x, tables, cuda_launch::e8_nearest);
}

torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, const E8SearchTables& tables) {
    return run(x, tables, cuda_launch::e8_nearest_bruteforce);
}

} // namespace glq::kernels::cuda
