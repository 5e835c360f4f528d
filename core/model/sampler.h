#pragma once
// Next-token selection with transformers' semantics and order: repetition
// penalty, then temperature, top-k, top-p, min-p, then a draw from the
// softmax with a seeded generator (or argmax when greedy). Every filter keeps
// at least the most likely token, as HF's min_tokens_to_keep = 1.

#include <cstdint>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include "core/io/generation_config.h"

namespace glq::model {

struct SamplingParams {
    double temperature = 0.0;         // 0 = greedy (argmax)
    int64_t top_k = 0;                // 0 = off
    double top_p = 1.0;               // (0, 1]; 1 = off
    double min_p = 0.0;               // [0, 1); 0 = off
    double repetition_penalty = 1.0;  // > 0; 1 = off
    uint64_t seed = 0;

    bool greedy() const { return temperature <= 0.0; }
    // Throws glq::Error("sampling", ...) naming the bad setting.
    void validate() const;
    // The model's generation_config.json decides greedy vs sampling and the
    // knobs' defaults, as transformers' generate does (the knobs count only
    // when it samples).
    static SamplingParams from_generation_config(const io::GenerationConfig& g);
};

class Sampler {
public:
    explicit Sampler(const SamplingParams& params);
    // logits [V] (any dtype, any device); history: the ids the repetition
    // penalty applies to (prompt and generated so far).
    int32_t sample(const torch::Tensor& logits, const std::vector<int32_t>& history);
    // The distribution sample() draws from: fp32 CPU logits after penalty,
    // temperature and the filters (-inf where a token was removed). Greedy
    // params skip temperature and the filters, as HF's greedy search does.
    torch::Tensor process(const torch::Tensor& logits, const std::vector<int32_t>& history) const;
    const SamplingParams& params() const { return params_; }

private:
    SamplingParams params_;
    at::Generator generator_;
};

// The individual processors, exposed for tests; all take and return fp32 [V].
torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const std::vector<int32_t>& history, double penalty);
torch::Tensor apply_top_k(const torch::Tensor& logits, int64_t k);
torch::Tensor apply_top_p(const torch::Tensor& logits, double p);
torch::Tensor apply_min_p(const torch::Tensor& logits, double min_p);

} // namespace glq::model
