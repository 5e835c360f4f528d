#pragma once
// Perplexity on held-out text, the protocol of the field (and of the glq
// reference's eval_ppl.py): the file read as one string and tokenized once
// (special tokens as the tokenizer adds them, so at most one BOS at the very
// start), split into non-overlapping windows of `seqlen` tokens (stride =
// seqlen; a short tail is dropped), batch 1, no cache. Every token after the
// first of each window is scored; ppl = exp(sum of NLL / tokens scored),
// i.e. token-weighted.

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/common/progress.h"
#include "core/io/tokenizer.h"
#include "core/model/transformer.h"

namespace glq::eval {

struct PerplexityOptions {
    int64_t seqlen = 2048;        // capped at the model's max_position_embeddings
    int64_t max_windows = 0;      // 0 = all
    ProgressFn progress;          // stage "perplexity", unit "windows"
    const CancelToken* cancel = nullptr;  // throws glq::Cancelled between windows
};

struct PerplexityResult {
    double perplexity = 0;
    double nll_sum = 0;           // natural log
    int64_t tokens_scored = 0;    // windows x (seqlen - 1)
    int64_t windows = 0;
    int64_t seqlen = 0;           // the window length used
    int64_t total_tokens = 0;     // of the whole text
    double seconds = 0;
    std::vector<double> window_nll;  // mean NLL of each window
};

// The window length used for a requested one: min(requested, context).
// Throws glq::Error for a length below 2.
int64_t effective_seqlen(int64_t requested, const io::ModelConfig& config);

// The number of windows a text of `total_tokens` gives.
int64_t window_count(int64_t total_tokens, int64_t seqlen, int64_t max_windows);

// On token ids. Throws glq::Error when the text is shorter than one window.
PerplexityResult perplexity(model::Transformer& model, const std::vector<int32_t>& ids,
                            const PerplexityOptions& options = {});
// On a text file (UTF-8). Throws glq::Error naming the file when it cannot be read.
PerplexityResult perplexity_of_file(model::Transformer& model, const io::Tokenizer& tokenizer,
                                    const std::filesystem::path& text_file, const PerplexityOptions& options = {});

} // namespace glq::eval
