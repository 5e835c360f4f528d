#pragma once
// The device's read bandwidth as a ceiling for the benchmarks: a read-only
// reduction (each thread XORs 16-byte loads of a grid-stride sweep, one word
// per block written) over a buffer much larger than L2. A graph-captured
// `copy_` takes the memcpy path and under-reads, so it is not used.

#include <cstdint>

namespace glq::kernels::cuda {
#ifdef GLQ_WITH_CUDA
// Median bytes per second of `repeats` sweeps over `bytes` (rounded to 16) on
// the current device.
double measure_read_bandwidth(int64_t bytes, int repeats);
#endif
} // namespace glq::kernels::cuda
