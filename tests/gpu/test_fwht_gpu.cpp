// CUDA block-diagonal FWHT vs the CPU butterflies, including blocks above
// the shared-memory segment (16384, 32768) and non-power-of-two dimensions.

#include <torch/torch.h>

#include "core/quant/rht.h"
#include "tests/support/require_cuda.h"
#include "tests/support/test.h"

using namespace glq::quant;

GLQ_TEST(gpu_block_hadamard_matches_cpu) {
    glq::test::require_cuda();
    for (int64_t d : {1, 2, 64, 576, 1536, 2688, 4096, 8192, 9 * 64, 14336, 16384, 32768, 32768 + 4096 + 8}) {
        for (auto dtype : {torch::kFloat32, torch::kFloat64}) {
            const torch::Tensor x = torch::randn({33, d}, dtype);
            const torch::Tensor cpu = block_hadamard(x);
            const torch::Tensor gpu = block_hadamard(x.to(torch::kCUDA)).cpu();
            const double err = (gpu - cpu).abs().max().item<double>();
            const double tol = dtype == torch::kFloat32 ? 1e-4 : 1e-12;
            CHECK_MSG(err < tol, "d = " << d << " dtype " << dtype << " max error " << err);
        }
    }
}

GLQ_TEST(gpu_rht_round_trip_and_half_precision) {
    glq::test::require_cuda();
    const RhtSigns s = reference_signs(2688, 576);
    const torch::Tensor w = torch::randn({2688, 576}, torch::kCUDA);
    const torch::Tensor wt = rht_weight(w, s.su, s.sv);
    CHECK((wt.cpu() - rht_weight(w.cpu(), s.su, s.sv)).abs().max().item<double>() < 1e-4);
    CHECK((inverse_rht_weight(wt, s.su, s.sv) - w).abs().max().item<double>() < 1e-4);
    const torch::Tensor h = torch::randn({7, 1536}, torch::kCUDA).to(torch::kBFloat16);
    const torch::Tensor hh = block_hadamard(h);
    CHECK(hh.scalar_type() == torch::kBFloat16 && hh.is_cuda());
    CHECK((hh.cpu().to(torch::kFloat32) - block_hadamard(h.cpu().to(torch::kFloat32))).abs().max().item<double>() < 0.05);
}
