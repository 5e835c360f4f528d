// Writing and reading GLQ e8_shell checkpoints (see glq_checkpoint.h).

#include "core/format/glq_checkpoint.h"

#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <set>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"
#include "core/io/safetensors.h"

namespace glq::format {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The files a tokenizer (and generation defaults) may live in. generation_config.json
// is not written by the reference, but carrying it keeps the model's sampling defaults.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json",      "tokenizer_config.json", "special_tokens_map.json",
                                           "added_tokens.json",   "vocab.json",            "merges.txt",
                                           "tokenizer.model",     "chat_template.jinja",   "chat_template.json",
                                           "generation_config.json"};

io::DType io_dtype_of(torch::ScalarType t, const std::string& where) {
    switch (t) {
        case torch::kFloat32: return io::DType::F32;
        case torch::kFloat16: return io::DType::F16;
        case torch::kBFloat16: return io::DType::BF16;
        case torch::kFloat64: return io::DType::F64;
        case torch::kInt16: return io::DType::I16;
        case torch::kInt32: return io::DType::I32;
        case torch::kInt64: return io::DType::I64;
        case torch::kInt8: return io::DType::I8;
        case torch::kUInt8: return io::DType::U8;
        case torch::kBool: return io::DType::BOOL;
        default: throw Error(where, std::string("cannot store dtype ") + c10::toString(t) + " in safetensors");
    }
}

std::optional<torch::ScalarType> torch_dtype_of(io::DType d) {
    switch (d) {
        case io::DType::F32: return torch::kFloat32;
        case io::DType::F16: return torch::kFloat16;
        case io::DType::BF16: return torch::kBFloat16;
        case io::DType::F64: return torch::kFloat64;
        case io::DType::I16: return torch::kInt16;
        case io::DType::I32: return torch::kInt32;
        case io::DType::I64: return torch::kInt64;
        case io::DType::I8: return torch::kInt8;
        case io::DType::U8: return torch::kUInt8;
        case io::DType::BOOL: return torch::kBool;
        default: return std::nullopt;
    }
}

std::string shape_str(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

// Copies one stored tensor out of the map, insisting on its dtype and rank.
torch::Tensor read_tensor(const io::SafetensorsModel& st, const std::string& name, io::DType want, int64_t rank) {
    const io::TensorView v = st.view(name);
    const std::string where = *v.file;
    if (v.info->dtype != want)
        throw Error(where, "tensor '" + name + "' has dtype " + io::dtype_name(v.info->dtype) + ", the GLQ format stores " +
                               io::dtype_name(want));
    if (rank >= 0 && static_cast<int64_t>(v.info->shape.size()) != rank)
        throw Error(where, "tensor '" + name + "' has shape " + shape_str(v.info->shape) + ", expected " +
                               (rank == 0 ? std::string("a scalar []") : std::to_string(rank) + " dimensions"));
    const auto dtype = torch_dtype_of(want);
    return torch::from_blob(const_cast<std::byte*>(v.bytes.data()), v.info->shape, torch::TensorOptions().dtype(*dtype))
        .clone();
}

json layer_metrics_json(const std::map<std::string, LayerQuantMetrics>& metrics) {
    json j = json::object();
    for (const auto& [p, m] : metrics)
        j[p] = {{"sqnr", m.sqnr_db}, {"bpw", m.bpw}, {"Wscale", m.wscale}, {"proxy_loss", m.proxy_loss},
                {"relative_proxy_loss", m.relative_proxy_loss}, {"shape", {m.rows, m.cols}}};
    return j;
}

} // namespace

json checkpoint_bpw_value(const std::map<std::string, LayerCodes>& layers) {
    std::set<int> rates;
    double bits = 0, weights = 0;
    for (const auto& [p, a] : layers) {
        const int bpw = layer_bpw(a);
        rates.insert(bpw);
        const double w = static_cast<double>(out_features(a)) * static_cast<double>(in_features(a));
        bits += bpw * w;
        weights += w;
    }
    if (rates.size() == 1) return *rates.begin();
    if (weights == 0) return 2;
    return std::round(bits / weights * 100.0) / 100.0;
}

codebook::CodebookKind checkpoint_codebook(const std::map<std::string, LayerCodes>& layers, const std::string& where) {
    if (layers.empty()) throw Error(where, "no quantized layers to write");
    const codebook::CodebookKind kind = codebook_kind(layers.begin()->second);
    for (const auto& [p, a] : layers)
        if (codebook_kind(a) != kind)
            throw Error(where, "layer '" + p + "' uses the " + codebook::codebook_name(codebook_kind(a)) +
                                   " codebook and '" + layers.begin()->first + "' the " + codebook::codebook_name(kind) +
                                   ": a checkpoint records one codebook for all its layers");
    return kind;
}

void write_glq_checkpoint(const fs::path& out_dir, const GlqCheckpointContents& c, const ProgressFn& progress) {
    const std::string where = out_dir.string();
    if (!c.source_config.is_object()) throw Error(where, "the source config must be a JSON object");
    const codebook::CodebookKind kind = checkpoint_codebook(c.layers, where);
    for (const auto& extra : c.extra_files) {
        const std::string& name = extra.first;
        bool ours = name == "model.safetensors" || name == "config.json" || name == "quantize_config.json" ||
                    name == "layer_metrics.json";
        for (const char* f : kTokenizerFiles) ours = ours || name == f;
        if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || ours)
            throw Error(where, "'" + name + "' cannot be an extra file of the checkpoint (a plain file name the "
                               "writer does not write itself)");
    }

    // All tensors, by name, with a check that nothing is given twice and that no
    // quantized linear also ships its dense weight.
    std::map<std::string, torch::Tensor> tensors;
    auto add = [&](const std::string& name, const torch::Tensor& t) {
        if (!tensors.emplace(name, t.detach().to(torch::kCPU).contiguous()).second)
            throw Error(where, "tensor '" + name + "' is given twice");
    };
    json bpw_by_layer = json::object();
    for (const auto& [prefix, a] : c.layers) {
        validate(a, prefix);
        for (const auto& [suffix, t] : layer_tensors(a)) add(prefix + "." + suffix, t);
        bpw_by_layer[prefix] = layer_bpw(a);
    }
    for (const auto& [name, t] : c.unquantized) {
        const auto dot = name.rfind('.');
        if (dot != std::string::npos && c.layers.count(name.substr(0, dot)) && name.substr(dot) == ".weight")
            throw Error(where, "tensor '" + name + "' is the dense weight of a quantized linear; it must not be stored");
        add(name, t);
    }

    std::vector<io::TensorRef> refs;
    refs.reserve(tensors.size());
    for (const auto& [name, t] : tensors) {
        io::TensorRef r;
        r.name = name;
        r.dtype = io_dtype_of(t.scalar_type(), name);
        r.shape = t.sizes().vec();
        r.bytes = {reinterpret_cast<const std::byte*>(t.data_ptr()), static_cast<size_t>(t.nbytes())};
        refs.push_back(std::move(r));
    }

    const json bpw = checkpoint_bpw_value(c.layers);
    json qcfg = {{"quant_method", "glq"}, {"codebook", codebook::codebook_name(kind)}, {"block_diagonal", true},
                 {"codesz", 8},           {"bpw", bpw},             {"layer_bpw", bpw_by_layer}};
    json config = c.source_config;
    config["use_cache"] = true;
    config["quantization_config"] = qcfg;

    double sqnr_sum = 0;
    for (const auto& [p, m] : c.metrics) sqnr_sum += m.sqnr_db;
    json meta = qcfg;
    meta["tune_iters"] = c.run.tune_iters;
    if (!c.run.tune_iters_by_bpw.empty()) {
        json by_bpw = json::object();
        for (const auto& [b, passes] : c.run.tune_iters_by_bpw) by_bpw[std::to_string(b)] = passes;
        meta["tune_iters_by_bpw"] = by_bpw;
    }
    meta["nsamples"] = c.run.nsamples;
    meta["seqlen"] = c.run.seqlen;
    meta["avg_sqnr_db"] = c.metrics.empty() ? 0.0 : std::round(sqnr_sum / c.metrics.size() * 100.0) / 100.0;
    meta["n_quantized_layers"] = c.layers.size();
    meta["total_time_s"] = std::round(c.run.total_time_s * 10.0) / 10.0;
    meta["source_model"] = c.run.source_model;

    AtomicDirectory dir(out_dir);
    // A failure inside the folder (a full disk, most often) is reported under
    // the file's final name: the temporary folder it was written in is gone
    // by the time the user reads the message, and so is every file of it.
    std::string writing;
    try {
        writing = "model.safetensors";
        io::write_safetensors(dir.path() / writing, refs, {{"format", "pt"}}, [&](uint64_t done, uint64_t total) {
            if (progress)
                progress(Progress{"export", (out_dir / "model.safetensors").string(), static_cast<int64_t>(done),
                                  static_cast<int64_t>(total), "bytes"});
        });
        writing = "config.json";
        write_file_atomic(dir.path() / writing, config.dump(2) + "\n");
        writing = "quantize_config.json";
        write_file_atomic(dir.path() / writing, meta.dump(2) + "\n");
        writing = "layer_metrics.json";
        if (!c.metrics.empty()) write_file_atomic(dir.path() / writing, layer_metrics_json(c.metrics).dump(2) + "\n");
        if (!c.tokenizer_dir.empty()) {
            for (const char* f : kTokenizerFiles) {
                const fs::path src = c.tokenizer_dir / f;
                std::error_code ec;
                if (!fs::is_regular_file(src, ec)) continue;
                writing = f;
                write_file_atomic(dir.path() / f, read_file(src));
            }
        }
        for (const auto& [name, text] : c.extra_files) {
            writing = name;
            write_file_atomic(dir.path() / name, text);
        }
    } catch (const Error& e) {
        if (e.where() != (dir.path() / writing).string()) throw;  // not about the file being written
        throw Error((out_dir / writing).string(), e.problem() + "; nothing was written to " + where);
    }
    dir.commit();
}

bool is_glq_checkpoint(const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_regular_file(dir / "config.json", ec)) return false;
    try {
        const json j = io::parse_json(read_file(dir / "config.json"), (dir / "config.json").string());
        return j.is_object() && j.contains("quantization_config") && j["quantization_config"].is_object() &&
               j["quantization_config"].value("quant_method", std::string()) == "glq";
    } catch (const std::exception&) {
        return false;
    }
}

GlqCheckpoint read_glq_checkpoint(const fs::path& dir) {
    GlqCheckpoint ck;
    ck.dir = dir;
    const fs::path config_path = dir / "config.json";
    ck.config = io::parse_json(read_file(config_path), config_path.string());
    const std::string cfg_where = config_path.string();
    if (!ck.config.is_object() || !ck.config.contains("quantization_config") || !ck.config["quantization_config"].is_object())
        throw Error(cfg_where, "has no \"quantization_config\" object: not a quantized checkpoint");
    const json& q = ck.config["quantization_config"];
    if (!q.contains("quant_method") || q["quant_method"] != "glq")
        throw Error(cfg_where, "quantization_config.quant_method is " + (q.contains("quant_method") ? io::json_excerpt(q["quant_method"]) : std::string("missing")) +
                                   ", not \"glq\"");
    GlqQuantizationConfig& qc = ck.quantization;
    qc.codebook = q.contains("codebook") && q["codebook"].is_string() ? q["codebook"].get<std::string>() : "e8_shell";
    if (qc.codebook != "e8_shell")
        throw Error(cfg_where, "codebook \"" + qc.codebook + "\" is not supported by this build (it reads e8_shell)");
    const codebook::CodebookKind kind = codebook::parse_codebook(qc.codebook, cfg_where);
    if (q.contains("bpw") && q["bpw"].is_number()) qc.bpw = q["bpw"].get<double>();
    if (q.contains("codesz") && q["codesz"].is_number_integer()) qc.codesz = q["codesz"].get<int>();
    if (q.contains("block_diagonal") && q["block_diagonal"].is_boolean()) qc.block_diagonal = q["block_diagonal"].get<bool>();
    if (q.contains("layer_bpw")) {
        if (!q["layer_bpw"].is_object()) throw Error(cfg_where, "quantization_config.layer_bpw must be an object");
        for (const auto& [p, v] : q["layer_bpw"].items()) {
            if (!v.is_number_integer() || v.get<int>() < 2 || v.get<int>() > 8)
                throw Error(cfg_where, "quantization_config.layer_bpw[\"" + p + "\"] must be an integer in 2..8, got " + io::json_excerpt(v));
            qc.layer_bpw[p] = v.get<int>();
        }
    }

    const io::SafetensorsModel st = io::SafetensorsModel::open_dir(dir);
    const std::vector<std::string> names = st.names();
    const std::set<std::string> name_set(names.begin(), names.end());
    // A layer is found by its first stage's codes.
    const std::string suffix = ".Qidxs";
    for (const auto& name : names) {
        if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
        const std::string prefix = name.substr(0, name.size() - suffix.size());
        LayerTensorSource src;
        src.where = *st.view(name).file;
        src.prefix = prefix;
        src.has = [&](const std::string& sfx) { return name_set.count(prefix + "." + sfx) > 0; };
        src.get = [&](const std::string& sfx, io::DType want, int64_t rank) {
            return read_tensor(st, prefix + "." + sfx, want, rank);
        };
        src.get_float = [&](const std::string& sfx, int64_t rank) {
            const std::string full = prefix + "." + sfx;
            const io::TensorView v = st.view(full);
            const auto t = torch_dtype_of(v.info->dtype);
            if (!t || !c10::isFloatingType(*t))
                throw Error(*v.file, "tensor '" + full + "' must be floating point, got " + io::dtype_name(v.info->dtype));
            return read_tensor(st, full, v.info->dtype, rank);
        };
        std::optional<int> bpw;
        if (auto it = qc.layer_bpw.find(prefix); it != qc.layer_bpw.end()) {
            bpw = it->second;
        } else if (qc.layer_bpw.empty() && qc.bpw == std::floor(qc.bpw) && qc.bpw >= 2) {
            bpw = static_cast<int>(qc.bpw);
        } else if (!qc.layer_bpw.empty()) {
            throw Error(cfg_where, "quantized layer '" + prefix + "' is missing from quantization_config.layer_bpw");
        }
        ck.layers.emplace(prefix, read_layer_codes(kind, src, bpw));
    }
    if (ck.layers.empty())
        throw Error(dir.string(), "no quantized layers (no '<prefix>.Qidxs' tensors) in the safetensors files");
    for (const auto& [p, b] : qc.layer_bpw)
        if (!ck.layers.count(p))
            throw Error(cfg_where, "layer_bpw names '" + p + "' but the safetensors files hold no '" + p + ".Qidxs'");
    return ck;
}

} // namespace glq::format
