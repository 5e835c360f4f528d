#pragma once
// HF model directories in the reference `glq` e8_shell format (§1 of the
// format notes): written atomically (the whole directory appears at once or
// not at all) and read back, ours or the reference's.
//
// Written:
//   config.json          the source config + use_cache: true + quantization_config
//                        {quant_method "glq", codebook "e8_shell", block_diagonal true,
//                         codesz 8, bpw (int if uniform, else the parameter-weighted
//                         average rounded to 2 decimals), layer_bpw {prefix: int} for
//                         every quantized linear}
//   quantize_config.json the same keys plus run metadata (vLLM's fallback file)
//   model.safetensors    one file: every unquantized tensor under its own name, and
//                        per quantized prefix P: P.Qidxs.., P.inv_resid_scale..,
//                        P.SU, P.SV, P.Wscale, and P.bias when the linear has one
//                        (the reference drops biases; its loader accepts them)
//   layer_metrics.json   per prefix: sqnr, bpw, Wscale, proxy_loss, shape
//   tokenizer files      copied from the source model directory
//   extra files          small text files of the writer's (the quantization job's
//                        record, glq_workbench_job.json), inside the same atomic folder
// e8_codebook.pt is not written: we use the bundled table byte for byte, which
// is what both reference loaders fall back to.

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "core/common/progress.h"
#include "core/format/layer_metrics.h"
#include "core/format/layer_codes.h"

namespace glq::format {

struct CheckpointRunInfo {
    std::string source_model;
    int64_t nsamples = 0;
    int64_t seqlen = 0;
    int tune_iters = 0;                      // the most passes any layer got
    std::map<int, int> tune_iters_by_bpw;    // passes per rate in the plan
    double total_time_s = 0.0;
};

struct GlqCheckpointContents {
    nlohmann::json source_config;  // the source model's config.json (an object)
    std::map<std::string, LayerCodes> layers;  // HF module prefix -> stored codes (one codebook)
    // Every tensor that stays as it is (embeddings, norms, lm_head if untied), by name.
    std::vector<std::pair<std::string, torch::Tensor>> unquantized;
    std::map<std::string, LayerQuantMetrics> metrics;  // optional, per prefix
    std::filesystem::path tokenizer_dir;  // tokenizer files are copied from here (empty: none)
    CheckpointRunInfo run;
    // Plain file name -> text, written with the rest so that they appear
    // with the checkpoint or not at all. A name must not be one the writer
    // itself writes (config.json, a tokenizer file, ...) nor hold a '/'.
    std::map<std::string, std::string> extra_files;
};

// Writes `out_dir` atomically; an existing directory is replaced only when
// the new one is complete. Throws glq::Error naming the file or tensor on bad
// contents (a quantized prefix whose .weight is also given, a name twice,
// invalid artifacts, an unsupported dtype) or a failed write.
// `progress` hears stage "export", unit "bytes", as model.safetensors is written.
void write_glq_checkpoint(const std::filesystem::path& out_dir, const GlqCheckpointContents& contents,
                          const ProgressFn& progress = {});

// The parameter-weighted average as config.json records it: an int when all
// layers share one rate, else rounded to 2 decimals.
nlohmann::json checkpoint_bpw_value(const std::map<std::string, LayerCodes>& layers);

struct GlqQuantizationConfig {
    std::string codebook = "e8_shell";
    double bpw = 0.0;
    int codesz = 8;
    bool block_diagonal = true;
    std::map<std::string, int> layer_bpw;
};

struct GlqCheckpoint {
    std::filesystem::path dir;
    nlohmann::json config;  // config.json as written
    GlqQuantizationConfig quantization;
    std::map<std::string, LayerCodes> layers;  // on the CPU, validated
};

// True when dir/config.json has quantization_config.quant_method == "glq".
bool is_glq_checkpoint(const std::filesystem::path& dir);

// Reads and validates every quantized layer (dtypes, shapes, stage counts,
// signs, scales) of an e8_shell checkpoint, single-file or sharded. Other
// tensors stay in the files (open them with io::SafetensorsModel). Throws
// glq::Error naming the file and the tensor on any mismatch, and for the
// codebooks this build does not read (trellis, e8p, e8_relaxed) or the
// legacy power-of-two padded layout.
GlqCheckpoint read_glq_checkpoint(const std::filesystem::path& dir);

} // namespace glq::format
