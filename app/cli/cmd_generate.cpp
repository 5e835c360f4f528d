// glqw generate: text generation with a model folder, from a prompt or as an
// interactive multi-turn chat on stdin (streamed; /reset, /exit; Ctrl-C stops
// the current answer). Both go through the chat session the workbench's
// Compare view uses (core/session/chat_session.h), so the chat template, the
// tokens that end an answer, the default dtype and the KV-cache reuse of
// earlier turns are the GUI's, not a copy of them.

#include <iomanip>
#include <iostream>
#include <string>

#include "app/cli/command.h"
#include "app/cli/engine_options.h"
#include "app/cli/progress_bar.h"
#include "core/common/error.h"
#include "core/session/chat_session.h"

namespace {

using glq::cli::ArgParser;
using glq::cli::UsageError;

glq::session::SamplingSettings sampling_from(const ArgParser& args, const glq::session::ChatSession& session) {
    // generation_config.json gives the defaults; the flags override.
    glq::session::SamplingSettings s = session.default_sampling();
    if (args.has("temperature")) s.temperature = args.get_double("temperature");
    if (args.has("top-k")) s.top_k = args.get_int("top-k");
    if (args.has("top-p")) s.top_p = args.get_double("top-p");
    if (args.has("min-p")) s.min_p = args.get_double("min-p");
    if (args.has("repeat-penalty")) s.repetition_penalty = args.get_double("repeat-penalty");
    s.seed = static_cast<uint64_t>(args.get_int("seed"));
    s.max_new_tokens = args.get_int("max-tokens");
    s.use_cuda_graph = !args.has("no-cuda-graph");
    s.validate();
    return s;
}

void print_stats(const glq::session::ChatStats& s) {
    std::cerr << std::fixed << std::setprecision(1) << "\n[" << s.prompt_tokens << " prompt tokens ("
              << s.prefilled_tokens << " prefilled) at " << s.prefill_tokens_per_second << " tok/s, first token after "
              << std::setprecision(3) << s.time_to_first_token << " s; " << s.generated_tokens << " tokens at "
              << std::setprecision(1) << s.decode_tokens_per_second << " tok/s" << (s.cuda_graph ? " (CUDA graph)" : "")
              << "; stop: " << s.stop_reason << "; peak memory "
              << glq::cli::format_bytes(static_cast<double>(s.peak_memory_bytes)) << "]\n";
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
    if (args.has("raw") && chat) throw UsageError("--chat needs the chat template; --raw is for --prompt");
    if (args.has("raw") && args.has("system")) throw UsageError("--system needs the chat template; --raw feeds the prompt alone");
    if (args.get_int("max-tokens") < 1) throw UsageError("--max-tokens must be at least 1");

    glq::session::ChatSession session;
    {
        glq::cli::ProgressBar bar;
        session.load(args.get("MODEL"), glq::cli::engine_load_settings(args), bar.callback());  // dense or GLQ
        bar.finish();
    }
    // --raw: the plain template (a message's text as it is), encoded with the
    // tokenizer's special tokens: exactly the prompt with BOS, as HF's tokenizer gives it.
    if (args.has("raw")) session.set_chat_template(glq::session::plain_chat_template(), /*add_special_tokens=*/true);
    const glq::session::SamplingSettings sampling = sampling_from(args, session);
    const auto stream = [](int32_t, const std::string& text) { std::cout << text << std::flush; };

    glq::session::Conversation conversation;
    if (args.has("system")) conversation.system_prompt = args.get("system");

    if (!chat) {
        conversation.messages.push_back({"user", args.get("prompt")});
        glq::cli::InterruptCancel interrupt;
        const glq::session::ChatReply reply = session.generate(conversation, sampling, stream, &interrupt.token());
        std::cout << "\n";
        if (args.has("print-ids")) {
            std::cout << "ids:";
            for (std::size_t i = 0; i < reply.ids.size(); ++i) std::cout << (i ? "," : " ") << reply.ids[i];
            std::cout << "\n";
        }
        if (args.has("stats")) print_stats(reply.stats);
        return 0;
    }

    const glq::session::ModelInfo& info = session.info();
    std::cerr << "chat with " << info.name << " (" << info.model_type << ", " << info.dtype << " on " << info.device
              << "). /reset starts over, /exit quits, Ctrl-C stops an answer.\n";
    std::string line;
    for (;;) {
        std::cout << "\n> " << std::flush;
        if (!std::getline(std::cin, line) || line == "/exit") break;
        if (line == "/reset") {
            conversation.messages.clear();
            session.reset_cache();
            std::cerr << "(conversation cleared)\n";
            continue;
        }
        if (line.empty()) continue;
        conversation.messages.push_back({"user", line});
        glq::cli::InterruptCancel interrupt;
        const glq::session::ChatReply reply = session.generate(conversation, sampling, stream, &interrupt.token());
        std::cout << "\n";
        conversation.messages.push_back({"assistant", reply.text});
        if (reply.cancelled()) std::cerr << "(stopped)\n";
        if (args.has("stats")) print_stats(reply.stats);
    }
    return 0;
}

} // namespace

GLQW_COMMAND("generate", "Generate text from a prompt, or chat interactively", run_generate);
