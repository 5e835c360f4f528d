#include "core/model/generator.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "core/common/error.h"
#include "core/model/device_memory.h"
#include "core/model/stop_strings.h"

namespace glq::model {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Cache sizes grow in steps, so a chat's next turn rarely reallocates.
constexpr int64_t kCapacityStep = 256;

} // namespace

const char* stop_reason_name(StopReason reason) {
    switch (reason) {
    case StopReason::Eos: return "eos";
    case StopReason::StopString: return "stop string";
    case StopReason::MaxTokens: return "max tokens";
    case StopReason::ContextFull: return "context full";
    case StopReason::Cancelled: return "cancelled";
    }
    return "unknown";
}

std::vector<int32_t> eos_ids_of(const io::ModelConfig& config, const io::GenerationConfig& generation) {
    std::vector<int32_t> ids;
    for (const auto* list : {&config.eos_token_ids, &generation.eos_token_ids})
        for (int64_t id : *list)
            if (std::find(ids.begin(), ids.end(), static_cast<int32_t>(id)) == ids.end())
                ids.push_back(static_cast<int32_t>(id));
    return ids;
}

Generator::Generator(Transformer& model, const io::Tokenizer* tokenizer) : model_(model), tokenizer_(tokenizer) {}

Generator::~Generator() = default;

void Generator::reset() { cached_ids_.clear(); }

std::string Generator::cuda_graph_fallback_reason() const { return step_ ? step_->fallback_reason() : std::string(); }

void Generator::ensure_capacity(int64_t positions, bool use_cuda_graph) {
    const int64_t context = model_.config().max_position_embeddings;
    if (cache_.capacity() < positions) {
        const int64_t rounded = (positions + kCapacityStep - 1) / kCapacityStep * kCapacityStep;
        step_.reset();
        cache_ = model_.new_cache(1, std::max(positions, std::min(rounded, context)));
        cached_ids_.clear();
    }
    if (!step_ || step_uses_graph_ != use_cuda_graph || step_->model_revision() != model_.revision()) {
        step_ = std::make_unique<DecodeStep>(model_, cache_, use_cuda_graph);
        step_uses_graph_ = use_cuda_graph;
    }
    if (step_->model_revision() != model_.revision()) cached_ids_.clear();
}

GenerationResult Generator::generate(const std::vector<int32_t>& prompt, const GenerationParams& params,
                                     const TokenCallback& on_token, const CancelToken* cancel) {
    torch::NoGradGuard no_grad;
    params.sampling.validate();
    if (prompt.empty()) throw Error("prompt", "is empty (at least one token is needed)");
    if (params.max_new_tokens < 0) throw Error("max tokens", "must not be negative");
    if (!params.stop_strings.empty() && !tokenizer_)
        throw Error("stop strings", "need a tokenizer to see the generated text");
    const int64_t vocab = model_.config().vocab_size;
    for (int32_t id : prompt)
        if (id < 0 || id >= vocab)
            throw Error("prompt", "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                      std::to_string(vocab - 1) + ")");
    const int64_t context = model_.config().max_position_embeddings;
    const int64_t prompt_len = static_cast<int64_t>(prompt.size());
    if (prompt_len >= context)
        throw Error("prompt", "has " + std::to_string(prompt_len) + " tokens; the model's context is " +
                                  std::to_string(context) + ", leaving no room to generate");

    const torch::Device device = model_.device();
    const auto start_time = Clock::now();
    reset_peak_memory(device);
    GenerationResult result;
    GenerationStats& stats = result.stats;
    stats.prompt_tokens = prompt_len;

    const int64_t positions = std::min(prompt_len + params.max_new_tokens, context);
    ensure_capacity(positions, params.use_cuda_graph);

    // Reuse the cached prefix; at least the last prompt token is fed again for its logits.
    int64_t reuse = 0;
    while (reuse < static_cast<int64_t>(cached_ids_.size()) && reuse < prompt_len &&
           cached_ids_[static_cast<std::size_t>(reuse)] == prompt[static_cast<std::size_t>(reuse)])
        ++reuse;
    reuse = std::min(reuse, prompt_len - 1);
    cached_ids_.assign(prompt.begin(), prompt.begin() + reuse);

    std::vector<int32_t> history(prompt.begin(), prompt.end());
    Sampler sampler(params.sampling);
    std::optional<io::Tokenizer::StreamDecoder> decoder;
    if (tokenizer_) decoder.emplace(*tokenizer_, /*skip_special_tokens=*/true);
    StopStringFilter stops(params.stop_strings);

    if (params.max_new_tokens == 0) return result;

    // Prefill.
    const std::vector<int64_t> fresh(prompt.begin() + reuse, prompt.end());
    const torch::Tensor prompt_ids = torch::tensor(fresh, torch::kInt64).view({1, -1}).to(device);
    torch::Tensor logits = model_.forward(prompt_ids, &cache_, reuse, /*last_only=*/true).select(1, 0);
    cached_ids_.insert(cached_ids_.end(), prompt.begin() + reuse, prompt.end());
    synchronize(device);
    stats.prefilled_tokens = prompt_len - reuse;
    stats.prefill_seconds = seconds_since(start_time);
    stats.prefill_tokens_per_second = stats.prefill_seconds > 0 ? stats.prefilled_tokens / stats.prefill_seconds : 0;

    Clock::time_point first_token_time;
    int64_t decode_steps = 0;
    for (;;) {
        const int32_t id = sampler.sample(logits.select(0, 0), history);
        if (result.ids.empty()) {
            first_token_time = Clock::now();
            stats.time_to_first_token = std::chrono::duration<double>(first_token_time - start_time).count();
        }
        result.ids.push_back(id);
        history.push_back(id);
        if (std::find(params.eos_ids.begin(), params.eos_ids.end(), id) != params.eos_ids.end()) {
            result.stop = StopReason::Eos;
            if (on_token) on_token(id, {});
            break;
        }
        std::string shown;
        if (decoder) shown = stops.push(decoder->push(id));
        if (on_token) on_token(id, shown);
        if (stops.stopped()) {
            result.stop = StopReason::StopString;
            break;
        }
        if (static_cast<int64_t>(result.ids.size()) >= params.max_new_tokens) {
            result.stop = StopReason::MaxTokens;
            break;
        }
        const int64_t position = cache_.length;
        if (position >= context) {
            result.stop = StopReason::ContextFull;
            break;
        }
        if (cancel && cancel->cancelled()) {
            result.stop = StopReason::Cancelled;
            break;
        }
        const torch::Tensor next = torch::full({1}, static_cast<int64_t>(id), torch::kInt64);
        logits = step_->run(next, position);
        cached_ids_.push_back(id);
        ++decode_steps;
    }
    if (decoder && !stops.stopped()) {
        const std::string tail = stops.push(decoder->flush()) + (stops.stopped() ? "" : stops.flush());
        if (!tail.empty() && on_token) on_token(-1, tail);
    }
    result.text = stops.text();

    stats.generated_tokens = static_cast<int64_t>(result.ids.size());
    stats.decode_seconds = result.ids.empty() ? 0 : seconds_since(first_token_time);
    stats.decode_tokens_per_second = stats.decode_seconds > 0 ? decode_steps / stats.decode_seconds : 0;
    stats.peak_memory_bytes = peak_memory_bytes(device);
    stats.cuda_graph = step_ && step_->graphed();
    return result;
}

} // namespace glq::model
