// Block-diagonal Hadamard and the randomized Hadamard transform: explicit
// matrices on small sizes, orthogonality, round trips, non-power-of-two
// dimensions, and the reference's seeded signs.

#include <cmath>

#include <torch/torch.h>

#include "core/quant/rht.h"
#include "tests/support/test.h"

using namespace glq::quant;

namespace {

// H_b / √b by its definition: (−1)^popcount(i & j) / √b.
torch::Tensor explicit_hadamard(int64_t b) {
    torch::Tensor h = torch::empty({b, b}, torch::kFloat64);
    auto a = h.accessor<double, 2>();
    for (int64_t i = 0; i < b; ++i)
        for (int64_t j = 0; j < b; ++j) a[i][j] = (__builtin_popcountll(static_cast<uint64_t>(i & j)) & 1 ? -1.0 : 1.0) / std::sqrt(double(b));
    return h;
}

torch::Tensor explicit_block_diagonal(int64_t d) {
    std::vector<torch::Tensor> blocks;
    for (int64_t b : block_decompose(d)) blocks.push_back(explicit_hadamard(b));
    return torch::block_diag(blocks);
}

torch::Generator gen(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

} // namespace

GLQ_TEST(block_decompose_is_the_binary_expansion) {
    CHECK(block_decompose(2688) == (std::vector<int64_t>{2048, 512, 128}));
    CHECK(block_decompose(4096) == (std::vector<int64_t>{4096}));
    CHECK(block_decompose(576) == (std::vector<int64_t>{512, 64}));
    CHECK(block_decompose(1536) == (std::vector<int64_t>{1024, 512}));
    CHECK(block_decompose(1) == (std::vector<int64_t>{1}));
    CHECK_THROWS_WITH(block_decompose(0), "not positive");
}

GLQ_TEST(block_hadamard_equals_the_explicit_matrix) {
    for (int64_t d : {1, 2, 8, 64, 100, 576, 1536}) {
        const torch::Tensor x = torch::randn({5, d}, gen(static_cast<uint64_t>(d)), torch::kFloat64);
        const torch::Tensor want = x.matmul(explicit_block_diagonal(d));  // BD is symmetric
        CHECK_MSG(max_abs_diff(block_hadamard(x), want) < 1e-12, "d = " << d);
        const torch::Tensor xf = x.to(torch::kFloat32);
        CHECK_MSG(max_abs_diff(block_hadamard(xf).to(torch::kFloat64), want) < 1e-5, "float32, d = " << d);
    }
}

GLQ_TEST(block_hadamard_is_an_involution_and_keeps_norms) {
    for (int64_t d : {576, 1536, 2688, 4096, 9 * 64, 16384 + 8}) {
        const torch::Tensor x = torch::randn({3, 2, d}, gen(static_cast<uint64_t>(d) + 1));
        const torch::Tensor y = block_hadamard(x);
        CHECK(y.sizes() == x.sizes());
        CHECK_MSG(max_abs_diff(block_hadamard(y), x) < 1e-4, "d = " << d);
        CHECK_NEAR(y.norm().item<double>(), x.norm().item<double>(), 1e-3 * x.norm().item<double>());
    }
    // Half precision goes through float32 and comes back in its dtype.
    const torch::Tensor h = torch::randn({4, 64}, gen(3)).to(torch::kFloat16);
    CHECK(block_hadamard(h).scalar_type() == torch::kFloat16);
}

GLQ_TEST(block_hadamard_rejects_bad_input) {
    CHECK_THROWS_WITH(block_hadamard(torch::zeros({4, 8}, torch::kInt32)), "floating-point");
    CHECK_THROWS_WITH(block_hadamard(torch::tensor(1.0f)), "at least one dimension");
}

GLQ_TEST(reference_signs_match_torch_seed_42) {
    // torch.Generator().manual_seed(42): randint(0,2,(16,))*2-1 twice, from Python.
    const RhtSigns s = reference_signs(16, 16);
    CHECK(torch::equal(s.su, torch::tensor({-1.f, 1.f, -1.f, -1.f, -1.f, 1.f, -1.f, -1.f, -1.f, 1.f, -1.f, -1.f, -1.f, -1.f, 1.f, -1.f})));
    CHECK(torch::equal(s.sv, torch::tensor({1.f, 1.f, 1.f, -1.f, 1.f, -1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, -1.f, -1.f})));
    // Deterministic, ±1, and SV depends on m through the generator state.
    const RhtSigns a = reference_signs(576, 1536), b = reference_signs(576, 1536), c = reference_signs(577, 1536);
    CHECK(torch::equal(a.su, b.su) && torch::equal(a.sv, b.sv));
    CHECK(torch::all(a.su.abs() == 1).item<bool>() && torch::all(a.sv.abs() == 1).item<bool>());
    CHECK(!torch::equal(a.sv, c.sv));
    CHECK_THROWS_WITH(reference_signs(0, 4), "not positive");
}

GLQ_TEST(rht_weight_and_hessian_match_the_explicit_products) {
    const int64_t m = 96, n = 576;
    const RhtSigns s = reference_signs(m, n);
    const torch::Tensor w = torch::randn({m, n}, gen(5), torch::kFloat64);
    const torch::Tensor bdm = explicit_block_diagonal(m), bdn = explicit_block_diagonal(n);
    const torch::Tensor su = torch::diag(s.su.to(torch::kFloat64)), sv = torch::diag(s.sv.to(torch::kFloat64));
    const torch::Tensor wt = rht_weight(w, s.su, s.sv);
    CHECK(max_abs_diff(wt, bdm.matmul(su).matmul(w).matmul(sv).matmul(bdn)) < 1e-10);

    const torch::Tensor x = torch::randn({200, n}, gen(6), torch::kFloat64);
    const torch::Tensor h = x.t().matmul(x);
    const torch::Tensor ht = rht_hessian(h, s.sv);
    CHECK(max_abs_diff(ht, bdn.matmul(sv).matmul(h).matmul(sv).matmul(bdn)) < 1e-8);
    // The proxy loss is invariant: tr(W H Wᵀ) = tr(W~ H~ W~ᵀ).
    CHECK_NEAR(torch::trace(w.matmul(h).matmul(w.t())).item<double>(), torch::trace(wt.matmul(ht).matmul(wt.t())).item<double>(),
               1e-6 * torch::trace(w.matmul(h).matmul(w.t())).item<double>());
}

GLQ_TEST(inverse_rht_round_trips) {
    for (auto [m, n] : {std::pair<int64_t, int64_t>{576, 1536}, {2688, 576}, {64, 9 * 64}}) {
        const RhtSigns s = reference_signs(m, n);
        const torch::Tensor w = torch::randn({m, n}, gen(static_cast<uint64_t>(m + n)));
        const torch::Tensor back = inverse_rht_weight(rht_weight(w, s.su, s.sv), s.su, s.sv);
        CHECK_MSG(max_abs_diff(back, w) < 1e-4, m << "x" << n);
    }
}

GLQ_TEST(rht_rejects_mismatched_signs) {
    const RhtSigns s = reference_signs(8, 16);
    CHECK_THROWS_WITH(rht_weight(torch::zeros({8, 8}), s.su, s.sv), "expected 8 signs");
    CHECK_THROWS_WITH(rht_hessian(torch::zeros({16, 8}), s.sv), "square");
    CHECK_THROWS_WITH(inverse_rht_weight(torch::zeros({16}), s.su, s.sv), "expected a matrix");
}
