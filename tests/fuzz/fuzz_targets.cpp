#include "tests/fuzz/fuzz_targets.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/io/chat_template.h"
#include "core/io/generation_config.h"
#include "core/io/gguf.h"
#include "core/io/gguf_config.h"
#include "core/io/gguf_dequant.h"
#include "core/io/gguf_tokenizer.h"
#include "core/io/hf_config.h"
#include "core/io/json_file.h"
#include "core/io/memory_estimate.h"
#include "core/io/safetensors.h"
#include "core/io/tokenizer.h"
#include "core/plan/allocator.h"
#include "core/plan/bpw_map.h"
#include "core/plan/sensitivity.h"

namespace fs = std::filesystem;

namespace glq::fuzz {
namespace {

// One scratch file per process (the loaders of binary formats map a path).
const fs::path& scratch_path(const char* ext) {
    static const fs::path dir = [] {
        std::error_code ec;
        fs::path base = fs::exists("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
        return base / ("glq-fuzz-" + std::to_string(::getpid()));
    }();
    static fs::path file;
    fs::create_directories(dir);
    file = dir / (std::string("input.") + ext);
    return file;
}

const fs::path& write_scratch(std::string_view bytes, const char* ext) {
    const fs::path& p = scratch_path(ext);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    return p;
}

void use_config(const io::ModelConfig& c) {
    // What `glqw info` prints: the parameter count and the memory estimate.
    volatile int64_t n = c.num_parameters();
    volatile uint64_t m = io::estimate_memory(c, 2, c.max_position_embeddings).total();
    (void)n;
    (void)m;
}

void run_safetensors(std::string_view bytes) {
    const auto sf = io::SafetensorsFile::open(write_scratch(bytes, "safetensors"));
    for (const auto& t : sf->tensors()) {
        volatile int64_t n = t.numel();
        (void)n;
        const auto v = sf->view(t.name);
        volatile std::size_t s = v.bytes.size();
        (void)s;
    }
}

void run_gguf(std::string_view bytes) {
    const auto g = io::GgufFile::open(write_scratch(bytes, "gguf"));
    for (const auto& t : g->tensors()) {
        if (!io::can_dequantize(t.type) || t.numel() > (1 << 16)) continue;
        std::vector<float> out(static_cast<std::size_t>(t.numel()));
        io::dequantize(t.type, g->tensor_data(t), out);
    }
    // What import-gguf derives from the metadata, each part on its own (a
    // file without a tokenizer still fuzzes the config; only open() decides
    // whether the file is rejected).
    try {
        const auto cfg = io::hf_config_from_gguf(*g, io::DType::F32);
        use_config(io::ModelConfig::from_json(cfg, g->path()));
    } catch (const Error&) {
    }
    try {
        (void)io::generation_config_from_gguf(*g);
    } catch (const Error&) {
    }
    try {
        const auto tok = io::tokenizer_json_from_gguf(*g);
        (void)io::tokenizer_config_from_gguf(*g);
        const auto t = io::Tokenizer::from_json_string(tok.dump(), g->path() + " (tokenizer)");
        (void)t.decode(t.encode("Hello world, 123!", true), false);
    } catch (const Error&) {
    }
}

void run_hf_config(std::string_view bytes) {
    const std::string where = "config.json";
    use_config(io::ModelConfig::from_json(io::parse_json(bytes, where), where));
}

void run_tokenizer(std::string_view bytes) {
    const auto t = io::Tokenizer::from_json_string(std::string(bytes), "tokenizer.json");
    const auto ids = t.encode("Hello, world! 12345 <|im_start|> caf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd  \n\tend", true);
    (void)t.decode(ids, false);
    (void)t.decode(ids, true);
    (void)t.decode({0, 1, 2, 3, -1, 1 << 30}, false);
}

// A template is the whole input; the context is a small, fixed chat with a
// tool, as `glqw generate --chat` renders.
void run_chat_template(std::string_view bytes) {
    static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
      "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello!", "tool_calls": [{"type": "function",
          "function": {"name": "get_time", "arguments": {"tz": "UTC"}}}]},
        {"role": "tool", "content": "12:00"},
        {"role": "user", "content": "Thanks"}],
      "tools": [{"type": "function", "function": {"name": "get_time", "description": "Time now",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}}}}],
      "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
    io::ChatTemplate t(std::string(bytes), "chat_template");
    t.set_clock([] { return std::tm{}; });
    (void)t.render(context);
}

void run_generation_config(std::string_view bytes) {
    (void)io::GenerationConfig::load(write_scratch(bytes, "json"));
}

void run_bpw_map(std::string_view bytes) {
    const auto m = plan::BpwMap::from_json_text(std::string(bytes), "bpw_allocation.json");
    (void)m.to_json_text();
    (void)m.resolve({"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj"});
}

void run_sensitivity(std::string_view bytes) {
    const auto t = plan::SensitivityTable::from_json_text(std::string(bytes), "sensitivity.json");
    (void)t.summarize_rates();
    (void)t.to_json_text();
    // What `glqw allocate` does with it (a table of many layers is skipped:
    // the allocator's own cost is not what this fuzzes).
    if (t.layers.size() <= 64) {
        plan::AllocationRequest req;
        req.target_bpw = 3.5;
        try {
            (void)plan::allocate_bpw(t, req);
        } catch (const Error&) {
        }
    }
}

using Fn = void (*)(std::string_view);
struct Target {
    const char* name;
    Fn fn;
};
constexpr Target kTargets[] = {
    {"safetensors", run_safetensors},   {"gguf", run_gguf},
    {"hf_config", run_hf_config},       {"tokenizer", run_tokenizer},
    {"chat_template", run_chat_template}, {"generation_config", run_generation_config},
    {"bpw_map", run_bpw_map},           {"sensitivity", run_sensitivity},
};

} // namespace

const std::vector<std::string>& target_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const auto& t : kTargets) n.emplace_back(t.name);
        return n;
    }();
    return names;
}

Result run_target(std::string_view target, std::string_view bytes) {
    for (const auto& t : kTargets) {
        if (target != t.name) continue;
        Result r;
        try {
            t.fn(bytes);
        } catch (const Error& e) {
            r.outcome = Outcome::Rejected;
            r.error = e.what();
        }
        return r;
    }
    throw std::invalid_argument("no fuzz target named '" + std::string(target) + "'");
}

} // namespace glq::fuzz
