// ModelDir and generation_config.json: the shared stories260K folder, a
// sharded copy, every missing or broken file with its message, and GLQ
// quantization_config recognition.

#include <fstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/model_dir.h"
#include "tests/support/test.h"

namespace fs = std::filesystem;
using namespace glq::io;
using nlohmann::json;

namespace {

fs::path stories() { return glq::test::shared_data() / "models/stories260K"; }

// A writable copy of the stories260K folder (the shared one is read-only).
fs::path copy_of_stories(const std::string& name) {
    const fs::path dir = glq::test::temp_dir() / name;
    fs::create_directories(dir);
    for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                          "tokenizer_config.json"}) {
        fs::copy_file(stories() / f, dir / f);
        fs::permissions(dir / f, fs::perms::owner_write, fs::perm_options::add);
    }
    return dir;
}

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

json read_json(const fs::path& p) { return json::parse(glq::read_file(p)); }

} // namespace

GLQ_TEST(opens_stories260k) {
    const auto m = ModelDir::open(stories());
    CHECK_EQ(m.config().model_type, std::string("llama"));
    CHECK_EQ(m.weights().names().size(), 47u);
    CHECK(!m.sharded());
    CHECK(!m.quantization());
    CHECK(m.generation().from_file);
    CHECK_EQ(m.generation().max_length.value_or(0), 512);
    CHECK(m.generation().eos_token_ids == (std::vector<int64_t>{2}));
    uint64_t files = 0;
    for (const auto& e : fs::directory_iterator(stories()))
        if (e.is_regular_file()) files += e.file_size();
    CHECK_EQ(m.size_on_disk(), files);
    const std::string d = m.describe();
    CHECK_MSG(glq::test::contains(d, "LlamaForCausalLM (model_type llama)"), d);
    CHECK_MSG(glq::test::contains(d, "heads         8 (kv heads 4, head_dim 8)"), d);
    CHECK_MSG(glq::test::contains(d, "parameters    260.0K (260032), tied embeddings"), d);
    // 260,032 float32 parameters = 1,040,128 bytes of tensor data.
    CHECK_MSG(glq::test::contains(d, "model.safetensors, 47 tensors, 1015.8 KiB"), d);
}

GLQ_TEST(opens_a_sharded_copy) {
    const fs::path dir = copy_of_stories("sharded");
    const auto single = SafetensorsFile::open(dir / "model.safetensors");
    std::vector<TensorRef> first, second;
    json weight_map = json::object();
    for (const auto& t : single->tensors()) {
        const auto v = single->view(t.name);
        const bool in_first = t.name.find("layers.3") == std::string::npos && t.name.find("layers.4") == std::string::npos;
        (in_first ? first : second).push_back(TensorRef{t.name, t.dtype, t.shape, v.bytes});
        weight_map[t.name] = in_first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
    }
    write_safetensors(dir / "model-00001-of-00002.safetensors", first);
    write_safetensors(dir / "model-00002-of-00002.safetensors", second);
    write_text(dir / "model.safetensors.index.json", json{{"metadata", json::object()}, {"weight_map", weight_map}}.dump());
    fs::remove(dir / "model.safetensors");

    const auto m = ModelDir::open(dir);
    CHECK(m.sharded());
    CHECK_EQ(m.weights().files().size(), 2u);
    CHECK_EQ(m.weights().names().size(), 47u);
    CHECK_EQ(m.weights().total_bytes(), single->file_size() - single->header_size());
    const auto a = single->view("model.layers.4.mlp.up_proj.weight");
    const auto b = m.weights().view("model.layers.4.mlp.up_proj.weight");
    CHECK(std::equal(a.bytes.begin(), a.bytes.end(), b.bytes.begin(), b.bytes.end()));
    CHECK(glq::test::contains(m.describe(), "weights       2 shards, 47 tensors"));
}

GLQ_TEST(missing_folder_and_files) {
    CHECK_THROWS_WITH(ModelDir::open(glq::test::temp_dir() / "nowhere"), "nowhere: model folder does not exist");
    CHECK_THROWS_WITH(ModelDir::open(stories() / "config.json"), "config.json: is not a folder");
    for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
        const fs::path dir = copy_of_stories(std::string("without-") + f);
        fs::remove(dir / f);
        CHECK_THROWS_WITH(ModelDir::open(dir), (dir / f).string() + ": missing: the model folder has no " + f);
    }
    const fs::path no_weights = copy_of_stories("without-weights");
    fs::remove(no_weights / "model.safetensors");
    CHECK_THROWS_WITH(ModelDir::open(no_weights), "no weights: neither model.safetensors nor model.safetensors.index.json");
    // generation_config.json is optional: greedy defaults.
    const fs::path no_gen = copy_of_stories("without-generation-config");
    fs::remove(no_gen / "generation_config.json");
    const auto m = ModelDir::open(no_gen);
    CHECK(!m.generation().from_file);
    CHECK(!m.generation().do_sample);
    CHECK(glq::test::contains(m.describe(), "no generation_config.json"));
}

GLQ_TEST(broken_files) {
    const fs::path dir = copy_of_stories("broken");
    write_text(dir / "tokenizer_config.json", "{\"add_bos_token\": tru");
    CHECK_THROWS_WITH(ModelDir::open(dir), "tokenizer_config.json: not valid JSON");
    write_text(dir / "tokenizer_config.json", "[]");
    CHECK_THROWS_WITH(ModelDir::open(dir), "tokenizer_config.json: is not a JSON object");
    fs::copy_file(stories() / "tokenizer_config.json", dir / "tokenizer_config.json", fs::copy_options::overwrite_existing);

    write_text(dir / "generation_config.json", "{\"top_p\": 1.5}");
    CHECK_THROWS_WITH(ModelDir::open(dir), "generation_config.json: key 'top_p' must lie in (0, 1]");
    fs::remove(dir / "generation_config.json");

    // The embedding table must match vocab_size x hidden_size.
    auto config = read_json(dir / "config.json");
    config["vocab_size"] = 1000;
    write_text(dir / "config.json", config.dump());
    CHECK_THROWS_WITH(ModelDir::open(dir), "model.safetensors: tensor 'model.embed_tokens.weight' has shape [512, 64] "
                                           "but config.json says [vocab_size, hidden_size] = [1000, 64]");
    config["model_type"] = "falcon";
    write_text(dir / "config.json", config.dump());
    CHECK_THROWS_WITH(ModelDir::open(dir), "config.json: unsupported model_type 'falcon'");

    // A truncated weights file is caught by the safetensors reader.
    fs::copy_file(stories() / "config.json", dir / "config.json", fs::copy_options::overwrite_existing);
    fs::resize_file(dir / "model.safetensors", 1000);
    CHECK_THROWS_WITH(ModelDir::open(dir), "model.safetensors: header length 4920 exceeds the file size of 1000 bytes");
}

GLQ_TEST(recognises_glq_quantization_config) {
    auto config = read_json(stories() / "config.json");
    CHECK(!parse_quantization_config(config, "config.json"));
    config["quantization_config"] = {{"quant_method", "glq"},
                                     {"bpw", 3.5},
                                     {"layer_bpw", {{"model.layers.0.self_attn.q_proj", 4}, {"model.layers.0.mlp.down_proj", 3}}}};
    auto q = parse_quantization_config(config, "config.json");
    CHECK(q && q->is_glq());
    CHECK_EQ(q->codebook, std::string("e8_shell"));  // the reference loaders' default
    CHECK_NEAR(q->bpw.value_or(0), 3.5, 0);
    CHECK_EQ(q->layer_bpw.size(), 2u);
    CHECK_NEAR(q->layer_bpw.at("model.layers.0.mlp.down_proj"), 3.0, 0);

    config["quantization_config"]["layer_bpw"]["model.layers.1.mlp.up_proj"] = "four";
    CHECK_THROWS_WITH(parse_quantization_config(config, "config.json"),
                      "config.json: key 'quantization_config.layer_bpw.model.layers.1.mlp.up_proj' must be a number, got a string");
    config["quantization_config"] = {{"bits", 4}};
    CHECK_THROWS_WITH(parse_quantization_config(config, "config.json"), "missing key 'quantization_config.quant_method'");
    config["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}};
    q = parse_quantization_config(config, "config.json");
    CHECK(q && !q->is_glq());

    const fs::path dir = copy_of_stories("glq");
    auto c = read_json(dir / "config.json");
    c["quantization_config"] = {{"quant_method", "glq"}, {"codebook", "e8_shell"}, {"bpw", 2}, {"layer_bpw", {{"a", 2}}}};
    write_text(dir / "config.json", c.dump());
    const auto d = ModelDir::open(dir).describe();
    CHECK_MSG(glq::test::contains(d, "quantization  glq, codebook e8_shell, 2 bpw, 1 quantized layers"), d);
}

GLQ_TEST(generation_config_values) {
    auto g = GenerationConfig::from_json(json{{"bos_token_id", 1}, {"eos_token_id", {2, 7}}, {"do_sample", true},
                                              {"temperature", 0.7}, {"top_k", 20}, {"top_p", 0.8}, {"min_p", 0.05},
                                              {"repetition_penalty", 1.1}, {"max_new_tokens", 256}, {"pad_token_id", 0}},
                                         "generation_config.json");
    CHECK_EQ(g.bos_token_id.value_or(-1), 1);
    CHECK(g.eos_token_ids == (std::vector<int64_t>{2, 7}));
    CHECK(g.do_sample);
    CHECK_NEAR(g.temperature, 0.7, 0);
    CHECK_EQ(g.top_k, 20);
    CHECK_NEAR(g.top_p, 0.8, 0);
    CHECK_NEAR(g.min_p, 0.05, 0);
    CHECK_NEAR(g.repetition_penalty, 1.1, 0);
    CHECK_EQ(g.max_new_tokens.value_or(0), 256);
    CHECK_EQ(g.pad_token_id.value_or(-1), 0);

    g = GenerationConfig::from_json(json{{"eos_token_id", 5}, {"min_p", nullptr}, {"top_k", nullptr}}, "generation_config.json");
    CHECK(g.eos_token_ids == (std::vector<int64_t>{5}));
    CHECK_EQ(g.top_k, 50);  // absent or null: transformers' defaults
    CHECK_NEAR(g.min_p, 0.0, 0);

    const GenerationConfig defaults = GenerationConfig::load(glq::test::temp_dir() / "absent.json");
    CHECK(!defaults.from_file);
    CHECK_NEAR(defaults.temperature, 1.0, 0);

    const std::string w = "generation_config.json";
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"temperature", -1}}, w), "generation_config.json: key 'temperature' must not be negative");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"top_k", -3}}, w), "key 'top_k' must not be negative");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"top_p", 0}}, w), "key 'top_p' must lie in (0, 1]");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"min_p", 2}}, w), "key 'min_p' must lie in [0, 1]");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"repetition_penalty", 0}}, w), "key 'repetition_penalty' must be positive");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"max_new_tokens", 0}}, w), "key 'max_new_tokens' must be positive, got 0");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"do_sample", 1}}, w), "key 'do_sample' must be true or false");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json{{"eos_token_id", "x"}}, w), "key 'eos_token_id' must be an integer");
    CHECK_THROWS_WITH(GenerationConfig::from_json(json::array(), w), "generation_config.json: is not a JSON object");
    const fs::path bad = glq::test::temp_dir() / "generation_config.json";
    write_text(bad, "{");
    CHECK_THROWS_WITH(GenerationConfig::load(bad), "generation_config.json: not valid JSON");
}
