// GGUF import: name mapping, the Q/K un-permutation against llama.cpp's
// converter formula, config/tokenizer rebuilt from metadata (compared with
// the HF originals), a full import of a tiny llama (tests/data/gguf), and the
// failure paths: unsupported architecture, tokenizer or tensor type, missing
// tensor, existing output, cancel. A failed import leaves nothing behind.

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/gguf.h"
#include "core/io/gguf_dequant.h"
#include "core/io/gguf_import.h"
#include "core/io/safetensors.h"
#include "tests/support/test.h"

using namespace glq::io;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

fs::path tiny_llama() { return glq::test::test_data() / "gguf/tiny-llama.gguf"; }

json read_json(const fs::path& p) { return json::parse(glq::read_file(p)); }

std::vector<float> floats(const TensorView& v) {
    std::vector<float> out(v.bytes.size() / 4);
    std::memcpy(out.data(), v.bytes.data(), v.bytes.size());
    return out;
}

// A copy of tiny-llama.gguf with `from` replaced by `to` (same length) at its
// first occurrence: a precise way to make one field of a valid file wrong.
fs::path patched_tiny_llama(const std::string& from, const std::string& to) {
    std::string bytes = glq::read_file(tiny_llama());
    const std::size_t at = bytes.find(from);
    CHECK_MSG(at != std::string::npos && from.size() == to.size(), "cannot patch '" << from << "'");
    bytes.replace(at, from.size(), to);
    const fs::path p = glq::test::temp_dir() / "patched.gguf";
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
}

// Nothing may be left next to the output folder: no partial directory, no temporaries.
void expect_no_output(const fs::path& out) {
    CHECK_MSG(!fs::exists(out), out << " exists after a failed import");
    for (const auto& e : fs::directory_iterator(out.parent_path()))
        CHECK_MSG(e.path().filename().string().find(out.filename().string()) == std::string::npos,
                  "left behind: " << e.path());
}

} // namespace

GLQ_TEST(maps_gguf_tensor_names_to_hf) {
    CHECK_EQ(hf_tensor_name("token_embd.weight"), std::string("model.embed_tokens.weight"));
    CHECK_EQ(hf_tensor_name("output_norm.weight"), std::string("model.norm.weight"));
    CHECK_EQ(hf_tensor_name("output.weight"), std::string("lm_head.weight"));
    CHECK_EQ(hf_tensor_name("blk.0.attn_q.weight"), std::string("model.layers.0.self_attn.q_proj.weight"));
    CHECK_EQ(hf_tensor_name("blk.12.attn_k.weight"), std::string("model.layers.12.self_attn.k_proj.weight"));
    CHECK_EQ(hf_tensor_name("blk.3.attn_v.weight"), std::string("model.layers.3.self_attn.v_proj.weight"));
    CHECK_EQ(hf_tensor_name("blk.3.attn_output.weight"), std::string("model.layers.3.self_attn.o_proj.weight"));
    CHECK_EQ(hf_tensor_name("blk.3.attn_q.bias"), std::string("model.layers.3.self_attn.q_proj.bias"));
    CHECK_EQ(hf_tensor_name("blk.29.ffn_gate.weight"), std::string("model.layers.29.mlp.gate_proj.weight"));
    CHECK_EQ(hf_tensor_name("blk.29.ffn_up.weight"), std::string("model.layers.29.mlp.up_proj.weight"));
    CHECK_EQ(hf_tensor_name("blk.29.ffn_down.weight"), std::string("model.layers.29.mlp.down_proj.weight"));
    CHECK_EQ(hf_tensor_name("blk.7.attn_norm.weight"), std::string("model.layers.7.input_layernorm.weight"));
    CHECK_EQ(hf_tensor_name("blk.7.ffn_norm.weight"), std::string("model.layers.7.post_attention_layernorm.weight"));
    CHECK_EQ(hf_tensor_name("blk.7.ffn_gate_exps.weight"), std::string());
    CHECK_EQ(hf_tensor_name("blk.x.attn_q.weight"), std::string());
    CHECK_EQ(hf_tensor_name("blk.01.attn_q.weight"), std::string());
    CHECK_EQ(hf_tensor_name("rope_freqs.weight"), std::string());
}

GLQ_TEST(unpermute_inverts_llama_cpp_permute) {
    // One head of 4 rows: llama.cpp stores HF rows in the order 0, 2, 1, 3.
    std::vector<float> one_head = {0, 0, 2, 2, 1, 1, 3, 3};  // 4 rows x 2 cols, GGUF order
    unpermute_qk_rows(one_head, 4, 2, 1, "test");
    CHECK_EQ(one_head, (std::vector<float>{0, 0, 1, 1, 2, 2, 3, 3}));
    // Three heads of 8 rows, 5 columns: apply the converter's permute
    // (reshape(n_head, 2, hd/2, cols).swapaxes(1, 2)) literally, then undo it.
    const int64_t heads = 3, hd = 8, cols = 5, rows = heads * hd;
    std::vector<float> hf(static_cast<std::size_t>(rows * cols));
    for (std::size_t i = 0; i < hf.size(); ++i) hf[i] = static_cast<float>(i);
    std::vector<float> permuted(hf.size());
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t a = 0; a < hd / 2; ++a)      // axis of size hd/2 after the swap
            for (int64_t b = 0; b < 2; ++b)       // axis of size 2 after the swap
                for (int64_t c = 0; c < cols; ++c)
                    permuted[static_cast<std::size_t>(((h * (hd / 2) + a) * 2 + b) * cols + c)] =
                        hf[static_cast<std::size_t>(((h * 2 + b) * (hd / 2) + a) * cols + c)];
    CHECK(permuted != hf);
    unpermute_qk_rows(permuted, rows, cols, heads, "test");
    CHECK(permuted == hf);
    std::vector<float> odd(6 * 2);
    CHECK_THROWS_WITH(unpermute_qk_rows(odd, 6, 2, 4, "where"), "cannot undo the Q/K permutation");
}

GLQ_TEST(gpt2_tokenizer_rebuilt_from_gguf_equals_hf_original) {
    // llama.cpp's GPT-2 vocab file against OpenAI GPT-2's HF tokenizer.json.
    auto g = GgufFile::open(glq::test::shared_data() / "models/gguf-fixtures/ggml-vocab-gpt-2.gguf");
    const json ours = tokenizer_json_from_gguf(*g);
    const json hf = read_json(glq::test::shared_data() / "tokenizers/gpt2/tokenizer.json");
    CHECK(ours.at("model").at("vocab") == hf.at("model").at("vocab"));
    CHECK_EQ(ours.at("model").at("merges").size(), hf.at("model").at("merges").size());
    CHECK(ours.at("model").at("merges") == hf.at("model").at("merges"));
    CHECK(ours.at("pre_tokenizer") == hf.at("pre_tokenizer"));
    CHECK(ours.at("decoder") == hf.at("decoder"));
    CHECK_EQ(ours.at("model").at("type"), std::string("BPE"));
    CHECK_EQ(ours.at("model").at("byte_fallback"), false);
    CHECK_EQ(ours.at("added_tokens").size(), 1u);
    CHECK_EQ(ours.at("added_tokens")[0].at("id"), 50256);
    CHECK_EQ(ours.at("added_tokens")[0].at("content"), std::string("<|endoftext|>"));
    CHECK_EQ(ours.at("added_tokens")[0].at("special"), true);
    const json config = tokenizer_config_from_gguf(*g);
    CHECK_EQ(config.at("bos_token"), std::string("<|endoftext|>"));
    CHECK_EQ(config.at("eos_token"), std::string("<|endoftext|>"));
    CHECK_EQ(config.at("add_bos_token"), false);
    // gpt2's context_length is under "gpt2.", which the tokenizer config reads too.
    CHECK_EQ(config.at("model_max_length"), 1024);
}

GLQ_TEST(demo_model_config_agrees_with_hf_config) {
    const fs::path demo = fs::path(glq::test::env("GLQ_SOURCE_DIR").empty() ? "." : glq::test::env("GLQ_SOURCE_DIR")) /
                          "models/SmolLM2-135M-Instruct.Q4_1.gguf";
    if (!fs::exists(demo)) SKIP("demo GGUF not present: " + demo.string());
    auto g = GgufFile::open(demo);
    const json ours = hf_config_from_gguf(*g, DType::BF16);
    const json hf = read_json(glq::test::shared_data() / "tokenizers/smollm2/config.json");
    for (const char* key : {"architectures", "model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "num_key_value_heads", "max_position_embeddings", "rms_norm_eps",
                            "rope_theta", "rope_scaling", "vocab_size", "tie_word_embeddings", "hidden_act",
                            "attention_bias", "mlp_bias", "bos_token_id", "eos_token_id", "pad_token_id",
                            "torch_dtype"}) {
        CHECK_MSG(ours.contains(key), key);
        CHECK_MSG(ours.at(key) == hf.at(key), key << ": " << ours.at(key).dump() << " vs " << hf.at(key).dump());
    }
    CHECK_EQ(ours.at("head_dim"), 64);
    CHECK_EQ(ours.at("rms_norm_eps").dump(), std::string("1e-05"));
    const json tc = tokenizer_config_from_gguf(*g);
    CHECK_EQ(tc.at("eos_token"), std::string("<|im_end|>"));
    CHECK_EQ(tc.at("bos_token"), std::string("<|im_start|>"));
    CHECK_EQ(tc.at("model_max_length"), 8192);
    CHECK(tc.at("chat_template").get<std::string>().find("<|im_start|>") != std::string::npos);
    const json tok = tokenizer_json_from_gguf(*g);
    const json hf_tok = read_json(glq::test::shared_data() / "tokenizers/smollm2/tokenizer.json");
    for (const char* key : {"added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder"})
        CHECK_MSG(tok.at(key) == hf_tok.at(key), key << ": " << tok.at(key).dump().substr(0, 300));
    CHECK(tok.at("model").at("vocab") == hf_tok.at("model").at("vocab"));
    CHECK(tok.at("model").at("merges") == hf_tok.at("model").at("merges"));
}

GLQ_TEST(imports_tiny_llama_in_f32_and_bf16) {
    const fs::path out = glq::test::temp_dir() / "tiny";
    std::vector<glq::Progress> seen;
    GgufImportOptions options;
    options.dtype = DType::F32;
    options.progress = [&](const glq::Progress& p) { seen.push_back(p); };
    const GgufImportSummary s = import_gguf(tiny_llama(), out, options);
    CHECK_EQ(s.architecture, std::string("llama"));
    CHECK_EQ(s.tensors, 20);
    CHECK(s.tied_embeddings);
    for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                          "model.safetensors"})
        CHECK_MSG(fs::exists(out / f), f);
    // Progress: every tensor, in order, ending with the whole count and the write.
    CHECK(seen.size() >= 22);
    CHECK_EQ(seen.front().stage, std::string("import"));
    CHECK_EQ(seen.front().total, 20);
    CHECK_EQ(seen.front().item, std::string("model.embed_tokens.weight"));
    CHECK_EQ(seen.back().stage, std::string("write"));
    CHECK_EQ(seen.back().done, 1);

    const json config = read_json(out / "config.json");
    CHECK_EQ(config.at("num_hidden_layers"), 2);
    CHECK_EQ(config.at("num_key_value_heads"), 2);
    CHECK_EQ(config.at("vocab_size"), 401);
    CHECK_EQ(config.at("rms_norm_eps").dump(), std::string("1e-06"));
    CHECK_EQ(config.at("torch_dtype"), std::string("float32"));
    CHECK_EQ(config.at("tie_word_embeddings"), true);
    const json gen = read_json(out / "generation_config.json");
    CHECK_EQ(gen.at("eos_token_id"), 400);

    auto st = SafetensorsFile::open(out / "model.safetensors");
    CHECK_EQ(st->tensors().size(), 20u);
    CHECK(st->find("lm_head.weight") == nullptr);
    CHECK_EQ(st->metadata().at("format"), std::string("pt"));
    const TensorInfo* q = st->find("model.layers.0.self_attn.q_proj.weight");
    CHECK(q != nullptr);
    CHECK_EQ(q->dtype, DType::F32);
    CHECK_EQ(q->shape, (std::vector<int64_t>{32, 32}));
    CHECK_EQ(st->find("model.layers.1.self_attn.k_proj.weight")->shape, (std::vector<int64_t>{16, 32}));
    CHECK_EQ(st->find("model.embed_tokens.weight")->shape, (std::vector<int64_t>{401, 32}));

    // Q/K: back in HF row order, exactly the values the converter permuted.
    auto hf = SafetensorsFile::open(glq::test::test_data() / "gguf/tiny-llama.hf-qk.safetensors");
    for (const char* name : {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"})
        CHECK_MSG(floats(st->view(name)) == floats(hf->view(name)), name);

    // Other tensors: the dequantized GGUF data, untouched.
    auto g = GgufFile::open(tiny_llama());
    const GgufTensorInfo* up = g->find_tensor("blk.1.ffn_up.weight");
    std::vector<float> expected(static_cast<std::size_t>(up->numel()));
    dequantize(up->type, g->tensor_data(*up), expected);
    CHECK(floats(st->view("model.layers.1.mlp.up_proj.weight")) == expected);

    // bf16: the round-to-nearest-even of the f32 import, tensor by tensor.
    const fs::path out16 = glq::test::temp_dir() / "tiny16";
    import_gguf(tiny_llama(), out16, {});
    auto st16 = SafetensorsFile::open(out16 / "model.safetensors");
    const json config16 = read_json(out16 / "config.json");
    CHECK_EQ(config16.at("torch_dtype"), std::string("bfloat16"));
    for (const TensorInfo& t : st->tensors()) {
        const TensorView v16 = st16->view(t.name);
        CHECK_EQ(v16.info->dtype, DType::BF16);
        const std::vector<float> f32 = floats(st->view(t.name));
        std::vector<uint16_t> b16(f32.size());
        std::memcpy(b16.data(), v16.bytes.data(), v16.bytes.size());
        for (std::size_t i = 0; i < f32.size(); ++i) CHECK_EQ(b16[i], f32_to_bf16(f32[i]));
    }
}

GLQ_TEST(refuses_existing_output_unless_overwrite) {
    const fs::path out = glq::test::temp_dir() / "exists";
    fs::create_directory(out);
    std::ofstream(out / "keep.txt") << "mine";
    CHECK_THROWS_WITH(import_gguf(tiny_llama(), out, {}), "already exists");
    CHECK(fs::exists(out / "keep.txt"));
    GgufImportOptions options;
    options.overwrite = true;
    import_gguf(tiny_llama(), out, options);
    CHECK(!fs::exists(out / "keep.txt"));
    CHECK(fs::exists(out / "model.safetensors"));
}

GLQ_TEST(cancel_leaves_nothing) {
    const fs::path out = glq::test::temp_dir() / "cancelled";
    glq::CancelToken cancel;
    GgufImportOptions options;
    options.cancel = &cancel;
    options.progress = [&](const glq::Progress& p) {
        if (p.done == 5) cancel.cancel();
    };
    bool cancelled = false;
    try {
        import_gguf(tiny_llama(), out, options);
    } catch (const glq::Cancelled&) {
        cancelled = true;
    }
    CHECK(cancelled);
    expect_no_output(out);
}

GLQ_TEST(rejects_unsupported_inputs_with_clear_errors) {
    const fs::path out = glq::test::temp_dir() / "out";
    // Architecture (same-length patch of general.architecture's value).
    CHECK_THROWS_WITH(import_gguf(patched_tiny_llama(std::string("\x05\0\0\0\0\0\0\0llama", 13),
                                                     std::string("\x05\0\0\0\0\0\0\0gemma", 13)),
                                  out, {}),
                      "architecture 'gemma' is not supported for import (supported: llama)");
    expect_no_output(out);
    // Pre-tokenizer.
    CHECK_THROWS_WITH(import_gguf(patched_tiny_llama(std::string("\x05\0\0\0\0\0\0\0gpt-2", 13),
                                                     std::string("\x05\0\0\0\0\0\0\0gpt-9", 13)),
                                  out, {}),
                      "tokenizer.ggml.pre 'gpt-9' is not supported (supported: deepseek-r1-qwen, gpt-2,");
    // A tensor type without a dequantizer: Q4_0 (2) relabelled IQ4_NL (20), same block size and bytes.
    {
        std::string name = "blk.0.ffn_down.weight";
        std::string info = std::string("\x15\0\0\0\0\0\0\0", 8) + name;
        std::string tail(4 + 16, '\0');  // n_dims=2, dims 64, 32
        tail[0] = 2;
        tail[4] = 64;
        tail[12] = 32;
        CHECK_THROWS_WITH(
            import_gguf(patched_tiny_llama(info + tail + std::string("\x02\0\0\0", 4), info + tail + std::string("\x14\0\0\0", 4)),
                        out, {}),
            "tensor 'blk.0.ffn_down.weight' has type IQ4_NL, which the importer cannot dequantize (supported: F32, F16");
    }
    // A missing tensor (renamed to something a llama has no use for).
    CHECK_THROWS_WITH(import_gguf(patched_tiny_llama("blk.1.ffn_up.weight", "blk.1.ffn_xx.weight"), out, {}),
                      "tensor 'blk.1.ffn_up.weight' is missing");
    CHECK_THROWS_WITH(import_gguf(glq::test::shared_data() / "models/gguf-fixtures/ggml-vocab-gpt-2.gguf", out, {}),
                      "architecture 'gpt2' is not supported for import");
    GgufImportOptions f16;
    f16.dtype = DType::F16;
    CHECK_THROWS_WITH(import_gguf(tiny_llama(), out, f16), "cannot import weights as F16");
    CHECK_THROWS_WITH(import_gguf(glq::test::temp_dir() / "absent.gguf", out, {}), "absent.gguf: cannot open");
    expect_no_output(out);
}
