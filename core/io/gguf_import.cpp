// GGUF -> HF directory. Everything is validated (architecture, tokenizer,
// every tensor's name, type and shape) before the output directory is
// created; the weights are then dequantized tensor by tensor with progress
// and cancel, and the directory is renamed into place only when complete.

#include "core/io/gguf_import.h"

#include <cstring>
#include <optional>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/gguf_dequant.h"

namespace glq::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Per-layer GGUF tensor suffixes and their HF names (llama.cpp's
// tensor_mapping.py for the llama architecture, read the other way).
struct LayerTensor {
    const char* gguf;
    const char* hf;
};
constexpr LayerTensor kLayerTensors[] = {
    {"attn_norm.weight", "input_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},
    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},
    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"attn_q.bias", "self_attn.q_proj.bias"},
    {"attn_k.bias", "self_attn.k_proj.bias"},
    {"attn_v.bias", "self_attn.v_proj.bias"},
    {"attn_output.bias", "self_attn.o_proj.bias"},
    {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},
    {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

// One tensor to convert: where it comes from, its HF name and shape, and
// how many heads its rows are permuted over (0 = not permuted).
struct PlannedTensor {
    const GgufTensorInfo* source = nullptr;
    std::string hf_name;
    std::vector<int64_t> shape;
    int64_t permuted_heads = 0;
};

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string supported_types_text() {
    std::string s;
    for (uint32_t t = 0; t < 64; ++t) {
        const GgmlTypeInfo* info = ggml_type_info(t);
        if (info && can_dequantize(static_cast<GgmlType>(t))) s += (s.empty() ? "" : ", ") + std::string(info->name);
    }
    return s;
}

// Validates every tensor of the file against the config and lists the HF
// tensors in the order HF checkpoints use.
std::vector<PlannedTensor> plan_tensors(const GgufFile& g, const json& config) {
    const int64_t hidden = config.at("hidden_size"), heads = config.at("num_attention_heads"),
                  kv_heads = config.at("num_key_value_heads"), head_dim = config.at("head_dim"),
                  ffn = config.at("intermediate_size"), layers = config.at("num_hidden_layers"),
                  vocab = config.at("vocab_size");
    const bool bias = config.at("attention_bias");

    std::vector<PlannedTensor> plan;
    std::vector<bool> used(g.tensors().size(), false);
    auto add = [&](const std::string& gguf_name, std::vector<int64_t> shape, int64_t permuted_heads, bool required) {
        const GgufTensorInfo* t = g.find_tensor(gguf_name);
        if (!t) {
            if (required) throw Error(g.path(), "tensor '" + gguf_name + "' is missing");
            return;
        }
        if (t->shape() != shape)
            throw Error(g.path(), "tensor '" + gguf_name + "' has shape " + shape_text(t->shape()) + ", expected " +
                                      shape_text(shape) + " from the model's metadata");
        if (!can_dequantize(t->type))
            throw Error(g.path(), "tensor '" + gguf_name + "' has type " + ggml_type_name(t->type) +
                                      ", which the importer cannot dequantize (supported: " + supported_types_text() + ")");
        used[static_cast<std::size_t>(t - g.tensors().data())] = true;
        plan.push_back({t, hf_tensor_name(gguf_name), std::move(shape), permuted_heads});
    };

    add("token_embd.weight", {vocab, hidden}, 0, true);
    for (int64_t l = 0; l < layers; ++l) {
        const std::string blk = "blk." + std::to_string(l) + ".";
        add(blk + "attn_norm.weight", {hidden}, 0, true);
        add(blk + "attn_q.weight", {heads * head_dim, hidden}, heads, true);
        add(blk + "attn_k.weight", {kv_heads * head_dim, hidden}, kv_heads, true);
        add(blk + "attn_v.weight", {kv_heads * head_dim, hidden}, 0, true);
        add(blk + "attn_output.weight", {hidden, heads * head_dim}, 0, true);
        if (bias) {  // HF's attention_bias puts a bias on all four projections
            add(blk + "attn_q.bias", {heads * head_dim}, heads, true);
            add(blk + "attn_k.bias", {kv_heads * head_dim}, kv_heads, true);
            add(blk + "attn_v.bias", {kv_heads * head_dim}, 0, true);
            add(blk + "attn_output.bias", {hidden}, 0, true);
        }
        add(blk + "ffn_norm.weight", {hidden}, 0, true);
        add(blk + "ffn_gate.weight", {ffn, hidden}, 0, true);
        add(blk + "ffn_up.weight", {ffn, hidden}, 0, true);
        add(blk + "ffn_down.weight", {hidden, ffn}, 0, true);
    }
    add("output_norm.weight", {hidden}, 0, true);
    add("output.weight", {vocab, hidden}, 0, false);

    for (std::size_t i = 0; i < used.size(); ++i)
        if (!used[i])
            throw Error(g.path(), "tensor '" + g.tensors()[i].name +
                                      "' has no counterpart in an HF llama model (unsupported model variant)");
    return plan;
}

std::vector<std::byte> to_bytes(const std::vector<float>& values, DType dtype) {
    std::vector<std::byte> out;
    if (dtype == DType::F32) {
        out.resize(values.size() * 4);
        std::memcpy(out.data(), values.data(), out.size());
    } else {
        out.resize(values.size() * 2);
        for (std::size_t i = 0; i < values.size(); ++i) {
            const uint16_t b = f32_to_bf16(values[i]);
            std::memcpy(out.data() + 2 * i, &b, 2);
        }
    }
    return out;
}

// JSON text of a file we are about to write; metadata strings that are not
// valid UTF-8 cannot go into JSON, and that is the GGUF's fault.
std::string json_text(const json& j, const std::string& gguf_path, const char* file) {
    try {
        return j.dump(2) + "\n";
    } catch (const json::exception& e) {
        throw Error(gguf_path, std::string("cannot write ") + file + ": the tokenizer metadata is not valid UTF-8 (" +
                                   e.what() + ")");
    }
}

} // namespace

std::string hf_tensor_name(const std::string& gguf_name) {
    if (gguf_name == "token_embd.weight") return "model.embed_tokens.weight";
    if (gguf_name == "output_norm.weight") return "model.norm.weight";
    if (gguf_name == "output.weight") return "lm_head.weight";
    if (!gguf_name.starts_with("blk.")) return {};
    const std::size_t dot = gguf_name.find('.', 4);
    if (dot == std::string::npos || dot == 4) return {};
    const std::string layer = gguf_name.substr(4, dot - 4);
    if (layer.find_first_not_of("0123456789") != std::string::npos || (layer.size() > 1 && layer[0] == '0'))
        return {};
    const std::string suffix = gguf_name.substr(dot + 1);
    for (const auto& t : kLayerTensors)
        if (suffix == t.gguf) return "model.layers." + layer + "." + t.hf;
    return {};
}

void unpermute_qk_rows(std::vector<float>& data, int64_t rows, int64_t cols, int64_t n_head, const std::string& where) {
    if (n_head <= 0 || rows % n_head != 0 || (rows / n_head) % 2 != 0 ||
        static_cast<int64_t>(data.size()) != rows * cols)
        throw Error(where, "cannot undo the Q/K permutation: " + std::to_string(rows) + " rows over " +
                               std::to_string(n_head) + " heads");
    // llama.cpp: w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2).reshape(rows, cols),
    // so GGUF row h*hd + 2*i + j came from HF row h*hd + j*hd/2 + i.
    const int64_t head_dim = rows / n_head, half = head_dim / 2;
    std::vector<float> out(data.size());
    for (int64_t h = 0; h < n_head; ++h)
        for (int64_t i = 0; i < half; ++i)
            for (int64_t j = 0; j < 2; ++j) {
                const int64_t gguf_row = h * head_dim + 2 * i + j;
                const int64_t hf_row = h * head_dim + j * half + i;
                std::memcpy(out.data() + hf_row * cols, data.data() + gguf_row * cols,
                            static_cast<std::size_t>(cols) * sizeof(float));
            }
    data.swap(out);
}

GgufImportSummary import_gguf(const fs::path& gguf_path, const fs::path& out_dir, const GgufImportOptions& options) {
    if (options.dtype != DType::BF16 && options.dtype != DType::F32)
        throw Error(out_dir.string(), std::string("cannot import weights as ") + dtype_name(options.dtype) +
                                          " (supported: BF16, F32)");
    auto report = [&](const Progress& p) {
        if (options.progress) options.progress(p);
    };
    auto check_cancel = [&] {
        if (options.cancel) options.cancel->check();
    };

    const auto gguf = GgufFile::open(gguf_path);
    const json config = hf_config_from_gguf(*gguf, options.dtype);
    const std::vector<std::pair<const char*, std::string>> json_files = {
        {"config.json", json_text(config, gguf->path(), "config.json")},
        {"generation_config.json", json_text(generation_config_from_gguf(*gguf), gguf->path(), "generation_config.json")},
        {"tokenizer.json", json_text(tokenizer_json_from_gguf(*gguf), gguf->path(), "tokenizer.json")},
        {"tokenizer_config.json", json_text(tokenizer_config_from_gguf(*gguf), gguf->path(), "tokenizer_config.json")},
    };
    const std::vector<PlannedTensor> plan = plan_tensors(*gguf, config);

    if (fs::exists(out_dir) && !options.overwrite)
        throw Error(out_dir.string(), "already exists; not replacing it");

    AtomicDirectory dir(out_dir);
    GgufImportSummary summary;
    summary.architecture = gguf->get_string("general.architecture");
    summary.tied_embeddings = config.at("tie_word_embeddings");

    std::vector<TensorData> tensors;
    tensors.reserve(plan.size());
    const int64_t total = static_cast<int64_t>(plan.size());
    for (int64_t i = 0; i < total; ++i) {
        check_cancel();
        const PlannedTensor& p = plan[static_cast<std::size_t>(i)];
        report({"import", p.hf_name, i, total, "tensors"});
        std::vector<float> values(static_cast<std::size_t>(p.source->numel()));
        dequantize(p.source->type, gguf->tensor_data(*p.source), values);
        if (p.permuted_heads > 0)
            unpermute_qk_rows(values, p.shape[0], p.shape.size() > 1 ? p.shape[1] : 1, p.permuted_heads,
                              gguf->path() + ": tensor '" + p.source->name + "'");
        tensors.push_back({p.hf_name, options.dtype, p.shape, to_bytes(values, options.dtype)});
        summary.parameters += p.source->numel();
    }
    summary.tensors = total;
    report({"import", "", total, total, "tensors"});

    check_cancel();
    report({"write", "model.safetensors", 0, 1, "files"});
    write_safetensors(dir.path() / "model.safetensors", tensors, {{"format", "pt"}});
    tensors.clear();
    for (const auto& [name, text] : json_files) write_file_atomic(dir.path() / name, text);
    check_cancel();
    dir.commit();
    report({"write", "model.safetensors", 1, 1, "files"});
    return summary;
}

} // namespace glq::io
