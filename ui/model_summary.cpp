#include "ui/model_summary.h"

#include <QSet>
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/common/error.h"
#include "core/io/model_dir.h"

namespace glq::ui {

namespace fs = std::filesystem;

ModuleType module_type_of(const QString& name) { return plan::projection_of(name.toStdString()); }

QString module_type_name(ModuleType type) { return QString::fromLatin1(plan::projection_short_name(type)); }

int block_of(const QString& name) {
    const auto index = plan::layer_index_of(name.toStdString());
    return index ? static_cast<int>(*index) : -1;
}

const QVector<ModuleType>& quantized_module_types() {
    static const QVector<ModuleType> types{ModuleType::Q,    ModuleType::K,  ModuleType::V,   ModuleType::O,
                                           ModuleType::Gate, ModuleType::Up, ModuleType::Down};
    return types;
}

namespace {

// Linear layers are the 2-D ".weight" tensors other than the embeddings and
// norms; lm_head is listed when it is stored (untied) since it is a linear too.
bool is_linear_weight(const glq::io::TensorInfo& t) {
    if (t.shape.size() != 2) return false;
    const std::string& n = t.name;
    if (n.size() < 7 || n.compare(n.size() - 7, 7, ".weight") != 0) return false;
    if (n.find("embed_tokens") != std::string::npos || n.find("norm") != std::string::npos) return false;
    return true;
}

} // namespace

ModelSummary read_model_summary(const fs::path& dir, const glq::ProgressFn& report,
                                const glq::CancelToken& cancel) {
    auto step = [&](int64_t done, const std::string& item) {
        cancel.check();
        if (report) report({"open model", item, done, 2, "steps"});
    };
    step(0, "config.json, tokenizer and safetensors headers");
    // ModelDir validates the whole folder (config, tokenizer files, weights'
    // headers, embedding shape) and names the file at fault.
    const glq::io::ModelDir model = glq::io::ModelDir::open(dir);
    const glq::io::ModelConfig& config = model.config();
    const glq::io::SafetensorsModel& weights = model.weights();
    step(1, "layers");

    ModelSummary s;
    s.dir = QString::fromStdString(fs::absolute(dir).lexically_normal().string());
    s.architecture = QString::fromStdString(config.architecture);
    s.model_type = QString::fromStdString(config.model_type);
    s.layers = config.num_hidden_layers;
    s.hidden_size = config.hidden_size;
    s.intermediate_size = config.intermediate_size;
    s.attention_heads = config.num_attention_heads;
    s.kv_heads = config.num_key_value_heads;
    s.head_dim = config.head_dim;
    s.vocab_size = config.vocab_size;
    s.context_length = config.max_position_embeddings;
    s.dtype = QString::fromStdString(config.torch_dtype);
    s.tied_embeddings = config.tie_word_embeddings;
    s.bytes_on_disk = model.size_on_disk();
    s.footprint = glq::io::weight_footprint(model);
    s.tensor_bytes = weights.total_bytes();
    if (const auto& q = model.quantization()) s.quantization = QString::fromStdString(q->quant_method);

    std::set<std::string> dtypes;
    for (const auto& file : weights.files()) {
        for (const auto& t : file->tensors()) {
            cancel.check();
            ++s.tensor_count;
            s.parameters += t.numel();
            dtypes.insert(glq::io::dtype_name(t.dtype));
            if (!is_linear_weight(t)) continue;
            LinearLayer layer;
            layer.name = QString::fromStdString(t.name.substr(0, t.name.size() - 7));
            layer.module = module_type_of(layer.name);
            layer.block = block_of(layer.name);
            layer.rows = t.shape[0];
            layer.cols = t.shape[1];
            layer.dtype = QString::fromLatin1(glq::io::dtype_name(t.dtype));
            s.linears.push_back(layer);
        }
    }
    for (const auto& d : dtypes) {
        if (!s.stored_dtypes.isEmpty()) s.stored_dtypes += QStringLiteral(", ");
        s.stored_dtypes += QString::fromStdString(d);
    }
    if (s.linears.isEmpty())
        throw glq::Error(dir.string(), "no linear layers (2-D *.weight tensors) in the safetensors files");

    // Checkpoint order: by block, then q k v o gate up down, then the rest.
    std::stable_sort(s.linears.begin(), s.linears.end(), [](const LinearLayer& a, const LinearLayer& b) {
        const int ba = a.block < 0 ? INT32_MAX : a.block, bb = b.block < 0 ? INT32_MAX : b.block;
        if (ba != bb) return ba < bb;
        if (a.module != b.module) return static_cast<int>(a.module) < static_cast<int>(b.module);
        return a.name < b.name;
    });
    step(2, "done");
    return s;
}

MemoryEstimate estimate_memory(const ModelSummary& model, int bytes_per_element, qint64 context) {
    // The loaded footprint: a GLQ checkpoint's linears stay compressed.
    const uint64_t elem = static_cast<uint64_t>(bytes_per_element);
    const uint64_t weights = model.footprint.dense_parameters || model.footprint.compressed_bytes
                                 ? model.footprint.bytes(elem)
                                 : static_cast<uint64_t>(model.parameters) * elem;
    return glq::io::estimate_memory_of_weights(weights, model.layers, model.kv_heads, model.head_dim, elem, context);
}

QString format_bytes(quint64 bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    if (u == 0) return QStringLiteral("%1 B").arg(bytes);
    return QStringLiteral("%1 %2").arg(v, 0, 'f', v < 10 ? 2 : 1).arg(QLatin1String(units[u]));
}

QString format_count(qint64 count) {
    const double v = static_cast<double>(count);
    if (std::llabs(count) >= 1'000'000'000) return QStringLiteral("%1 B").arg(v / 1e9, 0, 'f', 2);
    if (std::llabs(count) >= 1'000'000) return QStringLiteral("%1 M").arg(v / 1e6, 0, 'f', 1);
    if (std::llabs(count) >= 1'000) return QStringLiteral("%1 K").arg(v / 1e3, 0, 'f', 1);
    return QString::number(count);
}

} // namespace glq::ui
