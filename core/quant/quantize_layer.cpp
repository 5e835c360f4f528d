// One linear layer: damping, RHT, LDLQ and its artifacts (see quantize_layer.h).

#include "core/quant/quantize_layer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <string>

#include "core/common/error.h"
#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/quant/rht.h"

namespace glq::quant {
namespace {

std::string shape_str(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
}

} // namespace

QuantizedLayer quantize_layer(const torch::Tensor& w_in, const torch::Tensor& h_in, const LayerQuantOptions& options,
                              const torch::Tensor& bias) {
    const auto t0 = std::chrono::steady_clock::now();
    if (w_in.dim() != 2) throw Error("quantize_layer", "the weight must be a matrix, got " + shape_str(w_in));
    const int64_t m = w_in.size(0), n = w_in.size(1);
    if (n % kLdlqBlock != 0)
        throw Error("quantize_layer",
                    "in_features " + std::to_string(n) +
                        " is not a multiple of 8: the E8 shell format stores one index per 8 input columns, and "
                        "padded columns would not decode with the same Hadamard blocks");
    if (h_in.dim() != 2 || h_in.size(0) != n || h_in.size(1) != n)
        throw Error("quantize_layer", "the Hessian must be [" + std::to_string(n) + ", " + std::to_string(n) +
                                          "] for a weight " + shape_str(w_in) + ", got " + shape_str(h_in));
    if (bias.defined() && (bias.dim() != 1 || bias.size(0) != m))
        throw Error("quantize_layer", "the bias must be [" + std::to_string(m) + "], got " + shape_str(bias));
    shell_recipe(options.bpw);  // rejects a bad bpw before any work

    const torch::Device device = w_in.device();
    const torch::Tensor w = w_in.to(torch::kFloat32).contiguous();
    // The first 1% damping happens before the RHT, in float64 (the RHT of H
    // is exact in any precision, but H's small eigenvalues are what LDL needs).
    torch::Tensor h = h_in.to(device, torch::kFloat64);
    const double mean_diag = h.diagonal().mean().item<double>();
    if (std::isfinite(mean_diag)) h = h + options.damping * mean_diag * torch::eye(n, h.options());

    const RhtSigns signs = reference_signs(m, n, options.sign_seed);
    const torch::Tensor su = signs.su.to(device), sv = signs.sv.to(device);
    const torch::Tensor w_tilde = rht_weight(w, su, sv);
    const torch::Tensor h_tilde = rht_hessian(h, sv);

    LdlqOptions lo;
    lo.error_feedback = options.error_feedback;
    lo.damping = options.damping;
    lo.tune_iters = options.tune_iters;
    lo.cancel = options.cancel;
    lo.progress = options.progress;
    const LdlqResult r = ldlq_quantize(w_tilde, h_tilde, options.bpw, lo);

    QuantizedLayer out;
    ShellLayerArtifacts& a = out.artifacts;
    a.bpw = options.bpw;
    for (const auto& idx : r.indices) a.qidxs.push_back(idx.to(torch::kCPU).to(torch::kInt32).to(torch::kInt16));
    a.inv_resid_scale.assign(r.recipe.stage_weights.begin() + 1, r.recipe.stage_weights.end());
    a.su = signs.su.to(torch::kFloat16);
    a.sv = signs.sv.to(torch::kFloat16);
    a.wscale = r.wscale;
    if (bias.defined()) a.bias = bias.detach().to(torch::kCPU).clone();

    // Ŵ through the reader's own path, so a reload reproduces it bit for bit.
    out.w_hat = dequantize_layer(a, device);

    LayerQuantMetrics& mt = out.metrics;
    mt.bpw = options.bpw;
    mt.rows = m;
    mt.cols = n;
    mt.proxy_loss = r.proxy_loss;
    mt.relative_proxy_loss = r.relative_proxy_loss;
    const torch::Tensor diff = (w - out.w_hat).to(torch::kFloat64);
    const double err = diff.pow(2).sum().item<double>();
    const double sig = w.to(torch::kFloat64).pow(2).sum().item<double>();
    mt.sqnr_db = err > 0 ? 10.0 * std::log10(sig / err) : 99.0;
    mt.mse = err / static_cast<double>(m * n);
    mt.wscale = r.wscale;
    mt.damping_tier = r.damping_tier;
    mt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

} // namespace glq::quant
