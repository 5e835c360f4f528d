#pragma once
// Names of the compute dtypes and devices the engine accepts on the command
// line and in the GUI ("f32", "bf16", "f16"; "cpu", "cuda", "cuda:1").

#include <string>

#include <torch/torch.h>

namespace glq::model {

// "f32"/"float32", "bf16"/"bfloat16", "f16"/"float16"/"half". Throws glq::Error
// naming `where` (the option or setting) for anything else.
torch::ScalarType parse_dtype(const std::string& name, const std::string& where = "--dtype");
// "f32", "bf16", "f16".
std::string dtype_short_name(torch::ScalarType dtype);
// "cpu", "cuda", "cuda:N". Throws glq::Error when CUDA is asked for and no
// device is usable, so the user gets one clear line instead of a LibTorch trace.
torch::Device parse_device(const std::string& name, const std::string& where = "--device");
// The dtype a model folder's config asks for ("bfloat16" -> bf16, ...), f32 when unknown.
torch::ScalarType dtype_from_config_name(const std::string& torch_dtype);

} // namespace glq::model
