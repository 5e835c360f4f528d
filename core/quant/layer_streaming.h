#pragma once
// The streaming policy: where a quantization job's weights live on CUDA.
// Kept apart from the job so that the choice (and the one rule that moves a
// decoder layer to the device and back) is written once and testable
// without a GPU.
//
// Auto keeps the weights on the device when they take at most half of its
// free memory (no host copy, no transfers) and streams them otherwise: every
// weight on the host, one decoder layer at a time on the device, so a model
// larger than the GPU still quantizes. A CPU job never streams (host and
// device are one).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <torch/types.h>

#include "core/io/model_dir.h"
#include "core/model/transformer.h"

namespace glq::quant {

enum class LayerStreaming { Auto, On, Off };

// "auto" | "on" | "off"; anything else throws Error("--stream-layers", ...).
LayerStreaming parse_layer_streaming(const std::string& text);
// The session's word for `mode` ("auto", "on", "off").
const char* layer_streaming_name(LayerStreaming mode);

// The policy, apart from the machine so that tests can ask it: weights of
// `weight_bytes` (in the compute dtype) on `device`, which has
// `free_device_bytes` free (nullopt: unknown, which streams under Auto).
bool decide_layer_streaming(LayerStreaming mode, const torch::Device& device, uint64_t weight_bytes,
                            std::optional<uint64_t> free_device_bytes);

// Applies `mode` to the model in `dir`, loaded as `load` says (device,
// dtype), on this machine, and says what it chose through `log` (one line:
// "layer streaming ..."). False on the CPU.
bool choose_layer_streaming(const io::ModelDir& dir, LayerStreaming mode, const model::LoadOptions& load,
                            const std::function<void(const std::string&)>& log);

// Moves decoder layer `layer` to the compute device for `work` and back to
// the host afterwards (a no-op when the model does not stream). When `work`
// throws, the job ends and drops the model, so nothing needs moving back.
template <typename Work>
void with_layer_on_device(model::Transformer& model, int64_t layer, Work&& work) {
    if (model.streams_layers()) model.move_layer(layer, model.device());
    work();
    if (model.streams_layers()) model.move_layer(layer, torch::kCPU);
}

} // namespace glq::quant
