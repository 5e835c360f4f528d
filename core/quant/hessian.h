#pragma once
// Hessian capture for the GLQ pipeline (reference §4.1): per decoder layer,
// one forward of every calibration window through that layer with the
// model's linear observer installed, accumulating H = Σ xᵀx / N over the
// N = nsamples·seqlen tokens of each distinct projection input:
//   q/k/v share the attention input (stored under q_proj), gate/up share the
//   MLP input (stored under gate_proj), o_proj and down_proj have their own
//   (core/plan/module_name.h's input_owner says which).
// Each window's xᵀx is formed in float32 and summed in float64, then H is
// returned in float32 on the model's device.
//
// The disk cache holds one safetensors file per layer (the four Hessians,
// float32) under a folder named by a key the caller builds from everything
// the Hessians depend on (see hessian_cache.h for the key and for what is
// reusable under sequential propagation).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <torch/types.h>

#include "core/common/progress.h"
#include "core/model/transformer.h"

namespace glq::quant {

struct LayerHessians {
    std::map<std::string, torch::Tensor> by_owner;  // owner prefix -> H [n, n] float32
    int64_t tokens = 0;                             // N
    // H of any of the layer's projections (via plan::input_owner: k/v share q's,
    // up shares gate's). Throws glq::Error if absent.
    const torch::Tensor& for_linear(const std::string& prefix) const;
};

// Runs every window of `hidden` [N, T, C] (model dtype; CPU or device) through
// decoder layer `layer` one window at a time (as the reference) with the
// observer installed and returns the layer's Hessians. When `outputs` is not
// null it receives the layer's outputs [N, T, C] on hidden's device (used when
// the next layer's inputs do not depend on this layer's quantization).
// Cancellable between windows; the observer is removed on every exit.
// `on_window` hears each finished window (done, windows): the calibration
// forward is a large part of a layer's time.
using WindowDoneFn = std::function<void(int64_t done, int64_t windows)>;
LayerHessians capture_layer_hessians(model::Transformer& model, int64_t layer, const torch::Tensor& hidden,
                                     const CancelToken* cancel, torch::Tensor* outputs = nullptr,
                                     const WindowDoneFn& on_window = {});

// Runs every window through layer `layer` (no observer): the next layer's inputs.
torch::Tensor run_layer(model::Transformer& model, int64_t layer, const torch::Tensor& hidden,
                        const CancelToken* cancel, const WindowDoneFn& on_window = {});

// Cache files: <folder>/layer<L>.safetensors, written atomically.
void save_layer_hessians(const std::filesystem::path& file, const LayerHessians& hessians);
// Empty when the file does not exist; throws glq::Error naming the file when it
// is corrupt or does not hold float32 square matrices.
std::optional<LayerHessians> load_layer_hessians(const std::filesystem::path& file, const torch::Device& device);

} // namespace glq::quant
