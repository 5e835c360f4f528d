#pragma once
// For tests/gpu: skip the case (CTest's exit 77 when every case skips) unless
// this build has CUDA and the machine a device.

#include "kernels/device.h"
#include "tests/support/test.h"

namespace glq::test {

inline void require_cuda() {
    if (!glq::kernels::built_with_cuda()) SKIP("built without CUDA");
    if (!glq::kernels::cuda_device_available()) SKIP("no CUDA device");
}

} // namespace glq::test
