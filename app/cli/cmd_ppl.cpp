// glqw ppl: perplexity of a model folder (dense or GLQ checkpoint) on a text
// file (the field's protocol, see core/eval/perplexity.h), with a progress
// bar; Ctrl-C cancels. --logits-out also writes the first window's float32
// logits, for cross-checks against other implementations
// (tests/python/test_glq_interop.py compares them with the reference's).

#include <algorithm>
#include <iomanip>
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/engine_options.h"
#include "app/cli/progress_bar.h"
#include "core/format/glq_model_loader.h"
#include "core/common/atomic_file.h"
#include "core/eval/perplexity.h"
#include "core/io/model_dir.h"
#include "core/io/safetensors.h"
#include "core/io/tokenizer.h"
#include "core/model/dtype.h"
#include "core/model/transformer.h"

namespace {

int run_ppl(int argc, char** argv) {
    glq::cli::ArgParser args("ppl", "Perplexity of a model on a text file: non-overlapping windows, token-weighted.");
    args.positional("MODEL", "HF model folder or GLQ checkpoint folder")
        .option("text", "FILE", "UTF-8 text, read as one string (e.g. wiki.test.raw)")
        .option("seqlen", "L", "window length in tokens (capped at the model's context)", "2048")
        .option("max-windows", "N", "score only the first N windows (0 = all)", "0")
        .option("logits-out", "FILE",
                "also write the first window's float32 logits [T, V] (safetensors, tensor 'logits')");
    glq::cli::add_engine_options(args);
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("text")) throw glq::cli::UsageError("--text FILE is required");
    const int64_t max_windows = args.get_int("max-windows");
    if (max_windows < 0) throw glq::cli::UsageError("--max-windows must not be negative");

    const glq::io::ModelDir dir = glq::io::ModelDir::open(args.get("MODEL"));
    glq::model::LoadOptions load = glq::cli::engine_load_options(args);
    const glq::io::Tokenizer tokenizer = glq::io::Tokenizer::load(dir.tokenizer_path());
    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    load.progress = bar.callback();
    load.cancel = &interrupt.token();
    auto model = glq::format::load_any_model(args.get("MODEL"), load);  // dense or GLQ checkpoint

    glq::eval::PerplexityOptions options;
    options.seqlen = args.get_int("seqlen");
    options.max_windows = max_windows;
    options.progress = bar.callback();
    options.cancel = &interrupt.token();
    const auto r = glq::eval::perplexity_of_file(*model, tokenizer, args.get("text"), options);
    bar.finish();
    if (args.has("logits-out")) {
        // The first window again, as perplexity() scored it: the same tokens
        // (text tokenized once) and the same window length.
        const std::vector<int32_t> ids = tokenizer.encode(glq::read_file(args.get("text")), true);
        torch::Tensor window = torch::empty({1, r.seqlen}, torch::kInt64);
        std::copy(ids.begin(), ids.begin() + r.seqlen, window.data_ptr<int64_t>());
        const torch::Tensor logits = model->forward(window.to(load.device))[0].to(torch::kCPU, torch::kFloat32).contiguous();
        glq::io::write_safetensors(
            args.get("logits-out"),
            std::vector<glq::io::TensorRef>{{"logits", glq::io::DType::F32, logits.sizes().vec(),
                                             {reinterpret_cast<const std::byte*>(logits.data_ptr()), logits.nbytes()}}});
    }
    std::cout << std::fixed << std::setprecision(4) << "perplexity " << r.perplexity << "\n"
              << "tokens scored " << r.tokens_scored << " (" << r.windows << " windows of " << r.seqlen
              << "; text has " << r.total_tokens << " tokens)\n"
              << std::setprecision(1) << "time " << r.seconds << " s ("
              << glq::model::dtype_short_name(load.dtype) << " on " << load.device.str() << ")\n";
    return 0;
}

} // namespace

GLQW_COMMAND("ppl", "Perplexity of a model on a text file", run_ppl);
