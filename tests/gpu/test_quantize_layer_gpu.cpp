// quantize_layer on CUDA against the same layer on the CPU: the GPU sweep
// (FWHT, block LDL, E8 search and feedback on the device) must reach the
// CPU's quality, write valid reference-format artifacts, decode exactly, and
// DecodedGlqLinear must run on the device.

#include <torch/torch.h>

#include "core/format/decoded_linear.h"
#include "core/quant/quantize_layer.h"
#include "tests/support/require_cuda.h"
#include "tests/support/test.h"

using namespace glq::quant;
using namespace glq::format;

namespace {

// The demo model's shapes: 576 = 512 + 64 exercises the block-diagonal RHT.
constexpr int64_t kRows = 192, kCols = 576;

torch::Tensor make_hessian(int64_t n, int64_t seed) {
    torch::manual_seed(seed);
    // Correlated inputs with a few outlier channels, like real activations.
    torch::Tensor x = torch::randn({4 * n, n}) + 0.5 * torch::randn({4 * n, 1});
    x.index_put_({torch::indexing::Slice(), torch::indexing::Slice(0, 8)},
                 x.index({torch::indexing::Slice(), torch::indexing::Slice(0, 8)}) * 6);
    return x.t().mm(x) / static_cast<double>(4 * n);
}

} // namespace

GLQ_TEST(gpu_quantize_layer_matches_cpu_quality_at_every_rate) {
    glq::test::require_cuda();
    torch::manual_seed(11);
    const torch::Tensor w = torch::randn({kRows, kCols}) * 0.02;
    const torch::Tensor h = make_hessian(kCols, 12);
    for (int bpw = 2; bpw <= 8; ++bpw) {
        LayerQuantOptions o;
        o.bpw = bpw;
        const QuantizedLayer cpu = quantize_layer(w, h, o);
        const QuantizedLayer gpu = quantize_layer(w.to(torch::kCUDA), h.to(torch::kCUDA), o);
        std::get<ShellLayerArtifacts>(gpu.codes).validate("gpu layer");
        CHECK(gpu.w_hat.is_cuda());
        CHECK(!std::get<ShellLayerArtifacts>(gpu.codes).qidxs.front().is_cuda());  // artifacts always come back on the CPU
        // Different summation order on the device may flip a few near-ties,
        // so ask for the same quality, not the same indices.
        const double ratio = gpu.metrics.proxy_loss / cpu.metrics.proxy_loss;
        CHECK_MSG(ratio < 1.02 && ratio > 0.98,
                  "bpw " << bpw << ": GPU proxy " << gpu.metrics.proxy_loss << " vs CPU " << cpu.metrics.proxy_loss);
        CHECK_MSG(std::abs(gpu.metrics.sqnr_db - cpu.metrics.sqnr_db) < 0.1,
                  "bpw " << bpw << ": sqnr " << gpu.metrics.sqnr_db << " vs " << cpu.metrics.sqnr_db);
        // Decoding the artifacts on the device reproduces the sweep's Ŵ.
        const torch::Tensor decoded = dequantize_layer(std::get<ShellLayerArtifacts>(gpu.codes), torch::kCUDA);
        const double err = (decoded - gpu.w_hat).abs().max().item<double>();
        CHECK_MSG(err <= 1e-6 * w.abs().max().item<double>(), "bpw " << bpw << ": decode differs by " << err);
    }
}

GLQ_TEST(gpu_tuning_passes_match_cpu_and_never_raise_the_proxy) {
    glq::test::require_cuda();
    torch::manual_seed(15);
    const torch::Tensor w = torch::randn({kRows, kCols}) * 0.02;
    const torch::Tensor h = make_hessian(kCols, 16);
    for (int bpw : {2, 3, 4}) {
        LayerQuantOptions plain;
        plain.bpw = bpw;
        LayerQuantOptions tuned = plain;
        tuned.tune_iters = 1;
        const QuantizedLayer gpu_plain = quantize_layer(w.to(torch::kCUDA), h.to(torch::kCUDA), plain);
        const QuantizedLayer gpu = quantize_layer(w.to(torch::kCUDA), h.to(torch::kCUDA), tuned);
        const QuantizedLayer cpu = quantize_layer(w, h, tuned);
        std::get<ShellLayerArtifacts>(gpu.codes).validate("tuned gpu layer");
        CHECK_MSG(gpu.metrics.proxy_loss <= gpu_plain.metrics.proxy_loss * (1 + 1e-5),
                  "bpw " << bpw << ": tuned " << gpu.metrics.proxy_loss << " vs " << gpu_plain.metrics.proxy_loss);
        const double ratio = gpu.metrics.proxy_loss / cpu.metrics.proxy_loss;
        CHECK_MSG(ratio < 1.02 && ratio > 0.98,
                  "bpw " << bpw << ": tuned GPU proxy " << gpu.metrics.proxy_loss << " vs CPU " << cpu.metrics.proxy_loss);
        const torch::Tensor decoded = dequantize_layer(std::get<ShellLayerArtifacts>(gpu.codes), torch::kCUDA);
        CHECK((decoded - gpu.w_hat).abs().max().item<double>() <= 1e-6 * w.abs().max().item<double>());
    }
}

GLQ_TEST(gpu_glq_linear_forward_equals_the_dequantized_matmul) {
    glq::test::require_cuda();
    torch::manual_seed(13);
    const torch::Tensor w = torch::randn({kRows, kCols}) * 0.02;
    LayerQuantOptions o;
    o.bpw = 4;
    const QuantizedLayer q = quantize_layer(w, make_hessian(kCols, 14), o);
    const torch::Tensor x = torch::randn({2, 7, kCols}, torch::kCUDA);
    const torch::Tensor expect = torch::matmul(x, q.w_hat.to(torch::kCUDA).t());
    DecodedGlqLinear f32(std::get<ShellLayerArtifacts>(q.codes), torch::kCUDA, torch::kFloat32);
    const torch::Tensor y = f32.forward(x);
    CHECK(y.is_cuda());
    CHECK_MSG(torch::allclose(y, expect, 1e-3, 1e-4), "max diff " << (y - expect).abs().max().item<double>());
    DecodedGlqLinear bf16(std::get<ShellLayerArtifacts>(q.codes), torch::kCUDA, torch::kBFloat16);
    const torch::Tensor yb = bf16.forward(x.to(torch::kBFloat16)).to(torch::kFloat32);
    const double rel = ((yb - expect).norm() / expect.norm()).item<double>();
    CHECK_MSG(rel < 2e-2, "bf16 relative error " << rel);
}
