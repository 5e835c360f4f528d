// glqw ppl-glq: perplexity of a dense or GLQ model folder on a text file
// (non-overlapping windows, token-weighted NLL over positions 1..T-1 of each
// window, the reference's eval_ppl protocol). Reads GLQ checkpoints through
// quant::load_any_model, which the engine's own commands do not call yet.

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>

#include <torch/torch.h>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/model_dir.h"
#include "core/io/safetensors.h"
#include "core/io/tokenizer.h"
#include "core/model/dtype.h"
#include "core/quant/glq_model_loader.h"

namespace {

int run_ppl_glq(int argc, char** argv) {
    glq::cli::ArgParser args("ppl-glq", "Perplexity of a model folder (dense or GLQ checkpoint) on a text file.");
    args.positional("MODEL", "an HF model folder or a GLQ checkpoint folder")
        .positional("TEXT", "evaluation text (e.g. wiki.test.raw)")
        .option("seqlen", "L", "tokens per window", "512")
        .option("max-windows", "N", "evaluate only the first N windows (0: all)", "0")
        .option("dtype", "f32|bf16|f16", "compute dtype", "f32")
        .option("device", "cpu|cuda", "where to run", "cpu")
        .option("logits-out", "FILE", "also write the first window's float32 logits [T, V] (safetensors, 'logits')");
    if (!args.parse(argc, argv, std::cout)) return 0;
    torch::NoGradGuard no_grad;
    const std::filesystem::path model_dir = args.get("MODEL");
    const int64_t seqlen = args.get_int("seqlen"), max_windows = args.get_int("max-windows");
    if (seqlen < 2) throw glq::cli::UsageError("--seqlen must be at least 2");

    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    glq::model::LoadOptions load;
    load.dtype = glq::model::parse_dtype(args.get("dtype"));
    load.device = glq::model::parse_device(args.get("device"));
    load.progress = bar.callback();
    load.cancel = &interrupt.token();
    auto model = glq::quant::load_any_model(model_dir, load);
    const auto tokenizer = glq::io::Tokenizer::load(model_dir / "tokenizer.json");
    const std::vector<int32_t> tokens = tokenizer.encode(glq::read_file(args.get("TEXT")), true);
    int64_t windows = static_cast<int64_t>(tokens.size()) / seqlen;
    if (windows < 1)
        throw glq::Error(args.get("TEXT"), "has " + std::to_string(tokens.size()) + " tokens, fewer than one window of " +
                                               std::to_string(seqlen));
    if (max_windows > 0) windows = std::min(windows, max_windows);

    const auto start = std::chrono::steady_clock::now();
    double nll = 0.0;
    int64_t counted = 0;
    for (int64_t w = 0; w < windows; ++w) {
        interrupt.token().check();
        torch::Tensor ids = torch::empty({1, seqlen}, torch::kInt64);
        for (int64_t t = 0; t < seqlen; ++t) ids[0][t] = tokens[static_cast<size_t>(w * seqlen + t)];
        const torch::Tensor logits = model->forward(ids.to(load.device)).to(torch::kFloat32)[0];
        const torch::Tensor logp = torch::log_softmax(logits.narrow(0, 0, seqlen - 1), -1);
        const torch::Tensor target = ids[0].narrow(0, 1, seqlen - 1).to(load.device).unsqueeze(1);
        nll -= logp.gather(1, target).sum().item<double>();
        if (w == 0 && args.has("logits-out")) {
            const torch::Tensor l = logits.to(torch::kCPU).contiguous();
            glq::io::write_safetensors(args.get("logits-out"),
                                       std::vector<glq::io::TensorRef>{{"logits", glq::io::DType::F32, l.sizes().vec(),
                                                                        {reinterpret_cast<const std::byte*>(l.data_ptr()),
                                                                         l.nbytes()}}});
        }
        counted += seqlen - 1;
        bar.update(glq::Progress{"ppl", "window " + std::to_string(w + 1), w + 1, windows, "windows"});
    }
    bar.finish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << std::fixed << std::setprecision(4) << "perplexity " << std::exp(nll / static_cast<double>(counted))
              << " over " << windows << " windows of " << seqlen << " tokens (" << counted << " predicted), "
              << std::setprecision(1) << seconds << " s\n";
    return 0;
}

} // namespace

GLQW_COMMAND("ppl-glq", "Perplexity of a dense or GLQ model folder on a text file", run_ppl_glq);
