// The compressed E8 shell linear's CUDA kernels against the decoded layer's
// float product (the decode-on-load reference): fresh random layers of many
// shapes (non-powers of two, block-diagonal sizes, n above the prep kernel's
// shared-memory limit, output blocks above the finish kernel's), 1-4 stages,
// B = 1..256 on both sides of the dense crossover, three activation dtypes,
// both table placements, the single-launch ops (fused, rows) against the
// three kernels, a non-finite token.
// Outputs are poisoned before each call, every launch
// is checked, the workspace must be zero again after each call, and the same
// input must give bit-identical output. A whole GLQ model on the GPU gives the
// decode-on-load path's logits, eagerly and from the captured decode step.

#include <torch/torch.h>

#include <cstdlib>

#ifdef GLQ_WITH_CUDA
#include <cuda_runtime.h>
#endif

#include "core/codebook/e8_shell/shell_decode.h"
#include "core/format/compressed_linear.h"
#include "core/format/decoded_linear.h"
#include "core/format/glq_model_loader.h"
#include "core/format/random_layer.h"
#include "core/format/shell_gpu_layout.h"
#include "core/model/decode_step.h"
#include "core/quant/quantization_job.h"
#include "core/common/atomic_file.h"
#include "kernels/e8_shell_linear.h"
#include "tests/support/require_cuda.h"
#include "tests/support/test.h"
#include "tests/support/tiny_model.h"

#ifdef GLQ_WITH_CUDA
using namespace glq::format;
namespace fs = std::filesystem;

namespace {

// A layer as a checkpoint holds it: random codes of the bpw's recipe (8-bit
// stages index the first 256 rows), random signs, scales, optional bias.
ShellLayerArtifacts random_layer(int64_t m, int64_t n, int bpw, bool bias, uint64_t seed) {
    return random_shell_layer(m, n, bpw, seed, bias);
}

glq::kernels::cuda::E8ShellDeviceWeights device_weights(const ShellLayerArtifacts& a) {
    glq::kernels::cuda::E8ShellDeviceWeights w;
    w.codes = relay_shell_codes(a.qidxs).to(torch::kCUDA);
    w.table = shell_signed_table_on(torch::kCUDA);
    w.su = a.su.to(torch::kCUDA);
    w.sv = a.sv.to(torch::kCUDA);
    if (a.bias.defined()) w.bias = a.bias.to(torch::kCUDA, torch::kFloat32);
    for (float s : a.stage_weights()) w.stage_w.push_back(a.wscale * s);
    w.m = a.out_features();
    w.n = a.in_features();
    w.S = a.num_stages();
    return w;
}

double rel_max_error(const torch::Tensor& y, const torch::Tensor& ref) {
    const torch::Tensor r = ref.to(torch::kCPU, torch::kFloat32);
    return (y.to(torch::kCPU, torch::kFloat32) - r).abs().max().item<double>() / (r.abs().max().item<double>() + 1e-12);
}

// One checked call with a poisoned output; returns the output.
torch::Tensor run_checked(const glq::kernels::cuda::E8ShellDeviceWeights& w, const torch::Tensor& x, torch::Tensor& ws) {
    torch::Tensor out = torch::full({x.size(0), w.m}, std::numeric_limits<float>::quiet_NaN(), x.options());
    glq::kernels::cuda::e8_shell_forward(w, x, out, ws);
    torch::cuda::synchronize();
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) glq::test::fail(std::string("CUDA error: ") + cudaGetErrorString(err), __FILE__, __LINE__);
    return out;
}

// Below the dense crossover the kernels round x~ to 16-bit fixed point per
// token, so each output moves by noise of ≈ 8e-5 of the typical output size
// ‖Ŵ‖_F/√m · rms x (tests/core/test_compressed_linear.cpp derives it): the
// error is taken relative to that size, not to the largest output. The CPU
// compressed layer is no reference here: it rounds x~ to fixed point too, with
// its own exponent rule (|q| <= 32639), so the two roundings differ now and
// then and their difference is not a bound on either one's error.
double typical_error(const torch::Tensor& y, const torch::Tensor& ref, const torch::Tensor& x, const DecodedGlqLinear& dec) {
    const torch::Tensor w = dec.weight().to(torch::kFloat64);
    const double typical = w.norm().item<double>() / std::sqrt(static_cast<double>(w.size(0))) *
                           x.to(torch::kFloat64).pow(2).mean().sqrt().item<double>();
    return (y.to(torch::kCPU, torch::kFloat64) - ref.to(torch::kFloat64)).abs().max().item<double>() / typical;
}

} // namespace

GLQ_TEST(gpu_compressed_kernels_match_the_decoded_layer) {
    glq::test::require_cuda();
    struct Case {
        int64_t m, n;
        int bpw;
        bool bias;
    };
    const std::vector<Case> cases = {
        {576, 576, 4, false}, {192, 576, 2, true},   {1536, 576, 3, false}, {576, 1536, 8, true},
        {40, 2688, 5, false}, {24, 8, 6, true},      {1, 64, 7, false},     {100, 200, 4, true},
        {2048, 2048, 2, false}, {4096, 1024, 6, false}, {64, 20480, 4, false},  // n > the prep kernel's limit
        {16384, 64, 3, true},                                                   // an output block > 8192
    };
    // Both sides of each token-tile size (8, 16, 32 per launch), several
    // launches (33, 100), and the dense route (from 128).
    const std::vector<int64_t> batches = {1, 2, 3, 5, 8, 9, 16, 17, 32, 33, 64, 100, 128, 256};
    for (const Case& c : cases) {
        const ShellLayerArtifacts a = random_layer(c.m, c.n, c.bpw, c.bias, static_cast<uint64_t>(c.m * 3 + c.n + c.bpw));
        const DecodedGlqLinear dec(a, torch::kCPU, torch::kFloat32);
        const auto w = device_weights(a);
        torch::Tensor ws = torch::zeros({glq::kernels::cuda::e8_shell_workspace_elems(c.m, w.S, 256)},
                                        torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
        for (int64_t B : batches) {
            const torch::Tensor x = torch::randn({B, c.n});
            const bool dense = B >= glq::kernels::cuda::e8_shell_dense_min_batch();
            for (auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
                // Every dtype is judged against the float product of its own rounded input.
                const torch::Tensor xd = x.to(dtype);
                const torch::Tensor refd = dec.forward(xd.to(torch::kFloat32));
                const torch::Tensor y = run_checked(w, xd.to(torch::kCUDA), ws);
                CHECK(y.scalar_type() == dtype);
                // The dense route: float rounding only. The matvec: x~ in 16-bit
                // fixed point (see typical_error). Half outputs round.
                const double err = dtype != torch::kFloat32 ? rel_max_error(y, refd)
                                   : dense                  ? rel_max_error(y, refd)
                                                            : typical_error(y, refd, xd, dec);
                const double tol = dtype != torch::kFloat32 ? 1.6e-2 : dense ? 2e-5 : 1e-3;
                CHECK_MSG(err < tol, c.m << "x" << c.n << " bpw " << c.bpw << " B " << B << " " << dtype << ": error " << err);
                CHECK_MSG(ws.abs().sum().item<int64_t>() == 0, "workspace not cleaned, " << c.m << "x" << c.n << " B " << B);
            }
        }
    }
}

GLQ_TEST(gpu_both_table_placements_agree_and_calls_are_deterministic) {
    glq::test::require_cuda();
    const ShellLayerArtifacts a = random_layer(4096, 4096, 4, true, 42);
    const auto w = device_weights(a);
    torch::Tensor ws = torch::zeros({glq::kernels::cuda::e8_shell_workspace_elems(4096, 2, 32)},
                                    torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
    for (int64_t B : {1, 8, 13, 45}) {
        const torch::Tensor x = torch::randn({B, 4096}).to(torch::kCUDA, torch::kBFloat16);
        const torch::Tensor first = run_checked(w, x, ws);
        for (int rep = 0; rep < 5; ++rep) CHECK_MSG(torch::equal(run_checked(w, x, ws), first), "B " << B << " run " << rep);
    }
    // The same product with the table in shared memory and in L1/L2 (the
    // choice is per shape): the same integers, so the same bits.
    using glq::kernels::cuda::E8TablePlacement;
    for (int64_t B : {1, 3, 8}) {
        const torch::Tensor x = torch::randn({B, 4096}).to(torch::kCUDA);
        glq::kernels::cuda::e8_shell_set_table_placement(E8TablePlacement::Shared);
        const torch::Tensor shared = run_checked(w, x, ws);
        glq::kernels::cuda::e8_shell_set_table_placement(E8TablePlacement::Global);
        const torch::Tensor global = run_checked(w, x, ws);
        glq::kernels::cuda::e8_shell_set_table_placement(E8TablePlacement::Auto);
        CHECK_MSG(torch::equal(shared, global), "B " << B);
        const DecodedGlqLinear dec(a, torch::kCPU, torch::kFloat32);
        CHECK(typical_error(shared, dec.forward(x.cpu()), x.cpu(), dec) < 1e-3);
        // Programmatic dependent launch (of the three kernels) changes when
        // kernels start, not what they compute.
        glq::kernels::cuda::e8_shell_set_fused(0);
        const torch::Tensor pdl = run_checked(w, x, ws);
        glq::kernels::cuda::e8_shell_set_pdl(0);
        const torch::Tensor serial = run_checked(w, x, ws);
        glq::kernels::cuda::e8_shell_set_pdl(-1);
        glq::kernels::cuda::e8_shell_set_fused(-1);
        CHECK_MSG(torch::equal(pdl, serial), "PDL, B " << B);
    }
    // The single-launch op and the three kernels compute the same integers and
    // the same float operations in the same order: the same bits.
    for (int64_t B : {1, 5, 8, 13, 16, 32}) {
        const torch::Tensor x = torch::randn({B, 4096}).to(torch::kCUDA, torch::kBFloat16);
        glq::kernels::cuda::e8_shell_set_rows(0);
        glq::kernels::cuda::e8_shell_set_fused(0);
        const torch::Tensor three = run_checked(w, x, ws);
        glq::kernels::cuda::e8_shell_set_fused(1);
        const torch::Tensor fused = run_checked(w, x, ws);
        glq::kernels::cuda::e8_shell_set_fused(-1);
        glq::kernels::cuda::e8_shell_set_rows(-1);
        CHECK_MSG(torch::equal(three, fused), "fused, B " << B);
    }
}

namespace {
// The output of the three kernels (rows op and fused op off).
torch::Tensor run_three(const glq::kernels::cuda::E8ShellDeviceWeights& w, const torch::Tensor& x, torch::Tensor& ws) {
    glq::kernels::cuda::e8_shell_set_rows(0);
    glq::kernels::cuda::e8_shell_set_fused(0);
    torch::Tensor y = run_checked(w, x, ws);
    glq::kernels::cuda::e8_shell_set_fused(-1);
    glq::kernels::cuda::e8_shell_set_rows(-1);
    return y;
}
} // namespace

// The rows op (B <= 8: each CTA owns whole output rows, transforms the whole
// input itself, and the CTA that completes an output FWHT block transforms it)
// computes the three kernels' integers and float operations in the same order:
// the same bits, on shapes whose row tiles straddle output blocks (m not a
// multiple of 32), with several row tiles per CTA (m > 32 · SMs), inputs of
// many FWHT blocks, both table placements. Its tickets leave the workspace
// zero, so the next call (another shape, the same workspace) starts clean.
GLQ_TEST(gpu_rows_op_gives_the_three_kernels_bits) {
    glq::test::require_cuda();
    using glq::kernels::cuda::E8TablePlacement;
    struct Case {
        int64_t m, n;
        int bpw;
        bool bias;
    };
    const std::vector<Case> cases = {
        {576, 576, 4, false}, {192, 576, 2, true},  {1000, 1000, 3, true}, {40, 2688, 5, false}, {24, 8, 6, true},
        {1, 64, 7, false},    {100, 200, 4, true},  {4096, 4096, 4, false}, {14336, 512, 2, true}, {4096, 14336, 4, false},
        {8200, 520, 8, false},
    };
    torch::Tensor ws = torch::zeros({glq::kernels::cuda::e8_shell_workspace_elems(14336, 4, 8)},
                                    torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
    for (const Case& c : cases) {
        const ShellLayerArtifacts a = random_layer(c.m, c.n, c.bpw, c.bias, static_cast<uint64_t>(c.m * 7 + c.n + c.bpw));
        const auto w = device_weights(a);
        for (int64_t B : {1, 2, 3, 8}) {
            for (auto dtype : {torch::kBFloat16, torch::kFloat32}) {
                const torch::Tensor x = torch::randn({B, c.n}).to(torch::kCUDA, dtype);
                const torch::Tensor three = run_three(w, x, ws);
                for (E8TablePlacement p : {E8TablePlacement::Shared, E8TablePlacement::Global}) {
                    glq::kernels::cuda::e8_shell_set_table_placement(p);
                    glq::kernels::cuda::e8_shell_set_rows(1);
                    const torch::Tensor rows = run_checked(w, x, ws);
                    const torch::Tensor again = run_checked(w, x, ws);
                    glq::kernels::cuda::e8_shell_set_rows(-1);
                    glq::kernels::cuda::e8_shell_set_table_placement(E8TablePlacement::Auto);
                    CHECK_MSG(torch::equal(rows, three), c.m << "x" << c.n << " bpw " << c.bpw << " B " << B << " " << dtype
                                                            << " table " << static_cast<int>(p));
                    CHECK_MSG(torch::equal(again, rows), "second call, " << c.m << "x" << c.n << " B " << B);
                    CHECK_MSG(ws.abs().sum().item<int64_t>() == 0, "workspace not clean, " << c.m << "x" << c.n << " B " << B);
                }
            }
        }
    }
}

// A token with a non-finite input gives NaN outputs and leaves the others as
// they are alone, on every path.
GLQ_TEST(gpu_a_non_finite_token_gives_nan_and_spares_the_others) {
    glq::test::require_cuda();
    const ShellLayerArtifacts a = random_layer(576, 1536, 4, true, 7);
    const auto w = device_weights(a);
    torch::Tensor ws = torch::zeros({glq::kernels::cuda::e8_shell_workspace_elems(576, 2, 32)},
                                    torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
    for (int64_t B : {3, 8, 20}) {
        torch::Tensor x = torch::randn({B, 1536});
        const torch::Tensor clean = run_three(w, x.to(torch::kCUDA), ws).cpu();
        x[1][17] = std::numeric_limits<float>::infinity();
        for (int mode : {0, 1}) {
            glq::kernels::cuda::e8_shell_set_rows(mode);
            const torch::Tensor y = run_checked(w, x.to(torch::kCUDA), ws).cpu();
            glq::kernels::cuda::e8_shell_set_rows(-1);
            CHECK_MSG(torch::isnan(y[1]).all().item<bool>(), "B " << B << " rows " << mode);
            CHECK_MSG(torch::equal(y[0], clean[0]) && torch::equal(y[2], clean[2]), "B " << B << " rows " << mode);
            CHECK_MSG(ws.abs().sum().item<int64_t>() == 0, "B " << B);
        }
    }
}

GLQ_TEST(gpu_glq_model_logits_equal_the_decode_on_load_path) {
    glq::test::require_cuda();
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = glq::test::make_padded_stories(glq::test::shared_data(), tmp / "tiny");
    const fs::path calib = tmp / "calib.txt";
    glq::write_file_atomic(calib, glq::read_file(glq::test::shared_data() / "tinyshakespeare/input.txt").substr(0, 30000));
    glq::quant::QuantizationJobOptions o;
    o.model_dir = model;
    o.output_dir = tmp / "glq4";
    o.bpw = 4;
    o.calibration.files = {calib};
    o.calibration.nsamples = 4;
    o.calibration.seqlen = 64;
    o.cache_dir = tmp / "hessians";
    o.device = torch::kCUDA;
    glq::quant::run_quantization_job(o);

    glq::model::LoadOptions load;
    load.device = torch::kCUDA;
    load.dtype = torch::kBFloat16;
    auto comp = load_glq_model(o.output_dir, load);
    load.decode_on_load = true;
    auto dec = load_glq_model(o.output_dir, load);
    CHECK_EQ(comp->linear("model.layers.0.mlp.down_proj")->kind(), std::string("glq"));
    CHECK_EQ(dec->linear("model.layers.0.mlp.down_proj")->kind(), std::string("glq-decoded"));
    CHECK(comp->resident_bytes() < dec->resident_bytes());

    torch::NoGradGuard g;
    const torch::Tensor ids = torch::randint(0, comp->config().vocab_size, {2, 24}, torch::kInt64).to(torch::kCUDA);
    const torch::Tensor lc = comp->forward(ids).to(torch::kFloat32);
    const torch::Tensor ld = dec->forward(ids).to(torch::kFloat32);
    const double rel = ((lc - ld).norm() / ld.norm()).item<double>();
    CHECK_MSG(rel < 2e-2, "prefill logits differ by " << rel);  // bf16 engine either way

    // The decode step captures the compressed layers in its CUDA graph and
    // gives the eager step's logits.
    for (int64_t batch : {1, 4}) {
        auto cache_g = comp->new_cache(batch, 64);
        auto cache_e = comp->new_cache(batch, 64);
        const torch::Tensor prompt = ids.narrow(0, 0, 1).expand({batch, 24}).contiguous();
        comp->forward(prompt, &cache_g, 0);
        comp->forward(prompt, &cache_e, 0);
        cache_g.length = cache_e.length = 24;
        glq::model::DecodeStep graphed(*comp, cache_g, true), eager(*comp, cache_e, false);
        torch::Tensor next = ids.narrow(1, 0, 1).narrow(0, 0, 1).reshape({1}).expand({batch}).contiguous();
        for (int64_t pos = 24; pos < 30; ++pos) {
            const torch::Tensor a = graphed.run(next, pos).to(torch::kFloat32).clone();
            const torch::Tensor b = eager.run(next, pos).to(torch::kFloat32);
            CHECK_MSG(graphed.graphed(), "no graph: " << graphed.fallback_reason());
            // decode_static and the eager forward take different attention paths.
            CHECK_MSG(rel_max_error(a, b) < 2e-2, "graph and eager differ at " << pos << " by " << rel_max_error(a, b));
            next = b.argmax(-1);
        }
    }
}

#else
GLQ_TEST(gpu_compressed_kernels_need_cuda) { glq::test::require_cuda(); }
#endif
