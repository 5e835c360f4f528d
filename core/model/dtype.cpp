#include "core/model/dtype.h"

#include "core/common/error.h"

namespace glq::model {

torch::ScalarType parse_dtype(const std::string& name, const std::string& where) {
    if (name == "f32" || name == "float32" || name == "fp32") return torch::kFloat32;
    if (name == "bf16" || name == "bfloat16") return torch::kBFloat16;
    if (name == "f16" || name == "float16" || name == "fp16" || name == "half") return torch::kFloat16;
    throw Error(where, "unknown dtype '" + name + "' (expected f32, bf16 or f16)");
}

std::string dtype_short_name(torch::ScalarType dtype) {
    switch (dtype) {
    case torch::kFloat32: return "f32";
    case torch::kBFloat16: return "bf16";
    case torch::kFloat16: return "f16";
    default: return c10::toString(dtype);
    }
}

torch::Device parse_device(const std::string& name, const std::string& where) {
    if (name == "cpu") return torch::kCPU;
    if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
        if (!torch::cuda::is_available())
            throw Error(where, "'" + name + "' was asked for, but no CUDA device is usable on this machine");
        int index = 0;
        if (name.size() > 5) {
            try {
                index = std::stoi(name.substr(5));
            } catch (const std::exception&) {
                throw Error(where, "bad CUDA device '" + name + "' (expected cuda or cuda:N)");
            }
            if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
                throw Error(where, "CUDA device " + std::to_string(index) + " does not exist (" +
                                       std::to_string(torch::cuda::device_count()) + " found)");
        }
        return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    throw Error(where, "unknown device '" + name + "' (expected cpu, cuda or cuda:N)");
}

torch::ScalarType dtype_from_config_name(const std::string& torch_dtype) {
    if (torch_dtype == "bfloat16") return torch::kBFloat16;
    if (torch_dtype == "float16") return torch::kFloat16;
    return torch::kFloat32;
}

} // namespace glq::model
