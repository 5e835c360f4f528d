#include "core/io/model_dir.h"

#include <cstdio>
#include <sstream>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"
#include "core/io/json_keys.h"

namespace fs = std::filesystem;

namespace glq::io {
namespace {

void require_file(const fs::path& path, const char* role) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw Error(path.string(), std::string("missing: the model folder has no ") + role);
    if (!fs::is_regular_file(path, ec)) throw Error(path.string(), "is not a regular file");
}

// tokenizer_config.json is read in full later (chat template, special
// tokens); here it only has to be a JSON object.
void check_json_object(const fs::path& path) {
    const nlohmann::json j = read_json_file(path);
    if (!j.is_object()) throw Error(path.string(), "is not a JSON object");
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

// "4" for whole numbers, "3.48" otherwise.
std::string short_number(double v) {
    std::ostringstream ss;
    ss << v;
    return ss.str();
}

} // namespace

std::string human_bytes(uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    return u == 0 ? std::to_string(bytes) + " B" : fixed(v, v < 10 ? 2 : 1) + " " + units[u];
}

std::string human_count(int64_t count) {
    const double v = static_cast<double>(count);
    if (v >= 1e9) return fixed(v / 1e9, 2) + "B";
    if (v >= 1e6) return fixed(v / 1e6, 1) + "M";
    if (v >= 1e3) return fixed(v / 1e3, 1) + "K";
    return std::to_string(count);
}

std::optional<QuantizationInfo> parse_quantization_config(const nlohmann::json& config, const std::string& where) {
    if (!config.contains("quantization_config") || config["quantization_config"].is_null()) return std::nullopt;
    const auto& q = config["quantization_config"];
    if (!q.is_object()) throw Error(where, "key 'quantization_config' must be an object");
    const detail::Keys k(q, where, "quantization_config.");
    QuantizationInfo info;
    info.quant_method = k.string("quant_method");
    if (!info.is_glq()) return info;
    info.codebook = k.string("codebook", "e8_shell");
    if (k.has("bpw")) info.bpw = k.positive_number("bpw", 0);
    if (k.has("layer_bpw")) {
        const auto& m = k.at("layer_bpw");
        if (!m.is_object()) throw k.error("layer_bpw", "must map module names to bits per weight");
        const detail::Keys lk(m, where, "quantization_config.layer_bpw.");
        for (auto it = m.begin(); it != m.end(); ++it) info.layer_bpw[it.key()] = lk.positive_number(it.key().c_str(), 0);
    }
    return info;
}

ModelDir ModelDir::open(const fs::path& dir_in) {
    ModelDir m;
    m.dir_ = dir_in;
    std::error_code ec;
    if (!fs::exists(m.dir_, ec)) throw Error(m.dir_.string(), "model folder does not exist");
    if (!fs::is_directory(m.dir_, ec)) throw Error(m.dir_.string(), "is not a folder (expected an HF model folder)");

    require_file(m.config_path(), "config.json");
    m.config_ = ModelConfig::load(m.config_path());
    m.quantization_ = parse_quantization_config(m.config_.raw, m.config_path().string());
    require_file(m.tokenizer_path(), "tokenizer.json");
    require_file(m.tokenizer_config_path(), "tokenizer_config.json");
    check_json_object(m.tokenizer_config_path());
    m.generation_ = GenerationConfig::load(m.generation_config_path());

    m.weights_ = SafetensorsModel::open_dir(m.dir_);
    m.sharded_ = fs::exists(m.dir_ / "model.safetensors.index.json", ec);

    // The one check that ties config and weights together without loading
    // anything: the embedding table's shape.
    const std::string embed = "model.embed_tokens.weight";
    if (!m.weights_.contains(embed))
        throw Error(m.dir_.string(), "the weights lack tensor '" + embed + "'");
    const auto view = m.weights_.view(embed);
    const std::vector<int64_t> want{m.config_.vocab_size, m.config_.hidden_size};
    if (view.info->shape != want)
        throw Error(*view.file, "tensor '" + embed + "' has shape " + shape_text(view.info->shape) +
                                    " but config.json says [vocab_size, hidden_size] = " + shape_text(want));

    for (const auto& entry : fs::directory_iterator(m.dir_, ec))
        if (entry.is_regular_file(ec)) m.size_on_disk_ += entry.file_size(ec);
    return m;
}

std::string ModelDir::describe() const {
    const auto& c = config_;
    std::ostringstream s;
    s << "model         " << dir_.string() << "\n"
      << "architecture  " << (c.architecture.empty() ? "(not given)" : c.architecture) << " (model_type " << c.model_type << ")\n"
      << "layers        " << c.num_hidden_layers << "\n"
      << "heads         " << c.num_attention_heads << " (kv heads " << c.num_key_value_heads << ", head_dim " << c.head_dim << ")\n"
      << "hidden        " << c.hidden_size << "\n"
      << "intermediate  " << c.intermediate_size << "\n"
      << "vocab         " << c.vocab_size << "\n"
      << "context       " << c.max_position_embeddings << "\n"
      << "parameters    " << human_count(c.num_parameters()) << " (" << c.num_parameters() << ")"
      << (c.tie_word_embeddings ? ", tied embeddings" : "") << "\n"
      << "dtype         " << c.torch_dtype << "\n"
      << "rope          theta " << short_number(c.rope_theta) << ", " << c.rope_scaling.type;
    if (c.rope_scaling.type != "default") s << " x" << short_number(c.rope_scaling.factor);
    if (c.any_nope_layer()) {
        s << "; NoPE layers";
        for (std::size_t i = 0; i < c.use_rope.size(); ++i)
            if (!c.use_rope[i]) s << " " << i;
    }
    s << "\n";
    if (c.sliding_window) {
        std::size_t n = 0;
        for (bool b : c.sliding_layers) n += b;
        s << "sliding       window " << *c.sliding_window << " on " << n << " of " << c.num_hidden_layers << " layers\n";
    }
    std::size_t tensors = 0;
    for (const auto& f : weights_.files()) tensors += f->tensors().size();
    s << "weights       " << (sharded_ ? std::to_string(weights_.files().size()) + " shards" : "model.safetensors")
      << ", " << tensors << " tensors, " << human_bytes(weights_.total_bytes()) << "\n"
      << "on disk       " << human_bytes(size_on_disk_) << "\n"
      << "generation    "
      << (generation_.from_file ? (generation_.do_sample ? "sampling, temperature " + short_number(generation_.temperature) +
                                                               ", top_p " + short_number(generation_.top_p)
                                                         : std::string("greedy"))
                                : std::string("no generation_config.json (greedy)"))
      << "\n";
    if (quantization_) {
        s << "quantization  " << quantization_->quant_method;
        if (quantization_->is_glq()) {
            s << ", codebook " << quantization_->codebook;
            if (quantization_->bpw) s << ", " << short_number(*quantization_->bpw) << " bpw";
            s << ", " << quantization_->layer_bpw.size() << " quantized layers";
        }
        s << "\n";
    }
    return s.str();
}

} // namespace glq::io
