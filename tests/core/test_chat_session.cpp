// The torch-free ChatSession facade (core/session) on stories260K: its greedy
// answer equals the engine's own Generator on the same prompt ids (plain
// template and a model template), streaming, cancel, stats, chat template
// override/reset, perplexity equal to core/eval's, the memory estimate, a
// GLQ checkpoint loaded through the same door, and one clear glq::Error
// naming the file for bad model folders.

#include <fstream>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/eval/perplexity.h"
#include "core/io/chat_template.h"
#include "core/io/model_dir.h"
#include "core/io/safetensors.h"
#include "core/io/tokenizer.h"
#include "core/model/generator.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/format/glq_model_loader.h"
#include "core/quant/quantization_job.h"
#include "core/session/chat_session.h"
#include "tests/support/test.h"
#include "tests/support/tiny_model.h"

using namespace glq;
namespace fs = std::filesystem;

namespace {

fs::path stories_dir() { return test::shared_data() / "models" / "stories260K"; }

void copy_small_files(const fs::path& to, bool with_weights) {
    fs::create_directories(to);
    for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
        fs::copy_file(stories_dir() / f, to / f);
    if (with_weights) fs::copy_file(stories_dir() / "model.safetensors", to / "model.safetensors");
}

// The engine's own answer to `prompt`: what the facade must reproduce.
model::GenerationResult engine_generate(const fs::path& dir, const std::vector<int32_t>& prompt, int64_t max_tokens) {
    const io::ModelDir md = io::ModelDir::open(dir);
    auto model = model::Transformer::load(dir);
    const io::Tokenizer tok = io::Tokenizer::load(dir / "tokenizer.json");
    model::Generator gen(*model, &tok);
    model::GenerationParams params;
    params.max_new_tokens = max_tokens;
    params.eos_ids = model::eos_ids_of(md.config(), md.generation());
    return gen.generate(prompt, params);
}

// stories260K widened so that GLQ can quantize it (tests/support/tiny_model.h).
fs::path make_tiny_model(const fs::path& dir) { return test::make_padded_stories(test::shared_data(), dir); }

session::SamplingSettings greedy(int64_t max_tokens) {
    session::SamplingSettings s;
    s.max_new_tokens = max_tokens;
    return s;
}

} // namespace

GLQ_TEST(greedy_answer_equals_the_engine_generator_and_streams) {
    session::ChatSession s;
    CHECK(!s.loaded());
    int progress_calls = 0;
    s.load(stories_dir(), {"cpu", "auto"}, [&](const Progress& p) {
        CHECK_EQ(p.stage, std::string("load"));
        ++progress_calls;
    });
    CHECK(s.loaded());
    CHECK(progress_calls > 0);
    const session::ModelInfo& info = s.info();
    CHECK_EQ(info.dtype, std::string("f32"));
    CHECK_EQ(info.device, std::string("cpu"));
    CHECK_EQ(info.model_type, std::string("llama"));
    CHECK(!info.quantized);
    CHECK_EQ(info.context_length, int64_t(512));
    CHECK(info.weight_bytes > 0);
    CHECK_EQ(info.weight_bytes, info.checkpoint_bytes);  // dense: stored = resident

    // stories260K ships no chat template: the plain one, BOS from the tokenizer.
    CHECK(!s.model_has_chat_template());
    CHECK(!s.chat_template().from_model);
    CHECK(s.chat_template().add_special_tokens);

    session::Conversation c;
    c.messages.push_back({"user", "Once upon a time"});
    CHECK_EQ(s.render(c), std::string("Once upon a time"));
    const io::Tokenizer tok = io::Tokenizer::load(stories_dir() / "tokenizer.json");
    const std::vector<int32_t> prompt = tok.encode("Once upon a time", /*add_special_tokens=*/true);
    CHECK_EQ(prompt.front(), 1);  // BOS

    std::string streamed;
    int tokens = 0;
    const session::ChatReply reply = s.generate(c, greedy(40), [&](int32_t id, const std::string& text) {
        if (id >= 0) ++tokens;
        streamed += text;
    });
    const model::GenerationResult want = engine_generate(stories_dir(), prompt, 40);
    CHECK(reply.prompt_ids == prompt);
    CHECK(reply.ids == want.ids);
    CHECK_EQ(reply.text, want.text);
    CHECK_EQ(streamed, reply.text);
    CHECK_EQ(tokens, static_cast<int>(reply.ids.size()));
    CHECK(!reply.text.empty());

    const session::ChatStats& st = reply.stats;
    CHECK_EQ(st.prompt_tokens, static_cast<int64_t>(prompt.size()));
    CHECK_EQ(st.prefilled_tokens, static_cast<int64_t>(prompt.size()));
    CHECK_EQ(st.generated_tokens, static_cast<int64_t>(reply.ids.size()));
    CHECK(st.prefill_tokens_per_second > 0);
    CHECK(st.decode_tokens_per_second > 0);
    CHECK(st.time_to_first_token > 0);
    CHECK(st.total_seconds >= st.time_to_first_token);
    CHECK_EQ(st.weight_bytes, info.weight_bytes);
    // K and V of 5 layers x 4 heads x 8 dims in f32 for every cached position.
    CHECK(st.kv_cache_bytes > 0);
    CHECK_EQ(st.kv_cache_bytes % (5 * 2 * 4 * 8 * 4), 0u);
    CHECK(st.peak_memory_bytes > 0);
    CHECK(st.peak_is_process_rss);
    CHECK(st.stop_reason == "max tokens" || st.stop_reason == "eos");

    // The next turn reuses the cached conversation: only the new part is prefilled.
    c.messages.push_back({"assistant", reply.text});
    c.messages.push_back({"user", "The next day"});
    const session::ChatReply second = s.generate(c, greedy(10));
    CHECK(second.stats.prefilled_tokens < second.stats.prompt_tokens);
    CHECK(second.stats.prefilled_tokens > 0);
    // ...and gives what a fresh engine gives for the whole conversation.
    const model::GenerationResult want2 = engine_generate(stories_dir(), second.prompt_ids, 10);
    CHECK(second.ids == want2.ids);
}

GLQ_TEST(glq_checkpoint_loads_and_answers_as_the_engine_does) {
    const fs::path tmp = test::temp_dir();
    const fs::path dense = make_tiny_model(tmp / "tiny");
    quant::QuantizationJobOptions o;
    o.model_dir = dense;
    o.output_dir = tmp / "tiny-glq2";
    o.bpw = 2;
    const fs::path calib = tmp / "calib.txt";
    write_file_atomic(calib, read_file(test::shared_data() / "tinyshakespeare" / "input.txt").substr(0, 30000));
    o.calibration.files = {calib};
    o.calibration.nsamples = 8;
    o.calibration.seqlen = 64;
    o.cache_dir = tmp / "hessians";
    quant::run_quantization_job(o);

    session::ChatSession s;
    s.load(o.output_dir, {"cpu", "f32"});
    const session::ModelInfo& info = s.info();
    CHECK(info.quantized);
    CHECK(info.bpw.has_value());
    CHECK_NEAR(*info.bpw, 2.0, 1e-9);
    // A GLQ linear stays compressed: the model holds about what the
    // checkpoint stores, and the estimate before loading says so.
    CHECK_MSG(static_cast<double>(info.weight_bytes) <= 1.05 * static_cast<double>(info.checkpoint_bytes),
              info.weight_bytes << " resident for " << info.checkpoint_bytes << " stored");
    const session::MemoryEstimate need = session::estimate_load_memory(o.output_dir, "cpu", "f32");
    CHECK_MSG(static_cast<double>(need.weights) >= 0.99 * static_cast<double>(info.weight_bytes),
              need.weights << " estimated for " << info.weight_bytes);
    CHECK(static_cast<double>(need.weights) <= 1.05 * static_cast<double>(info.weight_bytes));
    const session::MemoryEstimate dense_need = session::estimate_load_memory(dense, "cpu", "f32");
    CHECK(need.weights < dense_need.weights);

    session::Conversation c{"", {{"user", "Once upon a time"}}};
    const session::ChatReply reply = s.generate(c, greedy(20));
    auto engine = format::load_glq_model(o.output_dir);
    const io::Tokenizer tok = io::Tokenizer::load(o.output_dir / "tokenizer.json");
    model::Generator gen(*engine, &tok);
    model::GenerationParams params;
    params.max_new_tokens = 20;
    const io::ModelDir md = io::ModelDir::open(o.output_dir);
    params.eos_ids = model::eos_ids_of(md.config(), md.generation());
    const model::GenerationResult want = gen.generate(reply.prompt_ids, params);
    CHECK(reply.prompt_ids == tok.encode("Once upon a time", true));
    CHECK(reply.ids == want.ids);
    CHECK_EQ(reply.text, want.text);
    CHECK(reply.stats.decode_tokens_per_second > 0);

    const session::TextPerplexity ppl =
        s.perplexity(test::shared_data() / "tinyshakespeare" / "input.txt", {128, 2});
    CHECK(std::isfinite(ppl.perplexity) && ppl.perplexity > 1.0);
}

GLQ_TEST(model_chat_template_is_used_overridden_and_reset) {
    const fs::path dir = test::temp_dir() / "templated";
    copy_small_files(dir, true);
    nlohmann::json cfg = nlohmann::json::parse(read_file(dir / "tokenizer_config.json"));
    cfg["chat_template"] =
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}";
    write_file_atomic(dir / "tokenizer_config.json", cfg.dump(2));

    session::ChatSession s;
    s.load(dir, {"cpu", "f32"});
    CHECK(s.model_has_chat_template());
    CHECK(s.chat_template().from_model);
    CHECK(!s.chat_template().overridden);
    CHECK(!s.chat_template().add_special_tokens);  // the template writes BOS itself

    session::Conversation c{"Be kind.", {{"user", "Tell a story"}}};
    const std::string rendered = s.render(c);
    CHECK_EQ(rendered, std::string("<s>[system] Be kind.\n[user] Tell a story\n[assistant]"));
    const io::ChatTemplate t = io::ChatTemplate::from_tokenizer_config(dir / "tokenizer_config.json");
    CHECK_EQ(rendered, t.render(c.all_messages(), true));

    const io::Tokenizer tok = io::Tokenizer::load(dir / "tokenizer.json");
    const std::vector<int32_t> prompt = tok.encode(rendered, /*add_special_tokens=*/false);
    const session::ChatReply reply = s.generate(c, greedy(20));
    CHECK(reply.prompt_ids == prompt);
    CHECK(reply.ids == engine_generate(dir, prompt, 20).ids);

    // A template that does not parse is refused; the one in use stays.
    CHECK_THROWS_WITH(s.set_chat_template("{% for m in messages %}", false), "chat template");
    CHECK(s.chat_template().from_model);
    CHECK_THROWS_WITH(s.render_with("{% if %}", c), "chat template");
    CHECK_EQ(s.render_with("{{ messages[-1]['content'] }}!", c), std::string("Tell a story!"));
    CHECK_EQ(s.render(c), rendered);  // render_with adopts nothing

    s.set_chat_template("{{ bos_token }}Q: {{ messages[-1]['content'] }} A:", false);
    CHECK(s.chat_template().overridden);
    CHECK(!s.chat_template().from_model);
    CHECK_EQ(s.render(c), std::string("<s>Q: Tell a story A:"));
    CHECK(s.encode(c) == tok.encode("<s>Q: Tell a story A:", false));
    s.set_chat_template("Q: {{ messages[-1]['content'] }} A:", true);
    CHECK(s.encode(c) == tok.encode("Q: Tell a story A:", true));
    s.reset_chat_template();
    CHECK(s.chat_template().from_model);
    CHECK_EQ(s.render(c), rendered);
    CHECK_EQ(s.model_chat_template(), t.source());
}

GLQ_TEST(cancel_stops_generation_after_the_current_token) {
    session::ChatSession s;
    s.load(stories_dir(), {"cpu", "f32"});
    session::Conversation c{"", {{"user", "Once upon a time"}}};
    CancelToken cancel;
    int tokens = 0;
    const session::ChatReply r = s.generate(c, greedy(200), [&](int32_t id, const std::string&) {
        if (id >= 0 && ++tokens == 3) cancel.cancel();
    }, &cancel);
    CHECK(r.cancelled());
    CHECK_EQ(r.stats.stop_reason, std::string("cancelled"));
    CHECK_EQ(r.ids.size(), 3u);
    // The three tokens are the greedy answer's first three.
    const session::ChatReply full = s.generate(c, greedy(5));
    CHECK((std::vector<int32_t>(full.ids.begin(), full.ids.begin() + 3) == r.ids));

    // Cancelled before it starts: nothing runs.
    CHECK_THROWS_WITH(s.generate(c, greedy(5), {}, &cancel), "cancelled");
    // A cancelled load leaves nothing loaded.
    session::ChatSession other;
    CHECK_THROWS_WITH(other.load(stories_dir(), {"cpu", "f32"}, {}, &cancel), "cancelled");
    CHECK(!other.loaded());
}

GLQ_TEST(perplexity_equals_core_eval_and_cancels) {
    const fs::path text = test::shared_data() / "tinyshakespeare" / "input.txt";
    session::ChatSession s;
    s.load(stories_dir(), {"cpu", "f32"});
    int64_t last_done = 0;
    const session::TextPerplexity r = s.perplexity(text, {128, 3}, [&](const Progress& p) {
        CHECK_EQ(p.stage, std::string("perplexity"));
        last_done = p.done;
    });
    CHECK_EQ(r.windows, int64_t(3));
    CHECK_EQ(r.seqlen, int64_t(128));
    CHECK_EQ(r.tokens_scored, int64_t(3 * 127));
    CHECK_EQ(last_done, int64_t(3));
    CHECK(r.perplexity > 1.0);

    auto model = model::Transformer::load(stories_dir());
    const io::Tokenizer tok = io::Tokenizer::load(stories_dir() / "tokenizer.json");
    eval::PerplexityOptions o;
    o.seqlen = 128;
    o.max_windows = 3;
    const eval::PerplexityResult want = eval::perplexity_of_file(*model, tok, text, o);
    CHECK_NEAR(r.perplexity, want.perplexity, 1e-9 * want.perplexity);
    CHECK_EQ(r.total_tokens, want.total_tokens);

    CancelToken cancel;
    cancel.cancel();
    CHECK_THROWS_WITH(s.perplexity(text, {128, 3}, {}, &cancel), "cancelled");
    CHECK_THROWS_WITH(s.perplexity(test::temp_dir() / "nope.txt", {128, 3}), "nope.txt");
    CHECK_THROWS_WITH(s.perplexity(text, {1, 3}), "seqlen");
}

GLQ_TEST(memory_estimate_from_the_config) {
    const io::ModelDir md = io::ModelDir::open(stories_dir());
    const uint64_t params = static_cast<uint64_t>(md.config().num_parameters());
    const session::MemoryEstimate f32 = session::estimate_load_memory(stories_dir(), "cpu", "auto", 0);
    CHECK_EQ(f32.weights, params * 4);
    CHECK_EQ(f32.kv_cache, uint64_t(5 * 2 * 4 * 8 * 4) * 512);  // whole context
    CHECK_EQ(f32.workspace, uint64_t(256) << 20);
    CHECK_EQ(f32.total(), f32.weights + f32.kv_cache + f32.workspace);
    const session::MemoryEstimate bf16 = session::estimate_load_memory(stories_dir(), "cuda:0", "auto", 100);
    CHECK_EQ(bf16.weights, params * 2);
    CHECK_EQ(bf16.kv_cache, uint64_t(5 * 2 * 4 * 8 * 2) * 100);
    CHECK_EQ(session::resolve_dtype("cuda", "auto"), std::string("bf16"));
    CHECK_EQ(session::resolve_dtype("cpu", "half"), std::string("f16"));
    CHECK_THROWS_WITH(session::resolve_dtype("cpu", "int3"), "unknown dtype 'int3'");
}

GLQ_TEST(bad_model_folders_and_settings_give_one_error_naming_the_file) {
    session::ChatSession s;
    // No tokenizer.json: the error names that file.
    const fs::path no_tok = test::temp_dir() / "no_tokenizer";
    copy_small_files(no_tok, true);
    fs::remove(no_tok / "tokenizer.json");
    try {
        s.load(no_tok, {"cpu", "f32"});
        CHECK_MSG(false, "loading a folder without tokenizer.json did not throw");
    } catch (const Error& e) {
        CHECK_MSG(test::contains(e.where(), "tokenizer.json"), e.what());
    }
    CHECK(!s.loaded());

    // Corrupt weights: the error names model.safetensors.
    const fs::path corrupt = test::temp_dir() / "corrupt";
    copy_small_files(corrupt, false);
    write_file_atomic(corrupt / "model.safetensors", "this is not a safetensors file");
    try {
        s.load(corrupt, {"cpu", "f32"});
        CHECK_MSG(false, "loading corrupt weights did not throw");
    } catch (const Error& e) {
        CHECK_MSG(test::contains(e.where(), "model.safetensors"), e.what());
    }
    CHECK_THROWS_WITH(session::estimate_load_memory(corrupt, "cpu", "f32"), "model.safetensors");

    // Broken config.json.
    const fs::path bad_json = test::temp_dir() / "bad_json";
    copy_small_files(bad_json, true);
    write_file_atomic(bad_json / "config.json", "{ not json");
    CHECK_THROWS_WITH(s.load(bad_json, {"cpu", "f32"}), "config.json");
    CHECK_THROWS_WITH(s.load(test::temp_dir() / "missing", {"cpu", "f32"}), "does not exist");
    CHECK(!s.loaded());

    // Settings, and using a session with nothing loaded.
    CHECK_THROWS_WITH(s.load(stories_dir(), {"tpu", "f32"}), "unknown device 'tpu'");
    CHECK_THROWS_WITH(s.load(stories_dir(), {"cpu", "fp8"}), "unknown dtype 'fp8'");
    CHECK_THROWS_WITH(s.info(), "no model is loaded");
    CHECK_THROWS_WITH(s.generate({"", {{"user", "hi"}}}, greedy(5)), "no model is loaded");

    // A good load after all that works, and bad sampling is refused by name.
    s.load(stories_dir(), {"cpu", "f32"});
    session::SamplingSettings bad = greedy(5);
    bad.top_p = 0.0;
    CHECK_THROWS_WITH(s.generate({"", {{"user", "hi"}}}, bad), "top");
    CHECK_THROWS_WITH(s.generate({"", {{"user", "hi"}}}, greedy(0)), "max tokens");
    CHECK_THROWS_WITH(s.generate({"", {}}, greedy(5)), "no messages");
}
