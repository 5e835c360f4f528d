// The compressed E8 shell linear on the CPU: it computes the decoded layer's
// function (every rate, odd shapes, block-diagonal dimensions, batches on both
// sides of the GEMM route, AVX2 and the scalar loop), holds about the
// checkpoint's bytes and no dense weight; the inference order and the GPU
// layout hold exactly the checkpoint's codes.

#include <torch/torch.h>

#include <set>

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
        const DecodedShellLinear dec(a, torch::kCPU, torch::kFloat32);
        const CompressedShellLinear comp(a, torch::kCPU);
        CHECK_EQ(comp.in_features(), c.n);
        CHECK_EQ(comp.out_features(), c.m);
        for (int64_t B : {1, 2, 3, 5, 8, 17, 40}) {
            const torch::Tensor x = torch::randn({B, c.n});
            const torch::Tensor ref = dec.forward(x);
            const double err = rel_max_error(comp.forward(x), ref);
            CHECK_MSG(err < 2e-5, c.m << "x" << c.n << " bpw " << c.bpw << " B " << B << ": error " << err);
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
    const DecodedShellLinear dec(a, torch::kCPU, torch::kFloat32);
    const torch::Tensor x = torch::randn({3, 1536});
    const torch::Tensor fast = comp.forward(x);
    glq::kernels::cpu::e8_shell_force_scalar(true);
    const torch::Tensor slow = comp.forward(x);
    glq::kernels::cpu::e8_shell_force_scalar(false);
    CHECK(rel_max_error(slow, dec.forward(x)) < 2e-5);
    CHECK(rel_max_error(fast, slow) < 2e-5);
}

GLQ_TEST(a_compressed_layer_holds_its_codes_not_a_dense_weight) {
    for (int bpw : {2, 4, 8}) {
        const ShellLayerArtifacts a = random_layer(1536, 576, bpw, false, 11);
        const CompressedShellLinear comp(a, torch::kCPU);
        const DecodedShellLinear dec(a, torch::kCPU, torch::kBFloat16);
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
