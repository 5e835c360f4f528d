#include "core/model/decode_step.h"

#include <cstdlib>

#include "core/common/error.h"

#ifdef GLQ_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace glq::model {

#ifdef GLQ_WITH_CUDA
struct DecodeStep::Graph {
    at::cuda::CUDAGraph graph;
    torch::Tensor ids;        // [B, 1] int64, static input
    torch::Tensor positions;  // [1] int64, static input
    torch::Tensor logits;     // [B, V], static output
};
#else
struct DecodeStep::Graph {};
#endif

DecodeStep::DecodeStep(Transformer& model, KVCache& cache, bool use_cuda_graph)
    : model_(model), cache_(cache), revision_(model.revision()) {
    const char* off = std::getenv("GLQ_NO_CUDA_GRAPH");
    const bool disabled = off && *off && std::string(off) != "0";
#ifdef GLQ_WITH_CUDA
    want_graph_ = use_cuda_graph && model.device().is_cuda() && !disabled;
    if (use_cuda_graph && model.device().is_cuda() && disabled) fallback_reason_ = "GLQ_NO_CUDA_GRAPH is set";
#else
    (void)use_cuda_graph;
    (void)disabled;
#endif
}

DecodeStep::~DecodeStep() = default;

bool DecodeStep::graphed() const { return graph_ != nullptr; }

void DecodeStep::capture(const torch::Tensor& ids, int64_t position) {
#ifdef GLQ_WITH_CUDA
    torch::NoGradGuard no_grad;
    const torch::Device device = model_.device();
    c10::cuda::CUDAGuard device_guard(device);
    // Everything the graph reads must exist before capture: the RoPE table up
    // to the cache's capacity, the static inputs and the cache itself.
    model_.reserve_positions(cache_.capacity());
    auto graph = std::make_unique<Graph>();
    const auto long_options = torch::TensorOptions().dtype(torch::kInt64).device(device);
    graph->ids = ids.reshape({cache_.batch(), 1}).to(long_options).clone();
    graph->positions = torch::full({1}, position, long_options);
    torch::cuda::synchronize(device.index());

    // Capture on a side stream (capturing the legacy default stream is not
    // allowed). Two eager runs first, so lazy initialisation (cuBLAS handles
    // and workspaces, attention kernel choice) happens outside the capture.
    // They write slot `position`, which the replay overwrites with the same values.
    c10::cuda::CUDAStream stream = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
    {
        c10::cuda::CUDAStreamGuard stream_guard(stream);
        for (int i = 0; i < 2; ++i) model_.decode_static(graph->ids, graph->positions, cache_);
        stream.synchronize();
        graph->graph.capture_begin();
        graph->logits = model_.decode_static(graph->ids, graph->positions, cache_);
        graph->graph.capture_end();
    }
    stream.synchronize();
    graph_ = std::move(graph);
#else
    (void)ids;
    (void)position;
#endif
}

torch::Tensor DecodeStep::run(const torch::Tensor& ids, int64_t position) {
    if (position != cache_.length)
        throw Error("decode step", "position " + std::to_string(position) + " is not the cache's next slot (" +
                                       std::to_string(cache_.length) + ")");
    if (position >= cache_.capacity())
        throw Error("decode step", "the KV cache is full (" + std::to_string(cache_.capacity()) + " positions)");
    if (model_.revision() != revision_)
        throw Error("decode step", "the model's linear layers changed after this step was built; make a new one");
    const int64_t batch = cache_.batch();
#ifdef GLQ_WITH_CUDA
    if (want_graph_ && !graph_) {
        try {
            capture(ids, position);
        } catch (const c10::Error& e) {
            // Some replacement LinearOp may not be capturable: run eagerly
            // rather than fail, and say why.
            want_graph_ = false;
            fallback_reason_ = std::string("CUDA graph capture failed: ") + e.what_without_backtrace();
        }
    }
    if (graph_) {
        graph_->ids.copy_(ids.reshape({batch, 1}), /*non_blocking=*/true);
        graph_->positions.fill_(position);
        graph_->graph.replay();
        cache_.length = position + 1;
        return graph_->logits;
    }
#endif
    return model_.forward(ids.reshape({batch, 1}), &cache_, position, /*last_only=*/true).squeeze(1);
}

} // namespace glq::model
