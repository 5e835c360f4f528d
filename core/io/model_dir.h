#pragma once
// An HF model folder, located and validated in one place: config.json,
// weights (model.safetensors or shards listed by model.safetensors.index.json),
// tokenizer.json, tokenizer_config.json and the optional generation_config.json.
// Opening reads only JSON and safetensors headers (the weights are mapped, not
// loaded), so it is fast enough for `glqw info` and for a GUI file dialog.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "core/io/generation_config.h"
#include "core/io/hf_config.h"
#include "core/io/safetensors.h"

namespace glq::io {

// config.json's `quantization_config`, when there is one.
struct QuantizationInfo {
    std::string quant_method;                // "glq" for our checkpoints
    std::string codebook;                    // glq: e8_shell when the key is absent (as the reference loaders)
    std::optional<double> bpw;               // glq: average bits per weight
    std::map<std::string, double> layer_bpw; // glq: module prefix -> bpw
    bool is_glq() const { return quant_method == "glq"; }
};

class ModelDir {
public:
    // Throws glq::Error naming the folder or the file: missing folder, missing
    // config.json / tokenizer.json / tokenizer_config.json / weights, invalid
    // JSON, an unsupported config, corrupt safetensors headers, or an
    // embedding table whose shape disagrees with the config.
    static ModelDir open(const std::filesystem::path& dir);

    const std::filesystem::path& path() const { return dir_; }
    const ModelConfig& config() const { return config_; }
    const GenerationConfig& generation() const { return generation_; }
    const SafetensorsModel& weights() const { return weights_; }
    const std::optional<QuantizationInfo>& quantization() const { return quantization_; }

    std::filesystem::path config_path() const { return dir_ / "config.json"; }
    std::filesystem::path tokenizer_path() const { return dir_ / "tokenizer.json"; }
    std::filesystem::path tokenizer_config_path() const { return dir_ / "tokenizer_config.json"; }
    std::filesystem::path generation_config_path() const { return dir_ / "generation_config.json"; }
    bool sharded() const { return sharded_; }

    // Bytes of every regular file directly in the folder.
    uint64_t size_on_disk() const { return size_on_disk_; }

    // A few lines for `glqw info` and logs: architecture, dimensions,
    // parameters, dtype, weights and size, quantization.
    std::string describe() const;

private:
    std::filesystem::path dir_;
    ModelConfig config_;
    GenerationConfig generation_;
    SafetensorsModel weights_;
    std::optional<QuantizationInfo> quantization_;
    bool sharded_ = false;
    uint64_t size_on_disk_ = 0;
};

// Parses config.json's quantization_config (absent: nullopt). `where` names config.json.
std::optional<QuantizationInfo> parse_quantization_config(const nlohmann::json& config, const std::string& where);

// "1.23 GiB", "512 B": sizes for people.
std::string human_bytes(uint64_t bytes);
// "135.0M", "7.24B": parameter counts for people.
std::string human_count(int64_t count);

} // namespace glq::io
