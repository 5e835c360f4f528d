#pragma once
// What the Model view shows about an HF model directory: the config's facts,
// every linear layer, sizes on disk and in memory. Read with core/io only
// (glq::io::ModelDir: JSON files and the safetensors headers, memory-mapped:
// no weight is copied),
// so it is fast, torch-free and safe to call on a worker thread.

#include <QString>
#include <QStringList>
#include <QVector>
#include <cstdint>
#include <filesystem>

#include "core/common/progress.h"
#include "core/io/memory_estimate.h"
#include "core/plan/module_name.h"

namespace glq::ui {

// The linear layers GLQ quantizes, by their module name's last part: core's
// reading of a name (plan::projection_of), under the names ui/ uses.
using ModuleType = plan::Projection;
ModuleType module_type_of(const QString& layer_name);
QString module_type_name(ModuleType type);  // "q", "k", ..., "down", "other"
// The transformer block of a module ("model.layers.12.mlp.up_proj" -> 12), -1
// when it is in none (lm_head): plan::layer_index_of.
int block_of(const QString& layer_name);
// The seven types drawn as heatmap columns and bar colours, in model order.
const QVector<ModuleType>& quantized_module_types();

struct LinearLayer {
    QString name;          // checkpoint prefix, e.g. model.layers.0.mlp.down_proj
    ModuleType module = ModuleType::Other;
    int block = -1;        // transformer block index, -1 when not in one (lm_head)
    qint64 rows = 0;       // out_features
    qint64 cols = 0;       // in_features
    QString dtype;         // "BF16", "F32", ...
    qint64 parameters() const { return rows * cols; }
};

struct ModelSummary {
    QString dir;
    QString architecture;     // LlamaForCausalLM
    QString model_type;       // llama
    qint64 parameters = 0;    // every tensor's element count
    qint64 layers = 0;        // transformer blocks
    qint64 hidden_size = 0;
    qint64 intermediate_size = 0;
    qint64 attention_heads = 0;
    qint64 kv_heads = 0;
    qint64 head_dim = 0;
    qint64 vocab_size = 0;
    qint64 context_length = 0;
    QString dtype;            // torch_dtype from config.json
    QString stored_dtypes;    // the dtypes the tensors use on disk, e.g. "BF16"
    quint64 bytes_on_disk = 0;     // every file in the folder
    quint64 tensor_bytes = 0;      // the tensors' data as stored
    int tensor_count = 0;
    bool tied_embeddings = false;
    QString quantization;     // quantization_config.quant_method ("glq"), empty if none
    QVector<LinearLayer> linears;  // in checkpoint order (block, then q k v o gate up down)
    glq::io::WeightFootprint footprint;  // what the weights take once loaded (GLQ: compressed)
};

// Reads `dir` (two progress steps: open and validate, list the layers).
// Throws glq::Error naming the file and the problem (missing config.json,
// corrupt safetensors, unsupported architecture, no linear layers...).
ModelSummary read_model_summary(const std::filesystem::path& dir, const glq::ProgressFn& report,
                                const glq::CancelToken& cancel);

// Memory the weights need once loaded, with a KV cache for `context` tokens
// (batch 1) in the same element size, plus a fixed allowance for activations
// and the runtime. `bytes_per_element` = 2 for bf16/fp16, 4 for f32.
using MemoryEstimate = glq::io::MemoryEstimate;
MemoryEstimate estimate_memory(const ModelSummary& model, int bytes_per_element, qint64 context);

// "1.23 GiB", "512.0 MiB", "812 B"
QString format_bytes(quint64 bytes);
// "135.1 M", "7.24 B", "64.0 K"
QString format_count(qint64 count);

} // namespace glq::ui
