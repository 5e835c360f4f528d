// The streaming policy (see layer_streaming.h).

#include "core/quant/layer_streaming.h"

#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "core/model/dtype.h"
#include "kernels/device.h"

namespace glq::quant {

LayerStreaming parse_layer_streaming(const std::string& text) {
    if (text == "auto") return LayerStreaming::Auto;
    if (text == "on") return LayerStreaming::On;
    if (text == "off") return LayerStreaming::Off;
    throw Error("--stream-layers", "must be auto, on or off (got '" + text + "')");
}

const char* layer_streaming_name(LayerStreaming mode) {
    switch (mode) {
    case LayerStreaming::On: return "on";
    case LayerStreaming::Off: return "off";
    case LayerStreaming::Auto: break;
    }
    return "auto";
}

bool decide_layer_streaming(LayerStreaming mode, const torch::Device& device, uint64_t weight_bytes,
                            std::optional<uint64_t> free_device_bytes) {
    if (!device.is_cuda() || mode == LayerStreaming::Off) return false;
    if (mode == LayerStreaming::On) return true;
    // Half: the other half holds the calibration activations (up to
    // the job's kMaxDeviceHiddenBytes), Hessians and LDLQ's workspace.
    return !free_device_bytes || weight_bytes > *free_device_bytes / 2;
}

bool choose_layer_streaming(const io::ModelDir& dir, LayerStreaming mode, const model::LoadOptions& load,
                            const std::function<void(const std::string&)>& log) {
    if (!load.device.is_cuda()) return false;
    uint64_t bytes = 0;
    for (const auto& file : dir.weights().files())
        for (const io::TensorInfo& t : file->tensors())
            bytes += static_cast<uint64_t>(t.numel()) * c10::elementSize(load.dtype);
    const int index = load.device.has_index() ? load.device.index() : 0;
    const std::optional<uint64_t> free = kernels::cuda_free_memory(index);
    const bool stream = decide_layer_streaming(mode, load.device, bytes, free);
    const std::string where = "cuda:" + std::to_string(index);
    if (log)
        log(std::string(stream ? "layer streaming: the weights stay on the host, one layer at a time on "
                               : "layer streaming off: the weights live on ") +
            where + " (" + io::human_bytes(bytes) + " as " + model::dtype_short_name(load.dtype) + ", " +
            (free ? io::human_bytes(*free) + " free" : std::string("free memory unknown")) + ")");
    return stream;
}

} // namespace glq::quant
