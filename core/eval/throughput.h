#pragma once
// Throughput of the engine as a user gets it: the Generator's own prefill
// and decode (KV cache, CUDA graph on CUDA, greedy sampling with a host read
// of each token, as real generation needs). Warm-up runs (graph capture,
// allocator growth, kernel selection) are excluded; timings are taken after
// a device synchronisation; the report is the median of the repeats.

#include <cstdint>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/model/transformer.h"

namespace glq::eval {

struct ThroughputOptions {
    int64_t prompt_tokens = 128;
    int64_t new_tokens = 256;
    int64_t repeats = 5;
    int64_t warmup = 1;
    bool use_cuda_graph = true;
    uint64_t seed = 0;              // of the random prompt ids
    // Also decode `batch` sequences at once (> 1): the same prompt prefilled
    // in every row, then new_tokens steps of the (graph-captured) decode step,
    // greedy on the device. Reported as batched_decode_tokens_per_second.
    int64_t batch = 1;
    ProgressFn progress;            // stage "benchmark", unit "runs"
    const CancelToken* cancel = nullptr;
};

struct ThroughputResult {
    double prefill_tokens_per_second = 0;  // median
    double decode_tokens_per_second = 0;   // median, batch 1
    double time_to_first_token = 0;        // median, seconds
    std::vector<double> prefill_runs, decode_runs;
    int64_t prompt_tokens = 0, new_tokens = 0, repeats = 0;
    uint64_t peak_memory_bytes = 0;
    bool cuda_graph = false;
    int64_t batch = 1;
    double batched_decode_tokens_per_second = 0;  // median, all rows together
    std::vector<double> batched_decode_runs;
    std::string cuda_graph_fallback;       // why not, when asked for on CUDA
};

double median(std::vector<double> values);

// Throws glq::Error for non-positive counts or a prompt + new tokens beyond the context.
ThroughputResult measure_throughput(model::Transformer& model, const ThroughputOptions& options = {});

} // namespace glq::eval
