// The e8_shell layer layout: validation, sizes and decode (see shell_layer.h).

#include "core/format/shell_layer.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/shell_decode.h"
#include "core/common/error.h"
#include "kernels/fwht.h"

namespace glq::format {
namespace {

using codebook::kE8SmallCodebookSize;
using codebook::kMaxShellBpw;
using codebook::kMinShellBpw;

std::string shape_str(const torch::Tensor& t) {
    std::string s = "[";
    for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
    return s + "]";
}

bool all_plus_minus_one(const torch::Tensor& s) {
    const torch::Tensor f = s.to(torch::kFloat32);
    return (f.abs() == 1.0f).all().item<bool>();
}

// BD along dim 0 of a matrix: transform the transpose's rows.
torch::Tensor hadamard_rows(const torch::Tensor& x) {
    return kernels::block_hadamard(x.t().contiguous()).t().contiguous();
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

std::vector<std::pair<std::string, torch::Tensor>> shell_layer_tensors(const ShellLayerArtifacts& a) {
    std::vector<std::pair<std::string, torch::Tensor>> t;
    for (int64_t s = 0; s < a.num_stages(); ++s) t.emplace_back("Qidxs" + (s ? std::to_string(s + 1) : std::string()), a.qidxs[s]);
    for (size_t i = 0; i < a.inv_resid_scale.size(); ++i)
        t.emplace_back("inv_resid_scale" + (i ? std::to_string(i + 1) : std::string()),
                       torch::tensor(a.inv_resid_scale[i], torch::kFloat32).reshape({}));
    // Every scale of a stage the layer does not have is written as 0: the
    // reference counts stages by the first zero scale, and its loader under
    // transformers 5 fills a missing one with uninitialised memory (it relied
    // on _load_from_state_dict, which transformers 5 no longer calls). Its CPU
    // decode reads inv_resid_scale2 even at 2 bpw, so the next stage's zero
    // alone is not enough there (NaN logits). At most 12 bytes per layer;
    // readers that go by Qidxs<k> ignore them.
    for (size_t i = a.inv_resid_scale.size(); i < 3; ++i)
        t.emplace_back("inv_resid_scale" + (i ? std::to_string(i + 1) : std::string()), torch::zeros({}, torch::kFloat32));
    t.emplace_back("SU", a.su);
    t.emplace_back("SV", a.sv);
    t.emplace_back("Wscale", torch::tensor(a.wscale, torch::kFloat32).reshape({}));
    if (a.bias.defined()) t.emplace_back("bias", a.bias);
    return t;
}

ShellLayerArtifacts read_shell_layer(const LayerTensorSource& src, std::optional<int> bpw) {
    ShellLayerArtifacts a;
    a.qidxs.push_back(src.get("Qidxs", io::DType::I16, 2));
    for (int s = 2; s <= 4; ++s) {
        const std::string qn = "Qidxs" + std::to_string(s);
        const std::string sn = "inv_resid_scale" + (s == 2 ? std::string() : std::to_string(s - 1));
        if (!src.has(qn)) break;
        if (!src.has(sn)) throw Error(src.where, "tensor '" + src.name(qn) + "' has no '" + src.name(sn) + "'");
        const float scale = src.get(sn, io::DType::F32, 0).item<float>();
        if (scale == 0.0f) break;
        a.qidxs.push_back(src.get(qn, io::DType::I16, 2));
        a.inv_resid_scale.push_back(scale);
    }
    a.su = src.get("SU", io::DType::F16, 1);
    a.sv = src.get("SV", io::DType::F16, 1);
    a.wscale = src.get("Wscale", io::DType::F32, 0).item<float>();
    if (src.has("bias")) a.bias = src.get_float("bias", 1);
    const int64_t m = a.qidxs[0].size(0), n = 8 * a.qidxs[0].size(1);
    if (a.su.size(0) != m || a.sv.size(0) != n)
        throw Error(src.where, "layer '" + src.prefix + "': SU has " + std::to_string(a.su.size(0)) + " and SV " +
                                   std::to_string(a.sv.size(0)) + " entries for Qidxs of " + std::to_string(m) +
                                   " rows and " + std::to_string(n) +
                                   " columns (a legacy power-of-two padded layout is not supported)");
    if (bpw) {
        a.bpw = *bpw;
    } else {
        // No recorded rate: odd rates end in an 8-bit stage.
        const int64_t stages = a.num_stages();
        const bool small_last = stages > 1 && a.qidxs.back().max().item<int64_t>() < kE8SmallCodebookSize &&
                                a.qidxs.back().min().item<int64_t>() >= 0;
        a.bpw = static_cast<int>(2 * stages - (small_last ? 1 : 0));
    }
    a.validate(src.prefix.empty() ? src.where : src.where + ": " + src.prefix);
    return a;
}

torch::Tensor decode_rht_weight(const ShellLayerArtifacts& a, const torch::Device& device) {
    std::vector<torch::Tensor> idx;
    idx.reserve(a.qidxs.size());
    for (const auto& q : a.qidxs) idx.push_back(q.to(device));
    return codebook::decode_shell(idx, a.stage_weights(), a.wscale);
}

torch::Tensor dequantize_layer(const ShellLayerArtifacts& a, const torch::Device& device) {
    const torch::Tensor wt = decode_rht_weight(a, device);
    return inverse_rht_weight(wt, a.su.to(device, torch::kFloat32), a.sv.to(device, torch::kFloat32));
}

torch::Tensor inverse_rht_weight(const torch::Tensor& wt, const torch::Tensor& su, const torch::Tensor& sv) {
    if (wt.dim() != 2 || !wt.is_floating_point())
        throw Error("inverse_rht_weight", "expected a matrix of floating point, got " + shape_str(wt));
    if (su.dim() != 1 || su.size(0) != wt.size(0) || sv.dim() != 1 || sv.size(0) != wt.size(1))
        throw Error("inverse_rht_weight", "signs " + shape_str(su) + " and " + shape_str(sv) + " do not fit " +
                                              shape_str(wt));
    return hadamard_rows(kernels::block_hadamard(wt)) * sv.to(wt.options()).unsqueeze(0) *
           su.to(wt.options()).unsqueeze(1);
}

} // namespace glq::format
