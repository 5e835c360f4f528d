// HF config.json parsing: every fixture in tests/data/configs (and the two real
// configs in ../shared/data) against how transformers 5.17 itself reads them
// (tests/data/configs/expected.json, see make_expected.py), then every kind of
// bad config with its message.

#include <fstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/hf_config.h"
#include "tests/support/test.h"

namespace fs = std::filesystem;
using glq::io::ModelConfig;
using nlohmann::json;

namespace {

fs::path config_path(const std::string& key) {
    const std::string shared = "shared:";
    if (key.rfind(shared, 0) == 0) return glq::test::shared_data() / key.substr(shared.size());
    return glq::test::test_data() / "configs" / key;
}

json small_llama() {
    return json{{"model_type", "llama"},      {"architectures", {"LlamaForCausalLM"}},
                {"vocab_size", 100},          {"hidden_size", 64},
                {"intermediate_size", 128},   {"num_hidden_layers", 2},
                {"num_attention_heads", 4},   {"num_key_value_heads", 2}};
}

ModelConfig parse(const json& j) { return ModelConfig::from_json(j, "config.json"); }

} // namespace

GLQ_TEST(every_fixture_matches_transformers) {
    const json expected = json::parse(glq::read_file(glq::test::test_data() / "configs/expected.json"));
    CHECK(expected.size() >= 12u);
    for (auto it = expected.begin(); it != expected.end(); ++it) {
        const auto& e = *it;
        const ModelConfig c = ModelConfig::load(config_path(it.key()));
        const std::string at = it.key() + ": ";
        CHECK_MSG(c.model_type == e["model_type"].get<std::string>(), at << c.model_type);
        CHECK_MSG(c.architecture == e["architecture"].get<std::string>(), at << c.architecture);
        CHECK_MSG(c.num_parameters() == e["num_parameters"].get<int64_t>(), at << c.num_parameters() << " vs " << e["num_parameters"]);
        CHECK_MSG(c.vocab_size == e["vocab_size"].get<int64_t>(), at);
        CHECK_MSG(c.hidden_size == e["hidden_size"].get<int64_t>(), at);
        CHECK_MSG(c.num_hidden_layers == e["num_hidden_layers"].get<int64_t>(), at);
        CHECK_MSG(c.num_attention_heads == e["num_attention_heads"].get<int64_t>(), at);
        CHECK_MSG(c.num_key_value_heads == e["num_key_value_heads"].get<int64_t>(), at << c.num_key_value_heads);
        CHECK_MSG(c.head_dim == e["head_dim"].get<int64_t>(), at << c.head_dim);
        CHECK_MSG(c.max_position_embeddings == e["max_position_embeddings"].get<int64_t>(), at << c.max_position_embeddings);
        CHECK_MSG(c.rms_norm_eps == e["rms_norm_eps"].get<double>(), at << c.rms_norm_eps);
        CHECK_MSG(c.rope_theta == e["rope_theta"].get<double>(), at << c.rope_theta);
        CHECK_MSG(c.rope_scaling.type == e["rope_type"].get<std::string>(), at << c.rope_scaling.type);
        CHECK_MSG(c.rope_scaling.factor == e["rope_factor"].get<double>(), at << c.rope_scaling.factor);
        CHECK_MSG(c.tie_word_embeddings == e["tie_word_embeddings"].get<bool>(), at);
        CHECK_MSG(c.attention_bias == e["attention_bias"].get<bool>(), at);
        CHECK_MSG(c.attention_out_bias == e["attention_out_bias"].get<bool>(), at);
        CHECK_MSG(c.mlp_bias == e["mlp_bias"].get<bool>(), at);
        CHECK_MSG(c.qk_norm == e["qk_norm"].get<bool>(), at);
        CHECK_MSG(c.use_rope == e["use_rope"].get<std::vector<bool>>(), at << "use_rope");
        CHECK_MSG(c.sliding_layers == e["sliding_layers"].get<std::vector<bool>>(), at << "sliding_layers");
        if (e["sliding_window"].is_null()) CHECK_MSG(!c.sliding_window, at << *c.sliding_window);
        else CHECK_MSG(c.sliding_window == e["sliding_window"].get<int64_t>(), at << "sliding_window");
        CHECK_MSG(c.torch_dtype == e["dtype"].get<std::string>(), at << c.torch_dtype);
        if (e["bos_token_id"].is_null()) CHECK_MSG(!c.bos_token_id, at);
        else CHECK_MSG(c.bos_token_id == e["bos_token_id"].get<int64_t>(), at);
        CHECK_MSG(c.eos_token_ids == e["eos_token_ids"].get<std::vector<int64_t>>(), at);
        CHECK(c.raw.is_object());
    }
}

GLQ_TEST(stories260k_config) {
    const auto c = ModelConfig::load(glq::test::shared_data() / "models/stories260K/config.json");
    CHECK_EQ(c.model_type, std::string("llama"));
    CHECK_EQ(c.hidden_size, 64);
    CHECK_EQ(c.num_key_value_heads, 4);
    CHECK_EQ(c.head_dim, 8);
    CHECK_EQ(c.torch_dtype, std::string("float32"));
    CHECK(c.tie_word_embeddings);
    CHECK(!c.pad_token_id);  // null in the file
    CHECK_EQ(c.rope_scaling.type, std::string("default"));
    CHECK_NEAR(c.rms_norm_eps, 1e-5, 0);
}

GLQ_TEST(llama3_rope_and_smollm3_nope) {
    const auto l = ModelConfig::load(glq::test::test_data() / "configs/llama-3.2-1b-instruct.json");
    CHECK_EQ(l.rope_scaling.type, std::string("llama3"));
    CHECK_NEAR(l.rope_scaling.factor, 32.0, 0);
    CHECK_NEAR(l.rope_scaling.low_freq_factor, 1.0, 0);
    CHECK_NEAR(l.rope_scaling.high_freq_factor, 4.0, 0);
    CHECK_EQ(l.rope_scaling.original_max_position_embeddings, 8192);
    CHECK(!l.any_nope_layer());

    const auto s = ModelConfig::load(glq::test::test_data() / "configs/smollm3-3b.json");
    CHECK(s.any_nope_layer());
    CHECK(s.use_rope[0] && s.use_rope[1] && s.use_rope[2] && !s.use_rope[3] && !s.use_rope[35]);
    CHECK_EQ(s.pad_token_id.value_or(-1), 128004);
}

GLQ_TEST(rope_sources_and_priority) {
    auto j = small_llama();
    // transformers 5: rope_parameters, theta inside it wins over the top-level key.
    j["rope_theta"] = 1000.0;
    j["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 4.0}, {"rope_theta", 2000.0}};
    auto c = parse(j);
    CHECK_EQ(c.rope_scaling.type, std::string("linear"));
    CHECK_NEAR(c.rope_scaling.factor, 4.0, 0);
    CHECK_NEAR(c.rope_theta, 2000.0, 0);
    // rope_scaling (transformers 4) wins over rope_parameters, as in transformers.
    j["rope_scaling"] = {{"type", "default"}};
    c = parse(j);
    CHECK_EQ(c.rope_scaling.type, std::string("default"));
    CHECK_NEAR(c.rope_theta, 1000.0, 0);
    // null rope_scaling falls back to rope_parameters.
    j["rope_scaling"] = nullptr;
    CHECK_EQ(parse(j).rope_scaling.type, std::string("linear"));
}

GLQ_TEST(token_ids_int_list_or_null) {
    auto j = small_llama();
    CHECK_EQ(parse(j).bos_token_id.value_or(-1), 1);  // LlamaConfig defaults
    CHECK(parse(j).eos_token_ids == (std::vector<int64_t>{2}));
    j["bos_token_id"] = nullptr;
    j["eos_token_id"] = {7, 8};
    CHECK(!parse(j).bos_token_id);
    CHECK(parse(j).eos_token_ids == (std::vector<int64_t>{7, 8}));
    j["eos_token_id"] = nullptr;
    CHECK(parse(j).eos_token_ids.empty());
    j["eos_token_id"] = {7, "x"};
    CHECK_THROWS_WITH(parse(j), "config.json: key 'eos_token_id' must be an integer, got a string \"x\"");
}

GLQ_TEST(integral_floats_are_integers) {
    auto j = small_llama();
    j["hidden_size"] = 64.0;
    CHECK_EQ(parse(j).hidden_size, 64);
    j["hidden_size"] = 64.5;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'hidden_size' must be an integer, got a number 64.5");
}

// ---- bad configs ----------------------------------------------------------------

GLQ_TEST(missing_keys) {
    for (const char* key : {"model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads"}) {
        auto j = small_llama();
        j.erase(key);
        CHECK_THROWS_WITH(parse(j), std::string("config.json: missing key '") + key + "'");
        j[key] = nullptr;
        CHECK_THROWS_WITH(parse(j), std::string("config.json: missing key '") + key + "'");
    }
}

GLQ_TEST(wrong_types) {
    auto j = small_llama();
    j["hidden_size"] = "576";
    CHECK_THROWS_WITH(parse(j), "config.json: key 'hidden_size' must be an integer, got a string \"576\"");
    j = small_llama();
    j["tie_word_embeddings"] = "yes";
    CHECK_THROWS_WITH(parse(j), "config.json: key 'tie_word_embeddings' must be true or false, got a string");
    j = small_llama();
    j["rms_norm_eps"] = {1};
    CHECK_THROWS_WITH(parse(j), "config.json: key 'rms_norm_eps' must be a number, got a list");
    j = small_llama();
    j["model_type"] = 3;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'model_type' must be a string, got an integer");
    j = small_llama();
    j["num_hidden_layers"] = 0;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'num_hidden_layers' must be positive, got 0");
    j = small_llama();
    j["architectures"] = "LlamaForCausalLM";
    CHECK_THROWS_WITH(parse(j), "config.json: key 'architectures' must be a list of class names");
    CHECK_THROWS_WITH(parse(json::array()), "config.json: is not a JSON object");
}

GLQ_TEST(unsupported_model_type) {
    auto j = small_llama();
    j["model_type"] = "gpt2";
    CHECK_THROWS_WITH(parse(j),
                      "config.json: unsupported model_type 'gpt2' (supported: llama, mistral, qwen2, qwen3, smollm3)");
}

GLQ_TEST(inconsistent_dims) {
    auto j = small_llama();
    j["num_attention_heads"] = 6;
    j["num_key_value_heads"] = 6;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'hidden_size' (64) is not divisible by 'num_attention_heads' (6) "
                                "and 'head_dim' is not given");
    j["head_dim"] = 16;  // an explicit head_dim makes it valid
    CHECK_EQ(parse(j).head_dim, 16);
    j = small_llama();
    j["num_key_value_heads"] = 3;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'num_key_value_heads' (3) does not divide 'num_attention_heads' (4)");
    j = small_llama();
    j.erase("num_key_value_heads");
    CHECK_EQ(parse(j).num_key_value_heads, 4);  // llama: defaults to the head count (MHA)
}

GLQ_TEST(bad_rope) {
    auto j = small_llama();
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
    CHECK_THROWS_WITH(parse(j), "config.json: key 'rope_scaling.rope_type' is 'yarn'; supported RoPE types: default, linear, llama3");
    j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0}};
    CHECK_THROWS_WITH(parse(j), "config.json: missing key 'rope_scaling.original_max_position_embeddings'");
    j["original_max_position_embeddings"] = 4096;  // the top-level key is accepted, as transformers does
    CHECK_EQ(parse(j).rope_scaling.original_max_position_embeddings, 4096);
    j["rope_scaling"] = {{"type", "linear"}};
    CHECK_THROWS_WITH(parse(j), "config.json: missing key 'rope_scaling.factor'");
    j["rope_scaling"] = {{"type", "linear"}, {"factor", -2}};
    CHECK_THROWS_WITH(parse(j), "config.json: key 'rope_scaling.factor' must be a positive number");
    j["rope_scaling"] = "linear";
    CHECK_THROWS_WITH(parse(j), "config.json: key 'rope_scaling' must be an object, got a string");
    j["rope_scaling"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.5}};
    CHECK_THROWS_WITH(parse(j), "partial rotary embeddings are not supported");
    j.erase("rope_scaling");
    j["rope_theta"] = 0;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'rope_theta' must be a positive number");
}

GLQ_TEST(bad_smollm3_layers_and_sliding) {
    auto j = small_llama();
    j["model_type"] = "smollm3";
    j["no_rope_layers"] = {1};
    CHECK_THROWS_WITH(parse(j), "config.json: key 'no_rope_layers' has 1 entries for 2 layers");
    j["no_rope_layers"] = {1, 2};
    CHECK_THROWS_WITH(parse(j), "config.json: key 'no_rope_layers' entry 1 is 2, not 0 or 1");
    j.erase("no_rope_layers");
    j["no_rope_layer_interval"] = 0;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'no_rope_layer_interval' must be positive, got 0");
    j.erase("no_rope_layer_interval");
    j["use_sliding_window"] = true;
    j["sliding_window"] = -5;
    CHECK_THROWS_WITH(parse(j), "config.json: key 'sliding_window' must be positive, got -5");
    j["sliding_window"] = 16;
    j["layer_types"] = {"full_attention", "chunked_attention"};
    CHECK_THROWS_WITH(parse(j), "config.json: key 'layer_types' entry 1 is \"chunked_attention\"");
    j["layer_types"] = {"full_attention", "sliding_attention"};
    const auto c = parse(j);
    CHECK(c.sliding_layers == (std::vector<bool>{false, true}));
    CHECK_EQ(c.sliding_window.value_or(0), 16);
}

GLQ_TEST(bad_dtype_and_activation) {
    auto j = small_llama();
    j["torch_dtype"] = "float8_e4m3fn";
    CHECK_THROWS_WITH(parse(j), "config.json: key 'torch_dtype' is 'float8_e4m3fn'; supported: float32, float16, bfloat16");
    j["dtype"] = "bfloat16";  // transformers 5's key wins
    CHECK_EQ(parse(j).torch_dtype, std::string("bfloat16"));
    j = small_llama();
    j["hidden_act"] = "gelu";
    CHECK_THROWS_WITH(parse(j), "config.json: key 'hidden_act' is 'gelu'; only 'silu' is supported for llama");
}

GLQ_TEST(load_errors_name_the_file) {
    const fs::path dir = glq::test::temp_dir();
    CHECK_THROWS_WITH(ModelConfig::load(dir / "absent" / "config.json"), "absent/config.json: file does not exist");
    std::ofstream(dir / "config.json") << "{\"model_type\": \"llama\",";
    CHECK_THROWS_WITH(ModelConfig::load(dir / "config.json"), "config.json: not valid JSON");
    std::ofstream(dir / "config.json") << "{\"model_type\": \"llama\"}";
    CHECK_THROWS_WITH(ModelConfig::load(dir / "config.json"), (dir / "config.json").string() + ": missing key 'vocab_size'");
}
