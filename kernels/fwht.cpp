// Argument checks and device dispatch for the block-diagonal FWHT.

#include "kernels/fwht.h"

#include <string>

#include "core/common/error.h"

namespace glq::kernels {

std::vector<int64_t> block_decompose(int64_t d) {
    if (d < 1) throw Error("block_decompose", "dimension " + std::to_string(d) + " is not positive");
    std::vector<int64_t> blocks;
    for (int bit = 62; bit >= 0; --bit)
        if (d & (int64_t{1} << bit)) blocks.push_back(int64_t{1} << bit);
    return blocks;
}

torch::Tensor block_hadamard(const torch::Tensor& x) {
    if (x.dim() < 1) throw Error("block_hadamard", "expected a tensor with at least one dimension");
    return block_fwht(x, block_decompose(x.size(-1)));
}

torch::Tensor block_fwht(const torch::Tensor& x, const std::vector<int64_t>& blocks) {
    if (x.dim() < 1) throw Error("block_fwht", "expected a tensor with at least one dimension");
    if (!x.is_floating_point())
        throw Error("block_fwht", std::string("expected a floating-point tensor, got ") + c10::toString(x.scalar_type()));
    int64_t total = 0;
    for (int64_t b : blocks) {
        if (b < 1 || (b & (b - 1)) != 0)
            throw Error("block_fwht", "block size " + std::to_string(b) + " is not a power of two");
        total += b;
    }
    const int64_t d = x.size(-1);
    if (total != d)
        throw Error("block_fwht", "blocks sum to " + std::to_string(total) + " but the last dimension is " +
                                      std::to_string(d));
    const auto dtype = x.scalar_type();
    const auto work_dtype = dtype == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    // A fresh contiguous copy in the working precision, transformed in place.
    torch::Tensor y = x.to(work_dtype, /*non_blocking=*/false, /*copy=*/true).contiguous().reshape({-1, d});
    if (y.numel() > 0) {
#ifdef GLQ_WITH_CUDA
        if (y.is_cuda()) {
            cuda::block_fwht_(y, blocks);
            return y.reshape(x.sizes()).to(dtype);
        }
#endif
        if (!y.is_cpu()) throw Error("block_fwht", "unsupported device " + y.device().str());
        cpu::block_fwht_(y, blocks);
    }
    return y.reshape(x.sizes()).to(dtype);
}

} // namespace glq::kernels
