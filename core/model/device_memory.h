#pragma once
// Device bookkeeping the engine's timings and statistics need: a
// synchronise that is a no-op on the CPU, and peak memory per device.

#include <cstdint>

#include <torch/torch.h>

namespace glq::model {

// Waits for the device's queued work (CUDA), so wall-clock timings are honest.
void synchronize(torch::Device device);
// CUDA: resets the caching allocator's peak counter. CPU: nothing to reset.
void reset_peak_memory(torch::Device device);
// CUDA: peak bytes allocated by LibTorch on the device since the last reset.
// CPU: the process's peak resident set size (it cannot be reset).
uint64_t peak_memory_bytes(torch::Device device);
// CUDA: bytes LibTorch holds allocated on the device now (what a leak would
// grow). CPU: 0, there is no allocator to ask.
uint64_t allocated_memory_bytes(torch::Device device);

} // namespace glq::model
