#pragma once
// The resume store: the finished linears of a quantization job, kept beside
// its output in "<output>.glq-resume/" so that a cancelled, crashed or
// full-disk run continues where it stopped instead of starting over. Kept
// apart from the job because its file layout and the rule for when it may be
// reused are a contract with earlier runs.
//
// Layout: settings.json (the settings the linears depend on: calibration
// key, propagation, device kind, codebook, the whole plan, tuning passes) and one
// "<linear prefix>.safetensors" per finished linear (the tensors a checkpoint
// stores for it, with its codebook and metrics in the metadata "glq_resume"),
// each written atomically. A run reuses the folder only when asked to and
// its settings file is byte for byte the new run's; otherwise the folder is
// started afresh. A resumed run produces the same checkpoint as an
// uninterrupted one; the folder is removed after a successful export.

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <torch/types.h>

#include "core/quant/quantize_layer.h"

namespace glq::quant {

// The settings text a store is matched on.
std::string resume_settings(uint64_t calibration_key, bool propagate, const torch::Device& device,
                            codebook::CodebookKind codebook, const std::map<std::string, int>& plan, int tune_iters);

class ResumeStore {
public:
    // Opens "<output_dir>.glq-resume": kept when `resume` is true and its
    // settings equal `settings`, else emptied and started with them.
    ResumeStore(const std::filesystem::path& output_dir, const std::string& settings, bool resume);

    const std::filesystem::path& dir() const { return dir_; }
    // True when the folder of an earlier run was kept.
    bool resumed() const { return resumed_; }

    // The finished linear `prefix` (its Ŵ decoded on `device`), if stored.
    // Throws glq::Error naming the file when it is corrupt.
    std::optional<QuantizedLayer> load(const std::string& prefix, const torch::Device& device) const;
    // Stores a finished linear (atomically).
    void save(const std::string& prefix, const LayerCodes& codes, const LayerQuantMetrics& metrics) const;
    // After a successful export: the folder and everything in it.
    void remove() const;

private:
    std::filesystem::path dir_;
    bool resumed_ = false;
};

} // namespace glq::quant
