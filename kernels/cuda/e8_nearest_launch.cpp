// Tensor wrappers for the CUDA E8 nearest-codeword kernels.

#include "kernels/e8_search.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/common/error.h"
#include "kernels/cuda/e8_nearest.cuh"

namespace glq::kernels::cuda {
namespace {

e8::SearchView view_of(const E8SearchTables& t) {
    e8::SearchView v{};
    v.packed = reinterpret_cast<const uint32_t*>(t.packed.data_ptr<int32_t>());
    v.keys = reinterpret_cast<const uint32_t*>(t.keys.data_ptr<int32_t>());
    v.key_rows = t.key_rows.data_ptr<int32_t>();
    v.groups = t.groups.data_ptr<int32_t>();
    v.group_rows = t.group_rows.data_ptr<int32_t>();
    v.size = static_cast<int32_t>(t.size);
    v.num_groups = static_cast<int32_t>(t.groups.size(0));
    return v;
}

template <typename Launch>
torch::Tensor run(const torch::Tensor& x, const E8SearchTables& tables, Launch launch) {
    const c10::cuda::CUDAGuard guard(x.device());
    torch::Tensor out = torch::empty({x.size(0)}, x.options().dtype(torch::kInt64));
    const cudaError_t err = launch(x.data_ptr<double>(), x.size(0), view_of(tables), out.data_ptr<int64_t>(),
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
