#include "core/model/weights.h"

#include <sstream>

#include "core/common/error.h"

namespace glq::model {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
    std::ostringstream s;
    s << "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
    s << "]";
    return s.str();
}

} // namespace

torch::ScalarType torch_dtype_of(io::DType dtype, const std::string& where) {
    switch (dtype) {
    case io::DType::F32: return torch::kFloat32;
    case io::DType::BF16: return torch::kBFloat16;
    case io::DType::F16: return torch::kFloat16;
    case io::DType::F64: return torch::kFloat64;
    default:
        throw Error(where, std::string("dtype ") + io::dtype_name(dtype) +
                               " is not a floating-point weight dtype the engine reads (F32, BF16, F16, F64)");
    }
}

torch::Tensor view_tensor(const io::SafetensorsModel& weights, const std::string& name) {
    const io::TensorView view = weights.view(name);
    const std::string where = weights.dir() + ": tensor '" + name + "'";
    const torch::ScalarType dtype = torch_dtype_of(view.info->dtype, where);
    // from_blob wants a mutable pointer; the tensor is only ever read (see header).
    void* data = const_cast<std::byte*>(view.bytes.data());
    return torch::from_blob(data, view.info->shape, torch::TensorOptions().dtype(dtype).device(torch::kCPU));
}

torch::Tensor load_tensor(const io::SafetensorsModel& weights, const std::string& name, torch::ScalarType dtype,
                          torch::Device device, const std::vector<int64_t>& expected_shape) {
    torch::Tensor stored = view_tensor(weights, name);
    if (!expected_shape.empty() && stored.sizes().vec() != expected_shape)
        throw Error(weights.dir() + ": tensor '" + name + "'",
                    "has shape " + shape_text(stored.sizes().vec()) + ", the config implies " +
                        shape_text(expected_shape));
    // copy=true: never alias the read-only mapping, even when dtype and device already match.
    return stored.to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
}

} // namespace glq::model
