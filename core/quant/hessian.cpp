#include "core/quant/hessian.h"

#include <cstring>
#include <vector>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "core/plan/module_name.h"

namespace glq::quant {
namespace fs = std::filesystem;

namespace {

// Removes the observer however the capture ends (cancel, error).
struct ObserverGuard {
    model::Transformer& model;
    ~ObserverGuard() { model.set_linear_observer({}); }
};

} // namespace

const torch::Tensor& LayerHessians::for_linear(const std::string& prefix) const {
    auto it = by_owner.find(plan::input_owner(prefix));
    if (it == by_owner.end()) throw Error(prefix, "no Hessian was captured for this projection's input");
    return it->second;
}

LayerHessians capture_layer_hessians(model::Transformer& model, int64_t layer, const torch::Tensor& hidden,
                                     const CancelToken* cancel, torch::Tensor* outputs, const WindowDoneFn& on_window) {
    torch::NoGradGuard no_grad;
    const torch::Device device = model.device();
    const int64_t windows = hidden.size(0), seqlen = hidden.size(1);
    model.reserve_positions(seqlen);
    // fp64 sums on the device (cheap next to the matmuls), fp32 per-window products.
    std::map<std::string, torch::Tensor> sums;
    model.set_linear_observer([&](const std::string& prefix, const torch::Tensor& input) {
        if (plan::input_owner(prefix) != prefix) return;  // shared input already seen by its owner
        const torch::Tensor x = input.reshape({-1, input.size(-1)}).to(torch::kFloat32);
        torch::Tensor xtx = x.t().mm(x).to(torch::kFloat64);
        auto it = sums.find(prefix);
        if (it == sums.end()) sums.emplace(prefix, std::move(xtx));
        else it->second.add_(xtx);
    });
    ObserverGuard guard{model};
    const torch::Tensor positions = torch::arange(seqlen, torch::TensorOptions().dtype(torch::kInt64).device(device));
    if (outputs) *outputs = torch::empty_like(hidden);
    for (int64_t w = 0; w < windows; ++w) {
        if (cancel) cancel->check();
        torch::Tensor out = model.decoder_layer(layer).forward(hidden[w].unsqueeze(0).to(device), positions);
        if (outputs) (*outputs)[w].copy_(out[0]);
        if (on_window) on_window(w + 1, windows);
    }
    LayerHessians result;
    result.tokens = windows * seqlen;
    for (auto& [prefix, sum] : sums)
        result.by_owner.emplace(prefix, sum.div_(static_cast<double>(result.tokens)).to(torch::kFloat32));
    return result;
}

torch::Tensor run_layer(model::Transformer& model, int64_t layer, const torch::Tensor& hidden,
                        const CancelToken* cancel, const WindowDoneFn& on_window) {
    torch::NoGradGuard no_grad;
    const torch::Device device = model.device();
    model.reserve_positions(hidden.size(1));
    const torch::Tensor positions = torch::arange(hidden.size(1), torch::TensorOptions().dtype(torch::kInt64).device(device));
    torch::Tensor next = torch::empty_like(hidden);
    for (int64_t w = 0; w < hidden.size(0); ++w) {
        if (cancel) cancel->check();
        next[w].copy_(model.decoder_layer(layer).forward(hidden[w].unsqueeze(0).to(device), positions)[0]);
        if (on_window) on_window(w + 1, hidden.size(0));
    }
    return next;
}

void save_layer_hessians(const fs::path& file, const LayerHessians& hessians) {
    std::vector<torch::Tensor> keep;
    std::vector<io::TensorRef> refs;
    for (const auto& [prefix, h] : hessians.by_owner) {
        torch::Tensor c = h.to(torch::kCPU, torch::kFloat32).contiguous();
        keep.push_back(c);
        refs.push_back({prefix, io::DType::F32, {c.size(0), c.size(1)},
                        {reinterpret_cast<const std::byte*>(c.data_ptr()), c.nbytes()}});
    }
    fs::create_directories(file.parent_path());
    io::write_safetensors(file, refs, {{"tokens", std::to_string(hessians.tokens)}});
}

std::optional<LayerHessians> load_layer_hessians(const fs::path& file, const torch::Device& device) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return std::nullopt;
    auto st = io::SafetensorsFile::open(file);
    LayerHessians result;
    auto it = st->metadata().find("tokens");
    if (it == st->metadata().end()) throw Error(file.string(), "Hessian cache file without a token count");
    result.tokens = std::stoll(it->second);
    for (const io::TensorInfo& info : st->tensors()) {
        if (info.dtype != io::DType::F32 || info.shape.size() != 2 || info.shape[0] != info.shape[1])
            throw Error(file.string(), "tensor '" + info.name + "' is not a float32 square matrix");
        const io::TensorView view = st->view(info.name);
        torch::Tensor h = torch::empty({info.shape[0], info.shape[1]}, torch::kFloat32);
        std::memcpy(h.data_ptr(), view.bytes.data(), view.bytes.size());
        result.by_owner.emplace(info.name, h.to(device));
    }
    if (result.by_owner.empty()) throw Error(file.string(), "Hessian cache file holds no matrices");
    return result;
}

} // namespace glq::quant
