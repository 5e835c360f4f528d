#pragma once
// Which compute devices this build and this machine offer.

#include <cstdint>
#include <optional>
#include <string>

namespace glq::kernels {

// True when the CUDA kernels were compiled in (GLQ_WITH_CUDA).
bool built_with_cuda();
// True when a CUDA device is usable right now (driver + device present).
bool cuda_device_available();
// Bytes free on CUDA device `index` now (cudaMemGetInfo: memory LibTorch's
// caching allocator holds counts as used); nullopt without CUDA.
std::optional<uint64_t> cuda_free_memory(int index);
// One line per device, e.g. "cuda:0 NVIDIA H100 80GB HBM3, 79.2 GiB, sm_90".
std::string describe_devices();

} // namespace glq::kernels
