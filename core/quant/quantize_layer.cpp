// One linear layer: damping, RHT, LDLQ and its artifacts (see quantize_layer.h).

#include "core/quant/quantize_layer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <string>

#include "core/common/error.h"
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
    const codebook::Codebook& cb = codebook::codebook_of(options.codebook);
    cb.check_shape(m, n, "quantize_layer");
    if (h_in.dim() != 2 || h_in.size(0) != n || h_in.size(1) != n)
        throw Error("quantize_layer", "the Hessian must be [" + std::to_string(n) + ", " + std::to_string(n) +
                                          "] for a weight " + shape_str(w_in) + ", got " + shape_str(h_in));
    if (bias.defined() && (bias.dim() != 1 || bias.size(0) != m))
        throw Error("quantize_layer", "the bias must be [" + std::to_string(m) + "], got " + shape_str(bias));
    cb.check_bpw(options.bpw, "quantize_layer");  // before any work

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
    const LdlqResult r = ldlq_quantize(w_tilde, h_tilde, cb, options.bpw, lo);

    QuantizedLayer out;
    out.codes = format::make_layer_codes(options.codebook, options.bpw, r.codes, r.stage_weights, signs.su, signs.sv,
                                         r.wscale, bias);

    // Ŵ through the reader's own path, so a reload reproduces it bit for bit.
    out.w_hat = dequantize_layer(out.codes, device);

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
