#pragma once
// Text generation with a KV cache: prefill the prompt, then one DecodeStep per
// token (a CUDA graph replay on CUDA), a Sampler for the next id, streaming
// text through the tokenizer's StreamDecoder, and stops on eos ids, stop
// strings, the token budget, the model's context or a CancelToken.
//
// A Generator keeps its cache between calls: a prompt that extends the ids
// already in the cache (the next turn of a chat) prefills only the new part.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "core/common/progress.h"
#include "core/io/generation_config.h"
#include "core/io/hf_config.h"
#include "core/io/tokenizer.h"
#include "core/model/decode_step.h"
#include "core/model/kv_cache.h"
#include "core/model/sampler.h"
#include "core/model/transformer.h"

namespace glq::model {

struct GenerationParams {
    int64_t max_new_tokens = 256;
    SamplingParams sampling;
    std::vector<int32_t> eos_ids;            // stop at any; the eos id ends `ids` but not `text`
    std::vector<std::string> stop_strings;   // stop when the text contains one; cut from `text`
    bool use_cuda_graph = true;
};

enum class StopReason { Eos, StopString, MaxTokens, ContextFull, Cancelled };
const char* stop_reason_name(StopReason reason);  // "eos", "stop string", ...

struct GenerationStats {
    int64_t prompt_tokens = 0;      // the whole prompt
    int64_t prefilled_tokens = 0;   // of those, the ones not already in the cache
    int64_t generated_tokens = 0;
    double prefill_seconds = 0;
    double prefill_tokens_per_second = 0;
    double time_to_first_token = 0; // seconds from the call to the first sampled id
    double decode_seconds = 0;      // from the first sampled id to the last
    double decode_tokens_per_second = 0;  // decode steps / decode_seconds
    uint64_t peak_memory_bytes = 0; // see device_memory.h
    bool cuda_graph = false;        // the decode steps replayed a CUDA graph
};

struct GenerationResult {
    std::vector<int32_t> ids;       // generated ids (not the prompt)
    std::string text;               // their text (empty without a tokenizer)
    StopReason stop = StopReason::MaxTokens;
    GenerationStats stats;
};

// Called once per generated id with the text that became showable (may be
// empty: held back by the stream decoder or a possible stop string); at the
// end, once more with id -1 and any text that was still held back.
using TokenCallback = std::function<void(int32_t id, const std::string& text)>;

// The eos ids of a model: config.json's and generation_config.json's, merged.
std::vector<int32_t> eos_ids_of(const io::ModelConfig& config, const io::GenerationConfig& generation);

class Generator {
public:
    // tokenizer may be null: then there is no text and stop strings are not allowed.
    Generator(Transformer& model, const io::Tokenizer* tokenizer);
    ~Generator();

    GenerationResult generate(const std::vector<int32_t>& prompt, const GenerationParams& params,
                              const TokenCallback& on_token = {}, const CancelToken* cancel = nullptr);
    // Forgets the cached ids (the next call prefills from scratch).
    void reset();
    // The ids whose keys and values are in the cache.
    const std::vector<int32_t>& cached_ids() const { return cached_ids_; }
    // Why decode ran eagerly on CUDA (empty otherwise).
    std::string cuda_graph_fallback_reason() const;

private:
    void ensure_capacity(int64_t positions, bool use_cuda_graph);

    Transformer& model_;
    const io::Tokenizer* tokenizer_;
    KVCache cache_;
    std::unique_ptr<DecodeStep> step_;
    bool step_uses_graph_ = false;
    std::vector<int32_t> cached_ids_;
};

} // namespace glq::model
