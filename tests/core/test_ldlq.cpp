// Block LDL and the LDLQ sweep (with the E8 shell codebook).

#include <torch/torch.h>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/shell_codebook.h"
#include "core/codebook/e8_shell/shell_decode.h"
#include "core/quant/ldlq.h"
#include "tests/support/test.h"

using namespace glq::quant;
using namespace glq::codebook;

namespace {

// A correlated positive-definite "Hessian" XᵀX/N from inputs with a shared component.
torch::Tensor correlated_hessian(int64_t n, int64_t seed, double shared = 0.8) {
    torch::manual_seed(seed);
    const int64_t tokens = 4 * n;
    torch::Tensor common = torch::randn({tokens, 1}, torch::kFloat64);
    torch::Tensor x = torch::randn({tokens, n}, torch::kFloat64) + shared * common * torch::randn({1, n}, torch::kFloat64) * 3.0;
    // Smooth across neighbouring columns too, so adjacent blocks interact.
    x = x + 0.7 * torch::roll(x, 1, 1);
    return x.t().mm(x) / static_cast<double>(tokens);
}

} // namespace

GLQ_TEST(block_ldl_reconstructs_the_hessian) {
    const int64_t n = 48;
    const torch::Tensor h = correlated_hessian(n, 1) + 0.01 * torch::eye(n, torch::kFloat64);
    const BlockLdl ldl = block_ldl(h, 8);
    CHECK_EQ(ldl.D.sizes().vec(), (std::vector<int64_t>{n / 8, 8, 8}));
    // L·blockdiag(D)·Lᵀ == H
    torch::Tensor dfull = torch::zeros({n, n}, torch::kFloat64);
    for (int64_t i = 0; i < n / 8; ++i) dfull.slice(0, 8 * i, 8 * i + 8).slice(1, 8 * i, 8 * i + 8).copy_(ldl.D[i]);
    const torch::Tensor rebuilt = ldl.L.mm(dfull).mm(ldl.L.t());
    const double rel = ((rebuilt - h).abs().max() / h.abs().max()).item<double>();
    CHECK_MSG(rel < 1e-12, "relative reconstruction error " << rel);
    // Unit block-lower-triangular: identity diagonal blocks, zero above them.
    for (int64_t i = 0; i < n / 8; ++i) {
        const torch::Tensor diag_block = ldl.L.slice(0, 8 * i, 8 * i + 8).slice(1, 8 * i, 8 * i + 8);
        CHECK(torch::allclose(diag_block, torch::eye(8, torch::kFloat64), 0, 1e-12));
        if (i + 1 < n / 8) CHECK_EQ(ldl.L.slice(0, 8 * i, 8 * i + 8).slice(1, 8 * i + 8).abs().max().item<double>(), 0.0);
    }
}

GLQ_TEST(block_ldl_rejects_an_indefinite_matrix) {
    torch::Tensor h = torch::eye(16, torch::kFloat64);
    h[3][3] = -1.0;
    CHECK(!try_block_ldl(h, 8).has_value());
    CHECK_THROWS_WITH(block_ldl(h, 8), "not positive definite");
    CHECK_THROWS_WITH(block_ldl(torch::eye(12), 8), "not a multiple of the block size");
}

GLQ_TEST(identity_hessian_sweep_is_plain_nearest_rounding) {
    torch::manual_seed(3);
    const int64_t m = 24, n = 64;
    const torch::Tensor w = torch::randn({m, n});
    const LdlqResult r = ldlq_quantize(w, torch::eye(n), e8_shell_codebook(), 2);
    const torch::Tensor wr = w / r.wscale;
    const torch::Tensor expect = e8_nearest(wr.reshape({-1, 8})).reshape({m, n / 8});
    CHECK(torch::equal(r.codes[0], expect));
    LdlqOptions no_feedback;
    no_feedback.error_feedback = false;
    CHECK(torch::equal(ldlq_quantize(w, torch::eye(n), e8_shell_codebook(), 2, no_feedback).codes[0], expect));
    CHECK_NEAR(r.wscale, w.pow(2).mean().sqrt().item<double>(), 1e-6);
}

GLQ_TEST(proxy_loss_falls_monotonically_with_bit_rate) {
    torch::manual_seed(4);
    const int64_t m = 32, n = 64;
    const torch::Tensor w = torch::randn({m, n});
    const torch::Tensor h = correlated_hessian(n, 5);
    double previous = std::numeric_limits<double>::infinity();
    for (int bpw = 2; bpw <= 8; ++bpw) {
        const LdlqResult r = ldlq_quantize(w, h, e8_shell_codebook(), bpw);
        CHECK_EQ(static_cast<int64_t>(r.codes.size()), static_cast<int64_t>(r.stage_weights.size()));
        CHECK_MSG(r.proxy_loss < previous, "bpw " << bpw << ": proxy " << r.proxy_loss << " >= " << previous);
        CHECK(r.relative_proxy_loss > 0 && r.relative_proxy_loss < 1);
        CHECK_NEAR(r.proxy_loss, proxy_loss(w, r.w_hat, h), 1e-9 * r.proxy_loss);
        previous = r.proxy_loss;
    }
    // 8 bpw: each extra 16-bit stage divides the error amplitude by about the
    // residual scale (3), so four stages leave ~0.1/3^6 of the 2-bpw error energy.
    const double signal = proxy_loss(w, torch::zeros_like(w), h);
    CHECK_MSG(previous < 1e-3 * signal, "8 bpw relative proxy " << previous / signal);
}

GLQ_TEST(error_feedback_beats_plain_rounding_on_a_correlated_hessian) {
    torch::manual_seed(6);
    const int64_t m = 48, n = 128;
    const torch::Tensor w = torch::randn({m, n});
    const torch::Tensor h = correlated_hessian(n, 7);
    LdlqOptions plain;
    plain.error_feedback = false;
    for (int bpw : {2, 3, 4}) {
        const double with_fb = ldlq_quantize(w, h, e8_shell_codebook(), bpw).proxy_loss;
        const double without = ldlq_quantize(w, h, e8_shell_codebook(), bpw, plain).proxy_loss;
        CHECK_MSG(with_fb < 0.95 * without, "bpw " << bpw << ": " << with_fb << " vs " << without);
    }
}

GLQ_TEST(tuning_passes_never_raise_the_proxy_and_lower_it_at_low_rates) {
    torch::manual_seed(12);
    const int64_t m = 64, n = 128;
    const torch::Tensor w = torch::randn({m, n});
    const torch::Tensor h = correlated_hessian(n, 13);
    for (int bpw : {2, 3, 4}) {
        double previous = ldlq_quantize(w, h, e8_shell_codebook(), bpw).proxy_loss;
        const double untuned = previous;
        for (int iters : {1, 2}) {
            LdlqOptions tuned;
            tuned.tune_iters = iters;
            const LdlqResult r = ldlq_quantize(w, h, e8_shell_codebook(), bpw, tuned);
            // A row takes new codes only when its proxy falls (float32 on the
            // way, float64 here: allow rounding, not a real increase).
            CHECK_MSG(r.proxy_loss <= previous * (1 + 1e-5),
                      "bpw " << bpw << ", " << iters << " passes: " << r.proxy_loss << " > " << previous);
            CHECK_NEAR(r.proxy_loss, proxy_loss(w, r.w_hat, h), 1e-9 * r.proxy_loss);
            previous = r.proxy_loss;
        }
        if (bpw == 2) CHECK_MSG(previous < 0.99 * untuned, "2 bpw: tuned " << previous << " vs " << untuned);
    }
}

GLQ_TEST(tuning_keeps_nearest_rounding_on_an_identity_hessian) {
    // With H = I the sweep's codes are already each block's optimum.
    torch::manual_seed(14);
    const torch::Tensor w = torch::randn({16, 64});
    LdlqOptions tuned;
    tuned.tune_iters = 2;
    for (int bpw : {2, 3}) {
        const LdlqResult plain = ldlq_quantize(w, torch::eye(64), e8_shell_codebook(), bpw);
        const LdlqResult r = ldlq_quantize(w, torch::eye(64), e8_shell_codebook(), bpw, tuned);
        for (size_t s = 0; s < r.codes.size(); ++s) CHECK(torch::equal(r.codes[s], plain.codes[s]));
    }
}

GLQ_TEST(tuning_reports_progress_over_every_pass_and_keeps_small_stages_small) {
    torch::manual_seed(15);
    const torch::Tensor w = torch::randn({16, 64});
    LdlqOptions tuned;
    tuned.tune_iters = 2;
    int64_t last_done = 0, last_total = 0;
    tuned.progress = [&](const glq::Progress& p) {
        last_done = p.done;
        last_total = p.total;
    };
    const LdlqResult r = ldlq_quantize(w, correlated_hessian(64, 16), e8_shell_codebook(), 3, tuned);
    CHECK_EQ(last_total, int64_t{3 * 64 / 8});
    CHECK_EQ(last_done, last_total);
    CHECK(r.codes.back().max().item<int64_t>() < 256);
    LdlqOptions negative;
    negative.tune_iters = -1;
    CHECK_THROWS_WITH(ldlq_quantize(w, torch::eye(64), e8_shell_codebook(), 2, negative), "tune_iters");
}

GLQ_TEST(small_stage_indices_stay_in_the_first_256_rows) {
    torch::manual_seed(8);
    const torch::Tensor w = torch::randn({16, 32});
    for (int bpw : {3, 5, 7}) {
        const LdlqResult r = ldlq_quantize(w, correlated_hessian(32, 9), e8_shell_codebook(), bpw);
        CHECK(r.codes.back().max().item<int64_t>() < 256);
        CHECK(r.codes.front().max().item<int64_t>() >= 256);  // the full table is in use
    }
}

GLQ_TEST(decode_reads_int16_storage_as_uint16) {
    torch::manual_seed(10);
    const torch::Tensor idx = torch::randint(0, 65536, {4, 3}, torch::kInt64);
    const torch::Tensor stored = idx.to(torch::kInt32).to(torch::kInt16);  // wraps to the bit pattern
    CHECK(stored.min().item<int64_t>() < 0);
    const torch::Tensor a = decode_shell({idx}, {1.0f}, 0.5f);
    const torch::Tensor b = decode_shell({stored}, {1.0f}, 0.5f);
    CHECK(torch::equal(a, b));
    CHECK(torch::equal(a.reshape({12, 8}), e8_codebook().index_select(0, idx.reshape({-1})) * 0.5f));
}

GLQ_TEST(degenerate_hessians_fall_back_instead_of_failing) {
    torch::manual_seed(11);
    const torch::Tensor w = torch::randn({8, 16});
    const LdlqResult zero = ldlq_quantize(w, torch::zeros({16, 16}), e8_shell_codebook(), 2);
    CHECK(zero.damping_tier == DampingTier::Heavy);
    torch::Tensor indefinite = torch::eye(16);
    indefinite[0][0] = -50.0;
    const LdlqResult bad = ldlq_quantize(w, indefinite, e8_shell_codebook(), 2);
    CHECK(bad.damping_tier != DampingTier::Normal);
    CHECK(torch::isfinite(bad.w_hat).all().item<bool>());
}

GLQ_TEST(bad_shapes_are_reported_clearly) {
    CHECK_THROWS_WITH(ldlq_quantize(torch::randn({4, 12}), torch::eye(12), e8_shell_codebook(), 2), "multiple of 8");
    CHECK_THROWS_WITH(ldlq_quantize(torch::randn({4, 16}), torch::eye(8), e8_shell_codebook(), 2), "Hessian must be [16, 16]");
    CHECK_THROWS_WITH(ldlq_quantize(torch::randn({4, 16}), torch::eye(16), e8_shell_codebook(), 9), "2..8");
    torch::Tensor nan_w = torch::randn({4, 16});
    nan_w[0][0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH(ldlq_quantize(nan_w, torch::eye(16), e8_shell_codebook(), 2), "NaN");
}
