// One linear layer: damping, RHT, LDLQ, artifacts, and the inverse (see quantize_layer.h).

#include "core/quant/quantize_layer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <string>

#include "core/common/error.h"
#include "core/quant/e8_codebook.h"
#include "core/quant/rht.h"

namespace glq::quant {
namespace {

std::string shape_str(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
}

bool all_plus_minus_one(const torch::Tensor& s) {
    const torch::Tensor f = s.to(torch::kFloat32);
    return (f.abs() == 1.0f).all().item<bool>();
}

} // namespace

std::vector<float> ShellLayerArtifacts::stage_weights() const {
    std::vector<float> w{1.0f};
    w.insert(w.end(), inv_resid_scale.begin(), inv_resid_scale.end());
    return w;
}

uint64_t ShellLayerArtifacts::storage_bytes() const {
    uint64_t bytes = 4 + 4 * inv_resid_scale.size();  // Wscale and the stage scales
    for (const auto& q : qidxs) bytes += static_cast<uint64_t>(q.numel()) * 2;
    if (su.defined()) bytes += static_cast<uint64_t>(su.numel()) * 2;
    if (sv.defined()) bytes += static_cast<uint64_t>(sv.numel()) * 2;
    if (bias.defined()) bytes += static_cast<uint64_t>(bias.numel()) * bias.element_size();
    return bytes;
}

void ShellLayerArtifacts::validate(const std::string& where) const {
    if (bpw < kMinShellBpw || bpw > kMaxShellBpw)
        throw Error(where, "bpw " + std::to_string(bpw) + " is outside 2..8");
    const int64_t stages = (bpw + 1) / 2;
    if (num_stages() != stages)
        throw Error(where, "bpw " + std::to_string(bpw) + " needs " + std::to_string(stages) + " index stages (Qidxs..), found " +
                               std::to_string(num_stages()));
    if (static_cast<int64_t>(inv_resid_scale.size()) != stages - 1)
        throw Error(where, "bpw " + std::to_string(bpw) + " needs " + std::to_string(stages - 1) +
                               " nonzero inv_resid_scale values, found " + std::to_string(inv_resid_scale.size()));
    const torch::Tensor& q0 = qidxs.front();
    if (q0.dim() != 2 || q0.size(0) < 1 || q0.size(1) < 1)
        throw Error(where + ".Qidxs", "expected a non-empty [rows, cols/8] matrix, got " + shape_str(q0));
    for (int64_t s = 0; s < stages; ++s) {
        const std::string name = where + ".Qidxs" + (s == 0 ? "" : std::to_string(s + 1));
        const torch::Tensor& q = qidxs[s];
        if (q.scalar_type() != torch::kInt16)
            throw Error(name, std::string("expected int16 indices, got ") + c10::toString(q.scalar_type()));
        if (q.sizes() != q0.sizes()) throw Error(name, "shape " + shape_str(q) + " differs from Qidxs " + shape_str(q0));
    }
    if (bpw % 2 == 1) {
        const torch::Tensor& last = qidxs.back();
        const bool in_small = ((last >= 0) & (last < kE8SmallCodebookSize)).all().item<bool>();
        if (!in_small)
            throw Error(where + ".Qidxs" + std::to_string(stages),
                        "the 8-bit stage of a " + std::to_string(bpw) + "-bpw layer holds indices outside 0..255");
    }
    for (size_t i = 0; i < inv_resid_scale.size(); ++i) {
        const float v = inv_resid_scale[i];
        if (!std::isfinite(v) || v == 0.0f)
            throw Error(where + ".inv_resid_scale" + (i == 0 ? "" : std::to_string(i + 1)),
                        "must be finite and nonzero, got " + std::to_string(v));
    }
    if (!std::isfinite(wscale) || wscale <= 0.0f)
        throw Error(where + ".Wscale", "must be finite and positive, got " + std::to_string(wscale));
    const int64_t m = out_features(), n = in_features();
    auto check_signs = [&](const torch::Tensor& s, int64_t len, const char* name) {
        const std::string w = where + "." + name;
        if (!s.defined()) throw Error(w, "is missing");
        if (s.scalar_type() != torch::kFloat16)
            throw Error(w, std::string("expected float16 signs, got ") + c10::toString(s.scalar_type()));
        if (s.dim() != 1 || s.size(0) != len)
            throw Error(w, "expected shape [" + std::to_string(len) + "], got " + shape_str(s));
        if (!all_plus_minus_one(s)) throw Error(w, "holds values other than +1 and -1");
    };
    check_signs(su, m, "SU");
    check_signs(sv, n, "SV");
    if (bias.defined()) {
        if (bias.dim() != 1 || bias.size(0) != m)
            throw Error(where + ".bias", "expected shape [" + std::to_string(m) + "], got " + shape_str(bias));
        if (!bias.is_floating_point()) throw Error(where + ".bias", "expected a floating-point tensor");
    }
}

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

torch::Tensor decode_rht_weight(const ShellLayerArtifacts& a, const torch::Device& device) {
    std::vector<torch::Tensor> idx;
    idx.reserve(a.qidxs.size());
    for (const auto& q : a.qidxs) idx.push_back(q.to(device));
    return decode_shell(idx, a.stage_weights(), a.wscale);
}

torch::Tensor dequantize_layer(const ShellLayerArtifacts& a, const torch::Device& device) {
    const torch::Tensor wt = decode_rht_weight(a, device);
    return inverse_rht_weight(wt, a.su.to(device, torch::kFloat32), a.sv.to(device, torch::kFloat32));
}

} // namespace glq::quant
