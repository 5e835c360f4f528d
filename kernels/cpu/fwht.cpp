// CPU block-diagonal FWHT: in-place radix-2 butterflies (a+b, a−b) with
// stride 1, 2, 4, … (Sylvester order), then the 1/√b scale. The inner loop
// runs over contiguous elements, so the compiler vectorises every stage with
// stride ≥ the SIMD width. Rows run in parallel (at::parallel_for). This is
// also the reference for the CUDA kernel.

#include "kernels/fwht.h"

#include <cmath>

#include <ATen/Parallel.h>

namespace glq::kernels::cpu {
namespace {

template <typename T>
void fwht_block(T* __restrict__ p, int64_t b) {
    for (int64_t h = 1; h < b; h *= 2) {
        for (int64_t i = 0; i < b; i += 2 * h) {
            T* __restrict__ lo = p + i;
            T* __restrict__ hi = p + i + h;
            for (int64_t j = 0; j < h; ++j) {
                const T a = lo[j], c = hi[j];
                lo[j] = a + c;
                hi[j] = a - c;
            }
        }
    }
    const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(b)));
    for (int64_t j = 0; j < b; ++j) p[j] *= scale;
}

template <typename T>
void run(torch::Tensor& x, const std::vector<int64_t>& blocks) {
    const int64_t rows = x.size(0), d = x.size(1);
    T* base = x.data_ptr<T>();
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(d, 1));
    at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
            int64_t offset = 0;
            for (int64_t b : blocks) {
                fwht_block(base + r * d + offset, b);
                offset += b;
            }
        }
    });
}

} // namespace

void block_fwht_(torch::Tensor& x, const std::vector<int64_t>& blocks) {
    if (x.scalar_type() == torch::kFloat64) run<double>(x, blocks);
    else run<float>(x, blocks);
}

} // namespace glq::kernels::cpu
