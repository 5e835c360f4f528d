#pragma once
// ChatSession: the inference engine behind one torch-free door, for the
// workbench's Compare & chat view (ui/ must not include a LibTorch header:
// Qt's `signals`/`slots` macros break them). Plain std types + pimpl.
//
//   glq::session::ChatSession s;
//   auto need = glq::session::estimate_load_memory(dir, "cuda", "bf16", 4096);
//   s.load(dir, {"cuda", "bf16"}, report, cancel);          // HF folder or GLQ checkpoint
//   glq::session::Conversation c{"You are terse.", {{"user", "Hi"}}};
//   auto reply = s.generate(c, sampling, on_text, &cancel);  // streamed
//   c.messages.push_back({"assistant", reply.text});
//
// Threading: one session is driven from one thread at a time (the Worker
// running its job); nothing here locks. Loading, generating and perplexity
// are long and honour a glq::CancelToken; every user-facing failure is a
// glq::Error naming the file or setting and the problem.
//
// Chat template: the model's own (tokenizer_config.json's chat_template),
// rendered exactly as transformers' apply_chat_template; the rendered text
// carries its own special tokens, so it is encoded without adding any. A
// model without a template (a base model such as stories260K) gets a plain
// one that joins the message contents with newlines, encoded with the
// tokenizer's special tokens (BOS), which is what `glqw generate --raw`
// feeds. The user may replace either with their own (set_chat_template).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/io/chat_template.h"
#include "core/io/memory_estimate.h"

namespace glq::session {

// Where and in what precision a model runs. device: "cpu", "cuda", "cuda:N".
// dtype: "f32", "bf16", "f16", or "auto": the default dtype, f32 on the CPU
// and bf16 on CUDA (resolve_dtype below, the one rule; glqw's --dtype default
// is this too).
struct LoadSettings {
    std::string device = "cpu";
    std::string dtype = "auto";
};

// The resolved dtype name ("f32", "bf16", "f16") for a device: `dtype`
// itself, or for "auto" or "" the default (f32 on the CPU, bf16 on CUDA).
// Throws glq::Error("dtype", ...) for an unknown name.
std::string resolve_dtype(const std::string& device, const std::string& dtype);

// What a model will occupy on its device once loaded, computed from
// config.json and the safetensors headers only (nothing is loaded). A GLQ
// checkpoint's quantized linears stay compressed (their stored bytes); the
// other weights count in the compute dtype.
using MemoryEstimate = io::MemoryEstimate;
// `context` <= 0 means the model's whole context. Throws glq::Error naming
// the folder/file when it is not a readable model folder.
MemoryEstimate estimate_load_memory(const std::filesystem::path& model_dir, const std::string& device,
                                    const std::string& dtype, int64_t context = 0);

// What is known about the model once loaded.
struct ModelInfo {
    std::filesystem::path path;
    std::string name;              // the folder's name
    std::string model_type;        // "llama", "qwen2", ...
    std::string device;            // as loaded, e.g. "cpu", "cuda:0"
    std::string dtype;             // "f32", "bf16", "f16"
    int64_t parameters = 0;        // of the dense model (config.json)
    int64_t context_length = 0;    // max_position_embeddings
    int64_t vocab_size = 0;
    bool quantized = false;        // a GLQ checkpoint
    std::optional<double> bpw;     // its average bits per weight, when the config says
    uint64_t weight_bytes = 0;     // the weights resident on the device (decoded GLQ weights included)
    uint64_t checkpoint_bytes = 0; // the weights as stored (GLQ: indices, signs, scales)
    double load_seconds = 0;
};

// A chat: the system prompt (empty: none) and the turns so far.
struct Conversation {
    std::string system_prompt;
    std::vector<io::ChatMessage> messages;  // user / assistant, in order
    // system prompt first (when set), then the messages.
    std::vector<io::ChatMessage> all_messages() const;
};

// Sampling as transformers applies it (see core/model/sampler.h).
struct SamplingSettings {
    double temperature = 0.0;         // 0 = greedy
    int64_t top_k = 0;                // 0 = off
    double top_p = 1.0;               // (0, 1]; 1 = off
    double min_p = 0.0;               // [0, 1); 0 = off
    double repetition_penalty = 1.0;  // > 0; 1 = off
    uint64_t seed = 0;
    int64_t max_new_tokens = 256;     // >= 1
    bool use_cuda_graph = true;       // on CUDA, decode through a captured graph (off: eagerly)
    // Throws glq::Error("sampling"/"max tokens", ...) naming the bad setting.
    void validate() const;
};

// The template in use and how its output is encoded.
struct TemplateInfo {
    std::string source;               // Jinja
    bool from_model = false;          // the model's own (not the plain fallback, not a user override)
    bool overridden = false;          // set by set_chat_template
    bool add_special_tokens = false;  // the tokenizer adds BOS etc. when encoding the rendered text
};

// The plain template used for models that ship none.
const std::string& plain_chat_template();

struct ChatStats {
    int64_t prompt_tokens = 0;        // the whole rendered conversation
    int64_t prefilled_tokens = 0;     // of those, the ones not already in the KV cache (earlier turns are reused)
    int64_t generated_tokens = 0;
    double prefill_seconds = 0;
    double prefill_tokens_per_second = 0;
    double time_to_first_token = 0;   // seconds from the call to the first sampled token
    double decode_seconds = 0;
    double decode_tokens_per_second = 0;
    double total_seconds = 0;
    uint64_t weight_bytes = 0;        // the model's weights on its device
    uint64_t kv_cache_bytes = 0;      // the KV cache as allocated now
    // CUDA: the peak bytes LibTorch allocated on the device during the call
    // (every model on that device counts). CPU: the process's peak resident
    // set size, which cannot be reset (every model in the process counts).
    uint64_t peak_memory_bytes = 0;
    bool peak_is_process_rss = false;
    bool cuda_graph = false;
    std::string stop_reason;          // "eos", "stop string", "max tokens", "context full", "cancelled"
};

struct ChatReply {
    std::string text;                 // the answer (special tokens and a trailing eos left out)
    std::vector<int32_t> ids;         // the generated ids (an eos id included)
    std::vector<int32_t> prompt_ids;  // what was fed: the rendered, encoded conversation
    ChatStats stats;
    bool cancelled() const { return stats.stop_reason == "cancelled"; }
};

// Called on the generating thread once per generated token with the text
// that became showable (may be empty: the stream decoder holds back half a
// UTF-8 character), and once at the end with id -1 and any text still held.
using TextFn = std::function<void(int32_t id, const std::string& text)>;

struct PerplexitySettings {
    int64_t seqlen = 2048;      // window length, capped at the model's context
    int64_t max_windows = 0;    // 0 = every window of the text
};

struct TextPerplexity {
    std::filesystem::path text_file;
    double perplexity = 0;
    int64_t tokens_scored = 0;
    int64_t windows = 0;
    int64_t seqlen = 0;         // the window length used
    int64_t total_tokens = 0;   // of the whole text
    double seconds = 0;
};

class ChatSession {
public:
    ChatSession();
    ~ChatSession();
    ChatSession(const ChatSession&) = delete;
    ChatSession& operator=(const ChatSession&) = delete;

    // Loads a model folder: a plain HF folder or a GLQ checkpoint. Any model
    // loaded before is released first (two models never share the memory
    // only one was meant to take). On failure nothing is loaded. Progress:
    // stage "load", unit "tensors". Throws glq::Error naming the file or
    // setting (unknown device, CUDA missing, bad folder) or glq::Cancelled.
    void load(const std::filesystem::path& model_dir, const LoadSettings& settings,
              const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);
    void unload();
    bool loaded() const;
    // Throws glq::Error("model", "no model is loaded") when none is.
    const ModelInfo& info() const;

    // The model's generation_config.json defaults (greedy unless it samples).
    SamplingSettings default_sampling() const;

    // Chat template (see the top of this file).
    const TemplateInfo& chat_template() const;
    // The model's own template, or plain_chat_template() when it has none.
    std::string model_chat_template() const;
    bool model_has_chat_template() const;
    // Replaces the template until reset_chat_template() or the next load.
    // Throws glq::Error("chat template", "line L: ...") when it does not parse;
    // the template in use stays as it was.
    void set_chat_template(const std::string& source, bool add_special_tokens);
    void reset_chat_template();
    // The text the model will see for `conversation` (with the generation prompt).
    std::string render(const Conversation& conversation) const;
    // The same with a candidate template, without adopting it (the template
    // editor's preview). Throws glq::Error("chat template", ...) like set_chat_template.
    std::string render_with(const std::string& source, const Conversation& conversation) const;
    std::vector<int32_t> encode(const Conversation& conversation) const;

    // Generates the assistant's next answer to `conversation`, streaming its
    // text through `on_text`. The answer ends at any of the model's eos ids:
    // config.json's and generation_config.json's eos_token_id, and
    // tokenizer_config.json's eos_token when the vocabulary has it (chat
    // templates end a turn with it; the one rule for the GUI and glqw). A cancel stops after the current token; the
    // partial answer comes back with stop_reason "cancelled". Earlier turns
    // stay in the KV cache, so a follow-up prefills only the new part.
    ChatReply generate(const Conversation& conversation, const SamplingSettings& sampling,
                       const TextFn& on_text = {}, const CancelToken* cancel = nullptr);
    // Forgets the KV cache (the next answer prefills the whole conversation).
    void reset_cache();

    // Perplexity on a UTF-8 text file: read as one string, tokenized once,
    // non-overlapping windows (as `glqw ppl`). Progress: stage "perplexity",
    // unit "windows". Throws glq::Error naming the file, glq::Cancelled.
    TextPerplexity perplexity(const std::filesystem::path& text_file, const PerplexitySettings& settings,
                                const ProgressFn& progress = {}, const CancelToken* cancel = nullptr);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace glq::session
