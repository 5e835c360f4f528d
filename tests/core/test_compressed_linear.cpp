// The compressed E8 shell linear on the CPU: it computes the decoded layer's
// function (every rate, odd shapes, block-diagonal dimensions, batches on both
// sides of the GEMM route, AVX2 and the scalar loop), holds about the
// checkpoint's bytes and no dense weight; the inference order and the GPU
// layout hold exactly the checkpoint's codes.

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "core/codebook/e8_shell/e8_codebook_table.h"
#include "core/codebook/e8_shell/e8_signed_order.h"
#include "core/codebook/e8_shell/shell_decode.h"
#include "core/common/error.h"
#include "core/format/compressed_linear.h"
#include "core/format/decoded_linear.h"
#include "core/format/random_layer.h"
#include "core/format/shell_gpu_layout.h"
#include "kernels/e8_shell_linear.h"
#include "tests/support/test.h"

using namespace glq::format;
namespace cb = glq::codebook;

namespace {

// A layer as a checkpoint holds it: random codes of the bpw's recipe (8-bit
// stages index the first 256 rows), random signs, scales, optional bias.
ShellLayerArtifacts random_layer(int64_t m, int64_t n, int bpw, bool bias, uint64_t seed) {
    return random_shell_layer(m, n, bpw, seed, bias);
}

double rel_max_error(const torch::Tensor& y, const torch::Tensor& ref) {
    const double scale = ref.abs().max().item<double>() + 1e-12;
    return (y.to(torch::kFloat32) - ref.to(torch::kFloat32)).abs().max().item<double>() / scale;
}

// The compressed layer against the decoded one's float product.
// B >= 17 (decode tiles + GEMM): float rounding only; the largest error
// relative to the largest output stays below 2e-5.
// B < 17 (the exact-integer decode path): x~ is rounded to 16-bit fixed point
// first, each element by at most 2^(E-16) <= 1.004·2^-15·max|x~| (uniform), so
// output i moves by noise of σ ≈ 2^-15/√3·(max|x~| / rms x~)·‖Ŵ_i‖₂·rms x
// (the transforms are orthogonal): ≈ 8e-5 of the typical output size
// ‖Ŵ_i‖₂·rms x for Gaussian x of these widths (max/rms <= ~4.5). The largest
// output is no fair scale here (a one-row layer's single output may nearly
// cancel), so the error is taken relative to the typical output size
// (‖Ŵ‖_F/√m · rms x): the max over up to 1536 × 16 outputs is ~4-5σ, measured
// below 5e-4; 1e-3 leaves room. The kernel test below checks the rigorous
// per-output bound.
double layer_error(const torch::Tensor& y, const torch::Tensor& ref, const torch::Tensor& x, const DecodedGlqLinear& dec,
                   int64_t B) {
    if (B >= 17) return rel_max_error(y, ref);
    const torch::Tensor w = dec.weight().to(torch::kFloat64);
    const double typical = w.norm().item<double>() / std::sqrt(static_cast<double>(w.size(0))) *
                           x.to(torch::kFloat64).pow(2).mean().sqrt().item<double>();
    return (y.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max().item<double>() / typical;
}
double tolerance(int64_t B) { return B >= 17 ? 2e-5 : 1e-3; }

} // namespace

GLQ_TEST(signed_order_is_a_bijection_onto_the_reference_rows) {
    const auto& o = cb::e8_signed_order();
    CHECK_EQ(o.rep_rows.size(), static_cast<size_t>(cb::kE8SignedRepRows));
    CHECK(o.rep_rows.size() * 4 <= 148 * 1024 + 512);  // fits a CTA's shared memory
    std::vector<bool> seen(65536, false);
    for (uint32_t i = 0; i < 65536; ++i) {
        const uint16_t c = o.code_of[i];
        CHECK(!seen[c]);
        seen[c] = true;
        CHECK_EQ(cb::e8_signed_decode(o, c), cb::detail::kE8CodebookPacked[i]);
    }
    CHECK_EQ(cb::e8_signed_decode(o, shell_zero_code()), 0x66666666u);
}

GLQ_TEST(gpu_layout_holds_exactly_the_checkpoint_codes) {
    for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{{576, 576}, {37, 24}, {40, 2688}, {1, 8}}) {
        const ShellLayerArtifacts a = random_layer(m, n, 7, false, static_cast<uint64_t>(m * 31 + n));
        const torch::Tensor relaid = relay_shell_codes(a.qidxs);
        const int64_t S = static_cast<int64_t>(a.qidxs.size()), KB = (n / 8 + 7) / 8;
        CHECK_EQ(relaid.size(0), (m + 31) / 32);
        CHECK_EQ(relaid.size(1), S);
        CHECK_EQ(relaid.size(2), KB);
        CHECK_EQ(relaid.size(3), 32);
        CHECK_EQ(relaid.size(4), 8);
        // The slot the CUDA matvec reads (mma fragments, see shell_gpu_layout.h):
        // [rt][s][kb][4g + t][4ks + q] holds row 32rt + 8q + g, group 8kb + 4ks + t.
        const auto* o = reinterpret_cast<const uint16_t*>(relaid.data_ptr<int16_t>());
        const auto& code_of = cb::e8_signed_order().code_of;
        for (int64_t s = 0; s < S; ++s) {
            const torch::Tensor q = a.qidxs[static_cast<size_t>(s)].contiguous();
            const auto* src = reinterpret_cast<const uint16_t*>(q.data_ptr<int16_t>());
            for (int64_t i = 0; i < m; i += 7)
                for (int64_t j = 0; j < n / 8; j += 3) {
                    const int64_t rt = i / 32, r = i % 32, kb = j / 8, jj = j % 8;
                    const int64_t lane = 4 * (r % 8) + jj % 4, k = 4 * (jj / 4) + r / 8;
                    CHECK_EQ(o[(((rt * S + s) * KB + kb) * 32 + lane) * 8 + k], code_of[src[i * (n / 8) + j]]);
                }
        }
        const std::vector<torch::Tensor> back = unrelay_shell_codes(relaid, m, n);
        CHECK_EQ(back.size(), a.qidxs.size());
        for (size_t s = 0; s < back.size(); ++s) CHECK(torch::equal(back[s], a.qidxs[s]));
        // Padding decodes to the zero point.
        const int64_t padded = relaid.numel() - static_cast<int64_t>(a.qidxs.size()) * m * (n / 8);
        const int64_t zeros = (relaid == static_cast<int16_t>(shell_zero_code())).sum().item<int64_t>();
        CHECK(zeros >= padded);
    }
}

GLQ_TEST(compressed_cpu_forward_equals_the_decoded_layer) {
    struct Case {
        int64_t m, n;
        int bpw;
        bool bias;
    };
    // Non-powers of two, block-diagonal sizes (2688 = 2048+512+128, 576 =
    // 512+64), one-row and one-group layers, every stage count.
    const std::vector<Case> cases = {{576, 576, 4, false}, {192, 576, 2, true}, {1536, 576, 3, false},
                                     {576, 1536, 8, true},  {40, 2688, 5, false}, {24, 8, 6, true},
                                     {1, 64, 7, false},     {100, 200, 4, true}};
    for (const Case& c : cases) {
        const ShellLayerArtifacts a = random_layer(c.m, c.n, c.bpw, c.bias, static_cast<uint64_t>(c.m + 7 * c.n + c.bpw));
        const DecodedGlqLinear dec(a, torch::kCPU, torch::kFloat32);
        const CompressedShellLinear comp(a, torch::kCPU);
        CHECK_EQ(comp.in_features(), c.n);
        CHECK_EQ(comp.out_features(), c.m);
        for (int64_t B : {1, 2, 3, 5, 8, 16, 17, 40}) {
            const torch::Tensor x = torch::randn({B, c.n});
            const torch::Tensor ref = dec.forward(x);
            const double err = layer_error(comp.forward(x), ref, x, dec, B);
            CHECK_MSG(err < tolerance(B), c.m << "x" << c.n << " bpw " << c.bpw << " B " << B << ": error " << err);
        }
        // Leading dimensions and half-precision activations keep their shape and dtype.
        const torch::Tensor x3 = torch::randn({2, 3, c.n});
        const torch::Tensor y3 = comp.forward(x3.to(torch::kBFloat16));
        CHECK(y3.scalar_type() == torch::kBFloat16);
        CHECK_EQ(y3.sizes().vec(), (std::vector<int64_t>{2, 3, c.m}));
        CHECK(rel_max_error(y3, dec.forward(x3)) < 2e-2);
    }
}

GLQ_TEST(scalar_loop_computes_what_the_avx2_path_does) {
    const ShellLayerArtifacts a = random_layer(130, 1536, 4, true, 5);
    const CompressedShellLinear comp(a, torch::kCPU);
    const DecodedGlqLinear dec(a, torch::kCPU, torch::kFloat32);
    const torch::Tensor x = torch::randn({3, 1536});
    const torch::Tensor fast = comp.forward(x);
    glq::kernels::cpu::e8_shell_disable_vnni(true);
    const torch::Tensor avx2 = comp.forward(x);
    glq::kernels::cpu::e8_shell_disable_vnni(false);
    glq::kernels::cpu::e8_shell_force_scalar(true);
    const torch::Tensor slow = comp.forward(x);
    glq::kernels::cpu::e8_shell_force_scalar(false);
    CHECK(layer_error(slow, dec.forward(x), x, dec, 3) < tolerance(3));
    // The same integers and the same float formula: the same bits.
    CHECK(torch::equal(fast, slow));
    CHECK(torch::equal(avx2, slow));
}

GLQ_TEST(a_compressed_layer_holds_its_codes_not_a_dense_weight) {
    for (int bpw : {2, 4, 8}) {
        const ShellLayerArtifacts a = random_layer(1536, 576, bpw, false, 11);
        const CompressedShellLinear comp(a, torch::kCPU);
        const DecodedGlqLinear dec(a, torch::kCPU, torch::kBFloat16);
        CHECK_EQ(comp.kind(), std::string("glq"));
        CHECK_EQ(dec.kind(), std::string("glq-decoded"));
        CHECK_EQ(comp.storage_bytes(), a.storage_bytes());
        // Codes + fp16 signs as stored, plus float32 copies of the signs.
        CHECK_MSG(comp.resident_bytes() <= 1.05 * static_cast<double>(a.storage_bytes()),
                  "bpw " << bpw << ": " << comp.resident_bytes() << " resident for " << a.storage_bytes() << " stored");
        CHECK_EQ(dec.resident_bytes(), static_cast<uint64_t>(1536 * 576 * 2));
        CHECK(comp.resident_bytes() * 16 / static_cast<uint64_t>(bpw) <= dec.resident_bytes() * 11 / 10);
    }
}

GLQ_TEST(non_finite_inputs_give_non_finite_outputs_and_bad_shapes_are_refused) {
    const ShellLayerArtifacts a = random_layer(64, 128, 4, false, 3);
    const CompressedShellLinear comp(a, torch::kCPU);
    torch::Tensor x = torch::randn({2, 128});
    x[1][5] = std::numeric_limits<float>::quiet_NaN();
    const torch::Tensor y = comp.forward(x);
    CHECK(torch::isfinite(y[0]).all().item<bool>());
    CHECK(!torch::isfinite(y[1]).any().item<bool>());
    CHECK_THROWS_WITH(comp.forward(torch::randn({2, 120})), "expected 128");
    ShellLayerArtifacts bad = a;
    bad.qidxs.pop_back();
    CHECK_THROWS_WITH(CompressedShellLinear(bad, torch::kCPU, nullptr, "model.layers.2.mlp.up_proj"),
                      "model.layers.2.mlp.up_proj");
}

namespace {

namespace kc = glq::kernels::cpu;

struct KernelCase {
    std::vector<torch::Tensor> codes;
    std::vector<float> w;
    torch::Tensor wt;  // W~ [m, n] in double, from the table and the codes
};

KernelCase random_kernel_case(int64_t m, int64_t n, int S, uint64_t seed) {
    torch::manual_seed(seed);
    KernelCase k;
    const int64_t n8 = n / 8;
    k.wt = torch::zeros({m, n}, torch::kFloat64);
    auto* wt = k.wt.data_ptr<double>();
    for (int s = 0; s < S; ++s) {
        k.codes.push_back(torch::randint(-32768, 32768, {m, n8}, torch::kInt32).to(torch::kInt16).contiguous());
        k.w.push_back(static_cast<float>(0.01 + 0.02 * torch::rand({1}).item<double>()) * (s % 2 ? -1.0f : 1.0f));
        const auto* c = reinterpret_cast<const uint16_t*>(k.codes.back().data_ptr<int16_t>());
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n8; ++j) {
                const uint32_t word = cb::detail::kE8CodebookPacked[c[i * n8 + j]];
                for (int t = 0; t < 8; ++t)
                    wt[i * n + 8 * j + t] += 0.5 * static_cast<double>(k.w.back()) *
                                             (static_cast<double>((word >> (4 * t)) & 0xFu) - 6.0);
            }
    }
    return k;
}

torch::Tensor run_kernel(const KernelCase& k, const torch::Tensor& xt) {
    return kc::e8_shell_matmul(xt.contiguous(), k.codes, k.w, cb::detail::kE8CodebookPacked);
}

} // namespace

GLQ_TEST(integer_decode_path_is_within_the_fixed_point_bound_of_the_exact_product) {
    // Widths that are not multiples of 64 (a short last block), 1-4 stages,
    // every decode batch size; tokens of very different scales.
    struct Shape {
        int64_t m, n;
        int S;
    };
    const std::vector<Shape> shapes = {{37, 8, 1}, {5, 72, 2}, {64, 200, 3}, {19, 576, 4}, {130, 1000, 2}, {3, 2688, 1}};
    uint64_t seed = 1;
    for (const Shape& sh : shapes) {
        const KernelCase k = random_kernel_case(sh.m, sh.n, sh.S, seed++);
        for (int64_t B = 1; B <= 16; ++B) {
            torch::Tensor xt = torch::randn({B, sh.n});
            for (int64_t b = 0; b < B; ++b) xt[b] *= std::pow(10.0, static_cast<double>(b % 7) - 3.0);
            const torch::Tensor y = run_kernel(k, xt).to(torch::kFloat64);
            const torch::Tensor xd = xt.to(torch::kFloat64);
            const torch::Tensor ref = xd.matmul(k.wt.t());
            // |x~ - q·2^(E-15)| <= 2^(E-16) <= 1.004·2^-15·max|x~| per element, so
            // |y_i - ref_i| <= that · ‖W~_i‖₁; plus float rounding of the finish
            // (a few 2^-24 of Σ|W~_ij·x~_j|; 1e-5 of it is generous).
            const torch::Tensor amax = xd.abs().amax(1, true);                      // [B, 1]
            const torch::Tensor l1 = k.wt.abs().sum(1).unsqueeze(0);                // [1, m]
            const torch::Tensor bound = 1.004 * std::ldexp(1.0, -15) * amax * l1 + 1e-5 * xd.abs().matmul(k.wt.abs().t());
            const torch::Tensor err = (y - ref).abs();
            CHECK_MSG((err <= bound).all().item<bool>(),
                      sh.m << "x" << sh.n << " S " << sh.S << " B " << B << ": worst error/bound "
                           << (err / bound).max().item<double>());
            // And not just within a loose bound: per token, close to the exact
            // product (relative to the largest output, where there are enough rows
            // for it to be a fair scale).
            if (sh.m < 16) continue;
            const torch::Tensor rel = (y - ref).abs().amax(1) / (ref.abs().amax(1) + 1e-300);
            CHECK_MSG(rel.max().item<double>() < 5e-4, sh.m << "x" << sh.n << " S " << sh.S << " B " << B << ": relative "
                                                               << rel.max().item<double>());
        }
    }
}

GLQ_TEST(integer_decode_paths_give_the_same_bits) {
    const bool vnni = kc::e8_shell_has_avx_vnni(), avx2 = kc::e8_shell_has_avx2();
    uint64_t seed = 40;
    for (auto [m, n, S] : std::vector<std::tuple<int64_t, int64_t, int>>{{33, 8, 1}, {70, 136, 2}, {129, 576, 3}, {16, 1544, 4}}) {
        const KernelCase k = random_kernel_case(m, n, S, seed++);
        for (int64_t B : {1, 2, 3, 4, 7, 16}) {
            const torch::Tensor xt = torch::randn({B, n}) * 3.0;
            const torch::Tensor best = run_kernel(k, xt);
            kc::e8_shell_disable_vnni(true);
            const torch::Tensor plain = run_kernel(k, xt);
            kc::e8_shell_disable_vnni(false);
            kc::e8_shell_force_scalar(true);
            const torch::Tensor scalar = run_kernel(k, xt);
            kc::e8_shell_force_scalar(false);
            CHECK_MSG(torch::equal(best, scalar), m << "x" << n << " S " << S << " B " << B << " (vnni " << vnni << ")");
            CHECK_MSG(torch::equal(plain, scalar), m << "x" << n << " S " << S << " B " << B << " (avx2 " << avx2 << ")");
            // Tokens are quantised one by one: a token's row does not depend on the batch.
            CHECK(torch::equal(run_kernel(k, xt.narrow(0, B - 1, 1)), best.narrow(0, B - 1, 1)));
        }
    }
}

GLQ_TEST(integer_decode_path_gives_nan_rows_for_non_finite_tokens_and_zeros_for_zero_tokens) {
    const KernelCase k = random_kernel_case(50, 200, 2, 77);
    for (bool scalar : {false, true}) {
        kc::e8_shell_force_scalar(scalar);
        torch::Tensor xt = torch::randn({5, 200});
        xt[1][17] = std::numeric_limits<float>::quiet_NaN();
        xt[3][199] = -std::numeric_limits<float>::infinity();
        xt[4].zero_();
        const torch::Tensor y = run_kernel(k, xt);
        // As the CUDA path (kE8TokenInvalid): the whole row NaN, not garbage.
        CHECK(torch::isnan(y[1]).all().item<bool>());
        CHECK(torch::isnan(y[3]).all().item<bool>());
        CHECK((y[4] == 0).all().item<bool>());
        CHECK(torch::isfinite(y[0]).all().item<bool>());
        CHECK(torch::isfinite(y[2]).all().item<bool>());
        CHECK(torch::equal(y[0], run_kernel(k, xt.narrow(0, 0, 1))[0]));
        CHECK(torch::equal(y[2], run_kernel(k, xt.narrow(0, 2, 1))[0]));
        // Tiny and huge scales stay in range (2^E is not formed as a float factor).
        const torch::Tensor tiny = torch::randn({1, 200}) * 1e-38f, huge = torch::randn({1, 200}) * 1e37f;
        const torch::Tensor ref_t = tiny.to(torch::kFloat64).matmul(k.wt.t()), ref_h = huge.to(torch::kFloat64).matmul(k.wt.t());
        CHECK(rel_max_error(run_kernel(k, tiny).to(torch::kFloat64) / 1e-38, ref_t / 1e-38) < 5e-4);
        CHECK(rel_max_error(run_kernel(k, huge).to(torch::kFloat64) / 1e37, ref_h / 1e37) < 5e-4);
    }
    kc::e8_shell_force_scalar(false);
    // The layer: zeros in, zeros out (no bias).
    const ShellLayerArtifacts a = random_layer(64, 128, 4, false, 9);
    const CompressedShellLinear comp(a, torch::kCPU);
    CHECK((comp.forward(torch::zeros({2, 128})) == 0).all().item<bool>());
}
