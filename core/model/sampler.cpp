#include "core/model/sampler.h"

#include <cmath>
#include <limits>

#include <ATen/CPUGeneratorImpl.h>

#include "core/common/error.h"

namespace glq::model {
namespace {

constexpr float kRemoved = -std::numeric_limits<float>::infinity();

} // namespace

SamplingParams SamplingParams::from_generation_config(const io::GenerationConfig& g) {
    SamplingParams s;
    if (g.do_sample) {
        s.temperature = g.temperature;
        s.top_k = g.top_k;
        s.top_p = g.top_p;
        s.min_p = g.min_p;
    }
    s.repetition_penalty = g.repetition_penalty;
    return s;
}

void SamplingParams::validate() const {
    if (!std::isfinite(temperature) || temperature < 0)
        throw Error("sampling", "temperature must be >= 0 (0 = greedy), got " + std::to_string(temperature));
    if (top_k < 0) throw Error("sampling", "top-k must be >= 0 (0 = off), got " + std::to_string(top_k));
    if (!(top_p > 0 && top_p <= 1)) throw Error("sampling", "top-p must be in (0, 1], got " + std::to_string(top_p));
    if (!(min_p >= 0 && min_p < 1)) throw Error("sampling", "min-p must be in [0, 1), got " + std::to_string(min_p));
    if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty))
        throw Error("sampling", "repetition penalty must be > 0 (1 = off), got " + std::to_string(repetition_penalty));
}

torch::Tensor apply_repetition_penalty(const torch::Tensor& logits, const std::vector<int32_t>& history,
                                       double penalty) {
    if (penalty == 1.0 || history.empty()) return logits;
    // HF: gather the seen tokens' scores, divide positive / multiply negative, scatter back.
    const torch::Tensor ids = torch::tensor(std::vector<int64_t>(history.begin(), history.end()), torch::kInt64)
                                  .clamp(0, logits.size(0) - 1);
    const torch::Tensor score = logits.gather(0, ids);
    const torch::Tensor penalised = torch::where(score < 0, score * penalty, score / penalty);
    return logits.scatter(0, ids, penalised);
}

torch::Tensor apply_top_k(const torch::Tensor& logits, int64_t k) {
    if (k <= 0 || k >= logits.size(0)) return logits;
    const torch::Tensor kth = std::get<0>(logits.topk(k)).select(0, k - 1);
    return logits.masked_fill(logits < kth, kRemoved);
}

torch::Tensor apply_top_p(const torch::Tensor& logits, double p) {
    if (p >= 1.0) return logits;
    // HF: ascending sort; drop tokens whose cumulative probability is <= 1 - p,
    // always keeping the most likely one.
    const auto [sorted, order] = logits.sort(/*dim=*/0, /*descending=*/false);
    const torch::Tensor cumulative = sorted.softmax(0).cumsum(0);
    torch::Tensor remove_sorted = cumulative <= (1.0 - p);
    remove_sorted.index_put_({-1}, false);
    const torch::Tensor remove = remove_sorted.scatter(0, order, remove_sorted);
    return logits.masked_fill(remove, kRemoved);
}

torch::Tensor apply_min_p(const torch::Tensor& logits, double min_p) {
    if (min_p <= 0.0) return logits;
    // HF: drop tokens whose probability is below min_p x the top probability.
    const torch::Tensor probs = logits.softmax(0);
    torch::Tensor remove = probs < probs.max() * min_p;
    // The top token stays even if rounding says otherwise.
    remove.index_put_({logits.argmax()}, false);
    return logits.masked_fill(remove, kRemoved);
}

Sampler::Sampler(const SamplingParams& params)
    : params_(params), generator_(at::make_generator<at::CPUGeneratorImpl>(params.seed)) {
    params_.validate();
}

torch::Tensor Sampler::process(const torch::Tensor& logits, const std::vector<int32_t>& history) const {
    torch::Tensor x = logits.detach().reshape({-1}).to(torch::kCPU, torch::kFloat32);
    x = apply_repetition_penalty(x, history, params_.repetition_penalty);
    if (params_.greedy()) return x;
    x = x / params_.temperature;
    x = apply_top_k(x, params_.top_k);
    x = apply_top_p(x, params_.top_p);
    return apply_min_p(x, params_.min_p);
}

int32_t Sampler::sample(const torch::Tensor& logits, const std::vector<int32_t>& history) {
    torch::NoGradGuard no_grad;
    // Greedy without a penalty: argmax where the logits are (no copy of the vocabulary to the host).
    if (params_.greedy() && params_.repetition_penalty == 1.0)
        return static_cast<int32_t>(logits.reshape({-1}).argmax().item<int64_t>());
    const torch::Tensor x = process(logits, history);
    if (params_.greedy()) return static_cast<int32_t>(x.argmax().item<int64_t>());
    const torch::Tensor probs = x.softmax(0);
    return static_cast<int32_t>(
        torch::multinomial(probs, 1, /*replacement=*/false, generator_).item<int64_t>());
}

} // namespace glq::model
