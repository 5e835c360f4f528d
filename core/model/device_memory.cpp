#include "core/model/device_memory.h"

#include <sys/resource.h>

#ifdef GLQ_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace glq::model {

void synchronize(torch::Device device) {
#ifdef GLQ_WITH_CUDA
    if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
#else
    (void)device;
#endif
}

void reset_peak_memory(torch::Device device) {
#ifdef GLQ_WITH_CUDA
    if (device.is_cuda())
        c10::cuda::CUDACachingAllocator::resetPeakStats(device.has_index() ? device.index() : 0);
#else
    (void)device;
#endif
}

#ifdef GLQ_WITH_CUDA
namespace {
c10::CachingAllocator::Stat allocated_stat(torch::Device device) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.has_index() ? device.index() : 0);
    return stats.allocated_bytes[static_cast<std::size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
}
} // namespace
#endif

uint64_t peak_memory_bytes(torch::Device device) {
#ifdef GLQ_WITH_CUDA
    if (device.is_cuda()) return static_cast<uint64_t>(allocated_stat(device).peak);
#endif
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<uint64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

uint64_t allocated_memory_bytes(torch::Device device) {
#ifdef GLQ_WITH_CUDA
    if (device.is_cuda()) return static_cast<uint64_t>(allocated_stat(device).current);
#else
    (void)device;
#endif
    return 0;
}

} // namespace glq::model
