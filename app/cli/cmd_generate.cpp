// glqw generate: text generation with a model folder, from a prompt or as an
// interactive multi-turn chat on stdin (streamed; /reset, /exit; Ctrl-C stops
// the current answer).

#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>

#include "app/cli/command.h"
#include "app/cli/engine_options.h"
#include "app/cli/progress_bar.h"
#include "core/format/glq_model_loader.h"
#include "core/common/error.h"
#include "core/io/chat_template.h"
#include "core/io/model_dir.h"
#include "core/io/tokenizer.h"
#include "core/model/dtype.h"
#include "core/model/generator.h"
#include "core/model/transformer.h"

namespace {

using glq::cli::ArgParser;
using glq::cli::UsageError;

glq::model::SamplingParams sampling_from(const ArgParser& args, const glq::io::GenerationConfig& defaults) {
    // generation_config.json gives the defaults; the flags override.
    glq::model::SamplingParams s = glq::model::SamplingParams::from_generation_config(defaults);
    if (args.has("temperature")) s.temperature = args.get_double("temperature");
    if (args.has("top-k")) s.top_k = args.get_int("top-k");
    if (args.has("top-p")) s.top_p = args.get_double("top-p");
    if (args.has("min-p")) s.min_p = args.get_double("min-p");
    if (args.has("repeat-penalty")) s.repetition_penalty = args.get_double("repeat-penalty");
    if (args.has("seed")) s.seed = static_cast<uint64_t>(args.get_int("seed"));
    s.validate();
    return s;
}

void print_stats(const glq::model::GenerationResult& r) {
    const auto& s = r.stats;
    std::cerr << std::fixed << std::setprecision(1) << "\n[" << s.prompt_tokens << " prompt tokens ("
              << s.prefilled_tokens << " prefilled) at " << s.prefill_tokens_per_second << " tok/s, first token after "
              << std::setprecision(3) << s.time_to_first_token << " s; " << s.generated_tokens << " tokens at "
              << std::setprecision(1) << s.decode_tokens_per_second << " tok/s"
              << (s.cuda_graph ? " (CUDA graph)" : "") << "; stop: " << glq::model::stop_reason_name(r.stop)
              << "; peak memory " << glq::cli::format_bytes(static_cast<double>(s.peak_memory_bytes)) << "]\n";
}

int run_generate(int argc, char** argv) {
    ArgParser args("generate", "Generate text with a model: one prompt, or an interactive chat (--chat).");
    args.positional("MODEL", "HF model folder")
        .option("prompt", "TEXT", "the prompt (the model's chat template is applied unless --raw)")
        .flag("chat", "interactive multi-turn chat on stdin (/reset starts over, /exit quits, Ctrl-C stops an answer)")
        .option("system", "TEXT", "system message for the chat template")
        .option("max-tokens", "N", "most new tokens per answer", "256")
        .option("temperature", "T", "0 = greedy (default: the model's generation_config.json)")
        .option("top-k", "K", "keep the K most likely tokens (0 = off)")
        .option("top-p", "P", "nucleus sampling threshold (1 = off)")
        .option("min-p", "M", "drop tokens below M x the top probability (0 = off)")
        .option("repeat-penalty", "R", "repetition penalty as transformers applies it (1 = off)")
        .option("seed", "S", "sampling seed", "0")
        .flag("raw", "feed the prompt as plain text (no chat template; BOS as the tokenizer adds it)")
        .flag("stats", "print prompt/prefill/decode speed, time to first token and peak memory to stderr")
        .flag("print-ids", "print the generated token ids on stdout after the text (for tests)")
        .flag("no-cuda-graph", "decode eagerly on CUDA (no graph capture)");
    glq::cli::add_engine_options(args);
    if (!args.parse(argc, argv, std::cout)) return 0;
    const bool chat = args.has("chat");
    if (chat == args.has("prompt")) throw UsageError("give exactly one of --prompt TEXT or --chat");
    if (chat && args.has("raw")) throw UsageError("--chat needs the chat template; --raw is for --prompt");
    const int64_t max_tokens = args.get_int("max-tokens");
    if (max_tokens < 1) throw UsageError("--max-tokens must be at least 1");

    const glq::io::ModelDir dir = glq::io::ModelDir::open(args.get("MODEL"));
    glq::model::LoadOptions load = glq::cli::engine_load_options(args);
    const glq::io::Tokenizer tokenizer = glq::io::Tokenizer::load(dir.tokenizer_path());
    std::optional<glq::io::ChatTemplate> chat_template;
    if (!args.has("raw")) chat_template = glq::io::ChatTemplate::from_tokenizer_config(dir.tokenizer_config_path());

    std::unique_ptr<glq::model::Transformer> model;
    {
        glq::cli::ProgressBar bar;
        load.progress = bar.callback();
        model = glq::format::load_any_model(args.get("MODEL"), load);  // dense or GLQ checkpoint
        bar.finish();
    }
    glq::model::GenerationParams params;
    params.max_new_tokens = max_tokens;
    params.sampling = sampling_from(args, dir.generation());
    params.eos_ids = glq::model::eos_ids_of(dir.config(), dir.generation());
    params.use_cuda_graph = !args.has("no-cuda-graph");
    if (chat_template && !chat_template->eos_token.empty())
        if (auto id = tokenizer.token_to_id(chat_template->eos_token))
            if (std::find(params.eos_ids.begin(), params.eos_ids.end(), *id) == params.eos_ids.end())
                params.eos_ids.push_back(*id);
    glq::model::Generator generator(*model, &tokenizer);
    const auto stream = [](int32_t, const std::string& text) { std::cout << text << std::flush; };

    std::vector<glq::io::ChatMessage> messages;
    if (args.has("system")) messages.push_back({"system", args.get("system")});
    const auto encode_chat = [&] {
        return tokenizer.encode(chat_template->render(messages, /*add_generation_prompt=*/true),
                                /*add_special_tokens=*/false);
    };

    if (!chat) {
        std::vector<int32_t> prompt;
        if (chat_template) {
            messages.push_back({"user", args.get("prompt")});
            prompt = encode_chat();
        } else {
            prompt = tokenizer.encode(args.get("prompt"), /*add_special_tokens=*/true);
        }
        glq::cli::InterruptCancel interrupt;
        const auto result = generator.generate(prompt, params, stream, &interrupt.token());
        std::cout << "\n";
        if (args.has("print-ids")) {
            std::cout << "ids:";
            for (std::size_t i = 0; i < result.ids.size(); ++i) std::cout << (i ? "," : " ") << result.ids[i];
            std::cout << "\n";
        }
        if (args.has("stats")) print_stats(result);
        return 0;
    }

    std::cerr << "chat with " << dir.path().filename().string() << " (" << dir.config().model_type << ", "
              << glq::model::dtype_short_name(load.dtype) << " on " << load.device.str()
              << "). /reset starts over, /exit quits, Ctrl-C stops an answer.\n";
    const std::size_t system_messages = messages.size();
    std::string line;
    for (;;) {
        std::cout << "\n> " << std::flush;
        if (!std::getline(std::cin, line) || line == "/exit") break;
        if (line == "/reset") {
            messages.resize(system_messages);
            generator.reset();
            std::cerr << "(conversation cleared)\n";
            continue;
        }
        if (line.empty()) continue;
        messages.push_back({"user", line});
        glq::cli::InterruptCancel interrupt;
        const auto result = generator.generate(encode_chat(), params, stream, &interrupt.token());
        std::cout << "\n";
        messages.push_back({"assistant", result.text});
        if (result.stop == glq::model::StopReason::Cancelled) std::cerr << "(stopped)\n";
        if (args.has("stats")) print_stats(result);
    }
    return 0;
}

} // namespace

GLQW_COMMAND("generate", "Generate text from a prompt, or chat interactively", run_generate);
