#include "core/eval/perplexity.h"

#include <chrono>
#include <cmath>

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace glq::eval {
namespace {

// Logits are computed this many positions at a time, so a 128k vocabulary
// never needs a [seqlen, V] fp32 buffer.
constexpr int64_t kLogitChunk = 256;

} // namespace

int64_t effective_seqlen(int64_t requested, const io::ModelConfig& config) {
    if (requested < 2) throw Error("--seqlen", "must be at least 2, got " + std::to_string(requested));
    return std::min(requested, config.max_position_embeddings);
}

int64_t window_count(int64_t total_tokens, int64_t seqlen, int64_t max_windows) {
    const int64_t n = seqlen > 0 ? total_tokens / seqlen : 0;
    return max_windows > 0 ? std::min(n, max_windows) : n;
}

PerplexityResult perplexity(model::Transformer& model, const std::vector<int32_t>& ids,
                            const PerplexityOptions& options) {
    torch::NoGradGuard no_grad;
    const auto start = std::chrono::steady_clock::now();
    PerplexityResult result;
    result.seqlen = effective_seqlen(options.seqlen, model.config());
    result.total_tokens = static_cast<int64_t>(ids.size());
    result.windows = window_count(result.total_tokens, result.seqlen, options.max_windows);
    if (result.windows == 0)
        throw Error("perplexity", "the text has " + std::to_string(result.total_tokens) +
                                      " tokens, fewer than one window of " + std::to_string(result.seqlen));
    const int64_t seqlen = result.seqlen;
    model.reserve_positions(seqlen);
    const torch::Tensor positions = torch::arange(seqlen, torch::TensorOptions().dtype(torch::kInt64).device(model.device()));
    Progress progress{"perplexity", "", 0, result.windows, "windows"};
    if (options.progress) options.progress(progress);

    for (int64_t w = 0; w < result.windows; ++w) {
        if (options.cancel) options.cancel->check();
        const auto begin = ids.begin() + w * seqlen;
        const torch::Tensor window =
            torch::tensor(std::vector<int64_t>(begin, begin + seqlen), torch::kInt64).to(model.device());
        torch::Tensor hidden = model.embed(window.view({1, -1}));
        for (int64_t i = 0; i < model.num_layers(); ++i) hidden = model.decoder_layer(i).forward(hidden, positions);
        hidden = model.final_norm(hidden).select(0, 0);  // [seqlen, C]

        // Position t predicts token t + 1.
        double nll = 0;
        for (int64_t t = 0; t < seqlen - 1; t += kLogitChunk) {
            const int64_t n = std::min(kLogitChunk, seqlen - 1 - t);
            const torch::Tensor logits = model.lm_head(hidden.narrow(0, t, n)).to(torch::kFloat32);
            const torch::Tensor targets = window.narrow(0, t + 1, n);
            nll += torch::nn::functional::cross_entropy(
                       logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                       .item<double>();
        }
        result.nll_sum += nll;
        result.window_nll.push_back(nll / static_cast<double>(seqlen - 1));
        result.tokens_scored += seqlen - 1;
        progress.done = w + 1;
        progress.item = "ppl " + std::to_string(std::exp(result.nll_sum / static_cast<double>(result.tokens_scored)));
        if (options.progress) options.progress(progress);
    }
    result.perplexity = std::exp(result.nll_sum / static_cast<double>(result.tokens_scored));
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
}

PerplexityResult perplexity_of_file(model::Transformer& model, const io::Tokenizer& tokenizer,
                                    const std::filesystem::path& text_file, const PerplexityOptions& options) {
    const std::string text = read_file(text_file);
    if (text.empty()) throw Error(text_file.string(), "is empty");
    const std::vector<int32_t> ids = tokenizer.encode(text, /*add_special_tokens=*/true);
    try {
        return perplexity(model, ids, options);
    } catch (const Error& e) {
        throw Error(text_file.string(), e.problem());
    }
}

} // namespace glq::eval
