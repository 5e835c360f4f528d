// Device dispatch and argument checks for the E8 nearest-codeword search.

#include "kernels/e8_search.h"

#include "core/common/error.h"

namespace glq::kernels {
namespace {

torch::Tensor checked_input(const torch::Tensor& x, const E8SearchTables& tables, bool check_finite = true) {
    if (!tables.packed.defined() || tables.size <= 0)
        throw Error("e8_nearest", "the codebook search tables are empty");
    if (x.dim() != 2 || x.size(1) != 8)
        throw Error("e8_nearest", "expected vectors of shape [N, 8], got " + c10::str(x.sizes()));
    if (!x.is_floating_point())
        throw Error("e8_nearest", std::string("expected a floating-point tensor, got ") + c10::toString(x.scalar_type()));
    if (x.device() != tables.packed.device())
        throw Error("e8_nearest", "input is on " + x.device().str() + " but the codebook tables are on " +
                                      tables.packed.device().str());
    // float32 -> float64 is exact; the search scores in double (see e8_search_impl.h).
    torch::Tensor xd = x.to(torch::kFloat64).contiguous();
    if (check_finite && xd.numel() > 0 && !torch::isfinite(xd).all().item<bool>())
        throw Error("e8_nearest", "input contains NaN or infinite values");
    return xd;
}

} // namespace

torch::Tensor e8_nearest(const torch::Tensor& x, const E8SearchTables& tables, bool check_finite) {
    torch::Tensor xd = checked_input(x, tables, check_finite);
#ifdef GLQ_WITH_CUDA
    if (xd.is_cuda()) return cuda::e8_nearest(xd, tables);
#endif
    if (!xd.is_cpu()) throw Error("e8_nearest", "unsupported device " + xd.device().str());
    return cpu::e8_nearest(xd, tables);
}

torch::Tensor e8_nearest_bruteforce(const torch::Tensor& x, const E8SearchTables& tables) {
    torch::Tensor xd = checked_input(x, tables);
#ifdef GLQ_WITH_CUDA
    if (xd.is_cuda()) return cuda::e8_nearest_bruteforce(xd, tables);
#endif
    if (!xd.is_cpu()) throw Error("e8_nearest", "unsupported device " + xd.device().str());
    return cpu::e8_nearest_bruteforce(xd, tables);
}

} // namespace glq::kernels
