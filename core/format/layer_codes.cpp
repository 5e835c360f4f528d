// The closed set of stored layer types and their dispatch (see layer_codes.h).

#include "core/format/layer_codes.h"

#include <torch/torch.h>

#include "core/common/error.h"

namespace glq::format {
namespace {

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

} // namespace

codebook::CodebookKind codebook_kind(const LayerCodes& codes) {
    return std::visit(overloaded{[](const ShellLayerArtifacts&) { return codebook::CodebookKind::E8Shell; }}, codes);
}

int layer_bpw(const LayerCodes& codes) {
    return std::visit([](const auto& a) { return a.bpw; }, codes);
}
int64_t out_features(const LayerCodes& codes) {
    return std::visit([](const auto& a) { return a.out_features(); }, codes);
}
int64_t in_features(const LayerCodes& codes) {
    return std::visit([](const auto& a) { return a.in_features(); }, codes);
}
uint64_t storage_bytes(const LayerCodes& codes) {
    return std::visit([](const auto& a) { return a.storage_bytes(); }, codes);
}
void validate(const LayerCodes& codes, const std::string& where) {
    std::visit([&](const auto& a) { a.validate(where); }, codes);
}
const torch::Tensor& layer_bias(const LayerCodes& codes) {
    return std::visit([](const auto& a) -> const torch::Tensor& { return a.bias; }, codes);
}
const torch::Tensor& layer_su(const LayerCodes& codes) {
    return std::visit([](const auto& a) -> const torch::Tensor& { return a.su; }, codes);
}
const torch::Tensor& layer_sv(const LayerCodes& codes) {
    return std::visit([](const auto& a) -> const torch::Tensor& { return a.sv; }, codes);
}

torch::Tensor decode_rht_weight(const LayerCodes& codes, const torch::Device& device) {
    return std::visit([&](const auto& a) { return decode_rht_weight(a, device); }, codes);
}

torch::Tensor dequantize_layer(const LayerCodes& codes, const torch::Device& device) {
    const torch::Tensor wt = decode_rht_weight(codes, device);
    return inverse_rht_weight(wt, layer_su(codes).to(device, torch::kFloat32), layer_sv(codes).to(device, torch::kFloat32));
}

LayerCodes make_layer_codes(codebook::CodebookKind kind, int bpw, const std::vector<torch::Tensor>& codes,
                            const std::vector<float>& stage_weights, const torch::Tensor& su, const torch::Tensor& sv,
                            float wscale, const torch::Tensor& bias) {
    switch (kind) {
    case codebook::CodebookKind::E8Shell: {
        ShellLayerArtifacts a;
        a.bpw = bpw;
        for (const auto& idx : codes) a.qidxs.push_back(idx.to(torch::kCPU).to(torch::kInt32).to(torch::kInt16));
        a.inv_resid_scale.assign(stage_weights.begin() + 1, stage_weights.end());
        a.su = su.to(torch::kCPU, torch::kFloat16);
        a.sv = sv.to(torch::kCPU, torch::kFloat16);
        a.wscale = wscale;
        if (bias.defined()) a.bias = bias.detach().to(torch::kCPU).clone();
        return a;
    }
    case codebook::CodebookKind::Trellis: break;
    }
    throw Error("layer codes", std::string("the ") + codebook::codebook_name(kind) + " format is not built into this version yet");
}

std::vector<std::pair<std::string, torch::Tensor>> layer_tensors(const LayerCodes& codes) {
    return std::visit(overloaded{[](const ShellLayerArtifacts& a) { return shell_layer_tensors(a); }}, codes);
}

LayerCodes read_layer_codes(codebook::CodebookKind kind, const LayerTensorSource& source, std::optional<int> bpw) {
    switch (kind) {
    case codebook::CodebookKind::E8Shell: return read_shell_layer(source, bpw);
    case codebook::CodebookKind::Trellis: break;
    }
    throw Error(source.where, std::string("the ") + codebook::codebook_name(kind) + " format is not built into this version yet");
}

} // namespace glq::format
