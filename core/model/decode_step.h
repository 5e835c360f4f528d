#pragma once
// One decode step (one new token per sequence) of a Transformer with a
// KVCache. On CUDA the step is captured once in a CUDA graph
// (Transformer::decode_static with static id/position buffers) and replayed
// per token: no per-step allocation, no host synchronisation, one launch
// instead of hundreds. On the CPU, or when capture is off or fails, it runs
// eagerly through Transformer::forward. The cache must outlive the step;
// when the cache is reallocated or the model's linears are replaced, make a
// new DecodeStep (the graph holds their addresses).

#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "core/model/kv_cache.h"
#include "core/model/transformer.h"

namespace glq::model {

class DecodeStep {
public:
    // use_cuda_graph is ignored on the CPU. The environment variable
    // GLQ_NO_CUDA_GRAPH=1 turns capture off (for debugging).
    DecodeStep(Transformer& model, KVCache& cache, bool use_cuda_graph = true);
    ~DecodeStep();
    DecodeStep(const DecodeStep&) = delete;
    DecodeStep& operator=(const DecodeStep&) = delete;

    // ids [B] int64 (any device), written at slot `position`, which must be
    // cache.length (the next free slot) and below its capacity. Returns the
    // logits [B, V] in the model dtype; with a graph they live in a static
    // buffer that the next call overwrites. cache.length becomes position + 1.
    torch::Tensor run(const torch::Tensor& ids, int64_t position);

    // True once the step runs from a CUDA graph.
    bool graphed() const;
    // Why a requested graph was not used (empty when it is, or on the CPU).
    const std::string& fallback_reason() const { return fallback_reason_; }
    // The model revision the step was built for (see Transformer::revision).
    uint64_t model_revision() const { return revision_; }

private:
    struct Graph;
    void capture(const torch::Tensor& ids, int64_t position);

    Transformer& model_;
    KVCache& cache_;
    bool want_graph_ = false;
    uint64_t revision_ = 0;
    std::unique_ptr<Graph> graph_;
    std::string fallback_reason_;
};

} // namespace glq::model
