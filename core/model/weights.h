#pragma once
// Safetensors tensor views -> LibTorch tensors in the engine's dtype and device.
// The view points into the read-only mmap, so every tensor is copied out
// (never aliased): writing to an aliased tensor would fault, and the copy is
// where the dtype conversion and the host-to-device transfer happen anyway.

#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/io/safetensors.h"

namespace glq::model {

// The LibTorch dtype of a safetensors dtype; throws glq::Error naming the
// tensor for dtypes the engine cannot read (ints, fp8).
torch::ScalarType torch_dtype_of(io::DType dtype, const std::string& where);

// Copies one tensor to `dtype` on `device`. When `expected_shape` is not
// empty the stored shape must equal it (glq::Error naming the folder, the
// tensor and both shapes otherwise): a checkpoint that disagrees with its
// config is caught at load, not as a matmul error later.
torch::Tensor load_tensor(const io::SafetensorsModel& weights, const std::string& name, torch::ScalarType dtype,
                          torch::Device device, const std::vector<int64_t>& expected_shape = {});

// A zero-copy CPU view of the mapped bytes in their stored dtype. Read-only:
// valid while `weights` lives, and must not be written to.
torch::Tensor view_tensor(const io::SafetensorsModel& weights, const std::string& name);

} // namespace glq::model
