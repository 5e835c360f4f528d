#pragma once
// Where a reader finds one quantized layer's stored tensors, by suffix
// ("Qidxs", "SU", ...): a checkpoint's safetensors files or a resume file.
// Each codebook's layer reader (shell_layer.h, ...) reads through it, so the
// dtype, rank and presence checks and their messages are the same wherever a
// layer is read.

#include <cstdint>
#include <functional>
#include <string>

#include <torch/types.h>

#include "core/io/safetensors.h"

namespace glq::format {

// Where a reader finds one layer's stored tensors, by suffix.
struct LayerTensorSource {
    std::string where;   // the file (for messages)
    std::string prefix;  // the layer's module prefix; tensors are named prefix.suffix (just suffix if empty)
    std::string name(const std::string& suffix) const { return prefix.empty() ? suffix : prefix + "." + suffix; }
    std::function<bool(const std::string& suffix)> has;
    // A CPU copy, checked to have dtype `want` and `rank` dimensions (-1: any);
    // throws glq::Error naming the file and the tensor.
    std::function<torch::Tensor(const std::string& suffix, io::DType want, int64_t rank)> get;
    // A CPU copy of a floating-point tensor of rank `rank`, in its stored dtype.
    std::function<torch::Tensor(const std::string& suffix, int64_t rank)> get_float;
};

} // namespace glq::format
