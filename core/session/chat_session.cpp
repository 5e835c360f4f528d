#include "core/session/chat_session.h"

#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#ifdef GLQ_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/eval/perplexity.h"
#include "core/io/json_file.h"
#include "core/io/model_dir.h"
#include "core/io/tokenizer.h"
#include "core/model/dtype.h"
#include "core/model/generator.h"
#include "core/model/transformer.h"
#include "core/format/glq_model_loader.h"

namespace glq::session {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

uint64_t element_size(const std::string& dtype_short) { return dtype_short == "f32" ? 4 : 2; }

// A special token in tokenizer_config.json: a string, or an AddedToken
// object {"content": ...}; absent or null gives "".
std::string special_token(const nlohmann::json& config, const char* key) {
    auto it = config.find(key);
    if (it == config.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
        return (*it)["content"].get<std::string>();
    return {};
}

// The special tokens a template sees, for the plain template and user
// overrides (the model's own template reads them itself).
struct SpecialTokens {
    std::string bos, eos;
    std::vector<std::pair<std::string, std::string>> others;
    bool has_chat_template = false;
};

SpecialTokens read_special_tokens(const fs::path& tokenizer_config) {
    const nlohmann::json config = io::read_json_file(tokenizer_config);
    if (!config.is_object()) throw Error(tokenizer_config.string(), "expected a JSON object");
    SpecialTokens t;
    t.bos = special_token(config, "bos_token");
    t.eos = special_token(config, "eos_token");
    for (const char* key : {"unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
        std::string v = special_token(config, key);
        if (!v.empty()) t.others.emplace_back(key, std::move(v));
    }
    auto it = config.find("chat_template");
    t.has_chat_template = it != config.end() && !it->is_null();
    return t;
}

// The facade's torch-free settings as the engine's sampler parameters.
model::SamplingParams engine_params(const SamplingSettings& s) {
    model::SamplingParams p;
    p.temperature = s.temperature;
    p.top_k = s.top_k;
    p.top_p = s.top_p;
    p.min_p = s.min_p;
    p.repetition_penalty = s.repetition_penalty;
    p.seed = s.seed;
    return p;
}

uint64_t kv_bytes_per_position(const io::ModelConfig& c, uint64_t elem) {
    return io::kv_bytes_per_position(c.num_hidden_layers, c.num_key_value_heads, c.head_dim, elem);
}

} // namespace

std::string resolve_dtype(const std::string& device, const std::string& dtype) {
    if (dtype.empty() || dtype == "auto") return device.rfind("cuda", 0) == 0 ? "bf16" : "f32";
    return model::dtype_short_name(model::parse_dtype(dtype, "dtype"));
}

MemoryEstimate estimate_load_memory(const fs::path& model_dir, const std::string& device, const std::string& dtype,
                                    int64_t context) {
    const io::ModelDir dir = io::ModelDir::open(model_dir);
    const io::ModelConfig& c = dir.config();
    const uint64_t elem = element_size(resolve_dtype(device, dtype));
    const int64_t positions = context > 0 ? std::min(context, c.max_position_embeddings) : c.max_position_embeddings;
    return io::estimate_memory(dir, elem, positions);
}

std::vector<io::ChatMessage> Conversation::all_messages() const {
    std::vector<io::ChatMessage> all;
    all.reserve(messages.size() + 1);
    if (!system_prompt.empty()) all.push_back({"system", system_prompt});
    all.insert(all.end(), messages.begin(), messages.end());
    return all;
}

void SamplingSettings::validate() const {
    if (max_new_tokens < 1) throw Error("max tokens", "must be at least 1 (is " + std::to_string(max_new_tokens) + ")");
    engine_params(*this).validate();
}

const std::string& plain_chat_template() {
    // Each message's content on its own line: a base model continues the text.
    static const std::string source =
        "{% for message in messages %}{% if not loop.first %}{{ '\\n' }}{% endif %}"
        "{{ message['content'] }}{% endfor %}";
    return source;
}

struct ChatSession::Impl {
    ModelInfo info;
    io::ModelConfig config;
    io::GenerationConfig generation;
    SpecialTokens special;
    std::unique_ptr<io::Tokenizer> tokenizer;
    std::unique_ptr<model::Transformer> model;
    std::unique_ptr<model::Generator> generator;  // after model and tokenizer: destroyed first
    std::string model_template_source;            // empty when the model has none
    std::unique_ptr<io::ChatTemplate> active;
    TemplateInfo template_info;
    std::vector<int32_t> eos_ids;
    uint64_t kv_bytes_per_position = 0;

    void require_loaded() const {
        if (!model) throw Error("model", "no model is loaded");
    }

    io::ChatTemplate make_template(const std::string& source, const std::string& where) const {
        io::ChatTemplate t(source, where);
        t.bos_token = special.bos;
        t.eos_token = special.eos;
        t.other_special_tokens = special.others;
        return t;
    }

    void use_model_template() {
        if (!model_template_source.empty()) {
            active = std::make_unique<io::ChatTemplate>(
                io::ChatTemplate::from_tokenizer_config(info.path / "tokenizer_config.json"));
            template_info = {active->source(), true, false, false};
        } else {
            active = std::make_unique<io::ChatTemplate>(make_template(plain_chat_template(), "plain chat template"));
            template_info = {plain_chat_template(), false, false, true};
        }
    }
};

ChatSession::ChatSession() : impl_(std::make_unique<Impl>()) {}
ChatSession::~ChatSession() = default;

void ChatSession::unload() {
    const bool was_cuda = impl_->model && impl_->model->device().is_cuda();
    impl_ = std::make_unique<Impl>();
#ifdef GLQ_WITH_CUDA
    // Hand the freed blocks back to the driver, so the other pane (or another
    // program) can use them and the device read-out drops.
    if (was_cuda) c10::cuda::CUDACachingAllocator::emptyCache();
#else
    (void)was_cuda;
#endif
}

bool ChatSession::loaded() const { return impl_->model != nullptr; }

const ModelInfo& ChatSession::info() const {
    impl_->require_loaded();
    return impl_->info;
}

void ChatSession::load(const fs::path& model_dir, const LoadSettings& settings, const ProgressFn& progress,
                       const CancelToken* cancel) {
    unload();
    const auto start = Clock::now();
    auto next = std::make_unique<Impl>();

    // Settings first: a bad device or dtype is reported before any file is read.
    const torch::Device device = model::parse_device(settings.device, "device");
    const std::string dtype_name = resolve_dtype(settings.device, settings.dtype);
    model::LoadOptions options;
    options.device = device;
    options.dtype = model::parse_dtype(dtype_name, "dtype");
    options.progress = progress;
    options.cancel = cancel;

    const io::ModelDir dir = io::ModelDir::open(model_dir);
    next->config = dir.config();
    next->generation = dir.generation();
    next->special = read_special_tokens(dir.tokenizer_config_path());
    next->tokenizer = std::make_unique<io::Tokenizer>(io::Tokenizer::load(dir.tokenizer_path()));
    next->info.path = dir.path();
    if (next->special.has_chat_template) {
        // Parsed now, so a broken template is reported at load, naming the file.
        io::ChatTemplate t = io::ChatTemplate::from_tokenizer_config(dir.tokenizer_config_path());
        next->model_template_source = t.source();
    }
    if (cancel) cancel->check();

    next->model = format::load_any_model(dir.path(), options);  // dense or GLQ checkpoint
    next->generator = std::make_unique<model::Generator>(*next->model, next->tokenizer.get());

    next->eos_ids = model::eos_ids_of(next->config, next->generation);
    if (!next->special.eos.empty())
        if (auto id = next->tokenizer->token_to_id(next->special.eos))
            if (std::find(next->eos_ids.begin(), next->eos_ids.end(), *id) == next->eos_ids.end())
                next->eos_ids.push_back(*id);

    ModelInfo& info = next->info;
    info.name = dir.path().filename().string();
    if (info.name.empty()) info.name = dir.path().parent_path().filename().string();
    info.model_type = next->config.model_type;
    info.device = device.str();
    info.dtype = dtype_name;
    info.parameters = next->config.num_parameters();
    info.context_length = next->config.max_position_embeddings;
    info.vocab_size = next->config.vocab_size;
    if (const auto& q = dir.quantization(); q && q->is_glq()) {
        info.quantized = true;
        info.bpw = q->bpw;
    }
    // What the checkpoint stores, and what the loaded model really holds (a
    // compressed GLQ linear keeps its codes; a decoded one a dense copy).
    info.checkpoint_bytes = next->model->parameter_bytes();
    info.weight_bytes = next->model->resident_bytes();
    next->kv_bytes_per_position = kv_bytes_per_position(next->config, element_size(dtype_name));
    next->use_model_template();
    info.load_seconds = seconds_since(start);
    impl_ = std::move(next);
}

SamplingSettings ChatSession::default_sampling() const {
    impl_->require_loaded();
    const io::GenerationConfig& g = impl_->generation;
    const model::SamplingParams p = model::SamplingParams::from_generation_config(g);
    SamplingSettings s;
    s.temperature = p.temperature;
    s.top_k = p.top_k;
    s.top_p = p.top_p;
    s.min_p = p.min_p;
    s.repetition_penalty = p.repetition_penalty;
    if (g.max_new_tokens) s.max_new_tokens = std::max<int64_t>(1, *g.max_new_tokens);
    return s;
}

const TemplateInfo& ChatSession::chat_template() const {
    impl_->require_loaded();
    return impl_->template_info;
}

std::string ChatSession::model_chat_template() const {
    impl_->require_loaded();
    return impl_->model_template_source.empty() ? plain_chat_template() : impl_->model_template_source;
}

bool ChatSession::model_has_chat_template() const {
    impl_->require_loaded();
    return !impl_->model_template_source.empty();
}

void ChatSession::set_chat_template(const std::string& source, bool add_special_tokens) {
    impl_->require_loaded();
    auto t = std::make_unique<io::ChatTemplate>(impl_->make_template(source, "chat template"));
    impl_->active = std::move(t);
    impl_->template_info = {source, false, true, add_special_tokens};
}

void ChatSession::reset_chat_template() {
    impl_->require_loaded();
    impl_->use_model_template();
}

std::string ChatSession::render(const Conversation& conversation) const {
    impl_->require_loaded();
    return impl_->active->render(conversation.all_messages(), /*add_generation_prompt=*/true);
}

std::string ChatSession::render_with(const std::string& source, const Conversation& conversation) const {
    impl_->require_loaded();
    return impl_->make_template(source, "chat template").render(conversation.all_messages(), true);
}

std::vector<int32_t> ChatSession::encode(const Conversation& conversation) const {
    const std::string text = render(conversation);
    std::vector<int32_t> ids = impl_->tokenizer->encode(text, impl_->template_info.add_special_tokens);
    if (ids.empty()) throw Error("conversation", "renders to no tokens (is the prompt empty?)");
    return ids;
}

void ChatSession::reset_cache() {
    if (impl_->generator) impl_->generator->reset();
}

ChatReply ChatSession::generate(const Conversation& conversation, const SamplingSettings& sampling,
                                const TextFn& on_text, const CancelToken* cancel) {
    impl_->require_loaded();
    sampling.validate();
    if (conversation.messages.empty()) throw Error("conversation", "has no messages to answer");
    if (cancel) cancel->check();
    const auto start = Clock::now();
    ChatReply reply;
    reply.prompt_ids = encode(conversation);

    model::GenerationParams params;
    params.max_new_tokens = sampling.max_new_tokens;
    params.sampling = engine_params(sampling);
    params.eos_ids = impl_->eos_ids;
    params.use_cuda_graph = sampling.use_cuda_graph;

    model::TokenCallback forward;
    if (on_text) forward = [&](int32_t id, const std::string& text) { on_text(id, text); };
    const model::GenerationResult r = impl_->generator->generate(reply.prompt_ids, params, forward, cancel);

    reply.text = r.text;
    reply.ids = r.ids;
    ChatStats& s = reply.stats;
    s.prompt_tokens = r.stats.prompt_tokens;
    s.prefilled_tokens = r.stats.prefilled_tokens;
    s.generated_tokens = r.stats.generated_tokens;
    s.prefill_seconds = r.stats.prefill_seconds;
    s.prefill_tokens_per_second = r.stats.prefill_tokens_per_second;
    s.time_to_first_token = r.stats.time_to_first_token;
    s.decode_seconds = r.stats.decode_seconds;
    s.decode_tokens_per_second = r.stats.decode_tokens_per_second;
    s.total_seconds = seconds_since(start);
    s.weight_bytes = impl_->info.weight_bytes;
    // The KV entries this conversation holds (prompt and answer); the cache's
    // allocation is rounded up to the next 256 positions on top of this.
    s.kv_cache_bytes = impl_->kv_bytes_per_position * impl_->generator->cached_ids().size();
    s.peak_memory_bytes = r.stats.peak_memory_bytes;
    s.peak_is_process_rss = !impl_->model->device().is_cuda();
    s.cuda_graph = r.stats.cuda_graph;
    s.stop_reason = model::stop_reason_name(r.stop);
    return reply;
}

TextPerplexity ChatSession::perplexity(const fs::path& text_file, const PerplexitySettings& settings,
                                         const ProgressFn& progress, const CancelToken* cancel) {
    impl_->require_loaded();
    if (settings.seqlen < 2) throw Error("seqlen", "must be at least 2 tokens, got " + std::to_string(settings.seqlen));
    if (settings.max_windows < 0) throw Error("max windows", "must not be negative");
    eval::PerplexityOptions options;
    options.seqlen = settings.seqlen;
    options.max_windows = settings.max_windows;
    options.progress = progress;
    options.cancel = cancel;
    const eval::PerplexityResult r = eval::perplexity_of_file(*impl_->model, *impl_->tokenizer, text_file, options);
    TextPerplexity report;
    report.text_file = text_file;
    report.perplexity = r.perplexity;
    report.tokens_scored = r.tokens_scored;
    report.windows = r.windows;
    report.seqlen = r.seqlen;
    report.total_tokens = r.total_tokens;
    report.seconds = r.seconds;
    return report;
}

} // namespace glq::session
