// CPU E8 nearest-codeword search: the shared per-vector routine of
// e8_search_impl.h over rows in parallel (at::parallel_for). Also the CPU
// reference that the CUDA kernel is tested against.

#include "kernels/e8_search.h"

#include <ATen/Parallel.h>

#include "kernels/cpu/e8_search_impl.h"
#include "kernels/e8_search_view.h"

namespace glq::kernels::cpu {
namespace {

template <typename Fn>
torch::Tensor for_each_vector(const torch::Tensor& x, int64_t grain, Fn fn) {
    const int64_t n = x.size(0);
    torch::Tensor out = torch::empty({n}, torch::kInt64);
    const double* xp = x.data_ptr<double>();
    int64_t* op = out.data_ptr<int64_t>();
    at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) op[i] = fn(xp + 8 * i);
    });
    return out;
}

} // namespace

torch::Tensor e8_nearest(const torch::Tensor& x, const E8SearchTables& tables) {
    const e8::SearchView v = search_view_of(tables);
    return for_each_vector(x, 512, [&](const double* xi) { return e8::nearest_one(v, xi); });
}

torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, const E8SearchTables& tables) {
    const e8::SearchView v = search_view_of(tables);
    return for_each_vector(x, 4, [&](const double* xi) { return e8::bruteforce_one(v.packed, v.size, xi); });
}

} // namespace glq::kernels::cpu
