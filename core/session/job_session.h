#pragma once
// The quantization pipeline's use cases, behind a header with no LibTorch in
// it (ui/ must not include torch: Qt's `signals`/`slots` macros break its
// headers): the one layer both front ends call, the workbench and `glqw
// profile/quantize/export`. Plain structs and std types only; the
// implementation forwards to core/quant/quantization_job.h and core/eval for
// perplexity.
//
//   profile()       calibrate + proxy loss of every linear at each rate -> SensitivityTable
//   quantize()      calibrate -> (profile -> allocate) -> quantize layer by layer -> checkpoint
//   export_model()  a finished checkpoint folder -> an HF folder in the reference glq format
//                   with a model card (README.md): bpw map, calibration, perplexity
//
// Every call reports through glq::ProgressFn, honours a glq::CancelToken
// (throwing glq::Cancelled) and throws glq::Error naming the file or setting
// for bad input. Everything written goes to a temporary name first: a cancel
// or an error leaves no output folder behind (quantize keeps finished layers
// in "<output>.glq-resume" so that a run with `resume` continues; that folder
// holds only complete, atomically written files).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/plan/sensitivity.h"
#include "core/quant/job_record.h"

namespace glq::session {

// What profile() and quantize() share: the source model, calibration and device.
struct CalibrationSettings {
    std::vector<std::filesystem::path> text_files;  // .txt or .gz; empty: the bundled Brown corpus
    int64_t nsamples = 128;
    int64_t seqlen = 512;
    uint64_t seed = 0;
    bool contiguous = false;  // the first nsamples x seqlen tokens in order (the reference's protocol), not seeded windows
};

struct JobOptions {
    std::filesystem::path model_dir;
    CalibrationSettings calibration;
    std::string device = "cpu";            // "cpu", "cuda", "cuda:N"
    // On CUDA: "on" keeps the weights on the host and brings one decoder
    // layer at a time to the device, "off" keeps them all there, "auto"
    // streams when they take more than half of its free memory.
    std::string layer_streaming = "auto";
    std::filesystem::path cache_dir;       // Hessian cache; empty: the default (~/.cache/glq-workbench/hessians)
    std::string codebook = "e8_shell";     // "e8_shell" | "trellis" (profile and quantize)
    bool use_cache = true;

    // quantize() only. Rates: `bpw_map` when not empty (every quantizable
    // linear must be named, or the map's rule "default, else 2" applies to the
    // rest as in the reference), else the bpw_allocation.json `bpw_map_file`
    // when set (its "default" key applies), else `target_bpw`: an integer
    // quantizes every linear at that rate, a fraction profiles and lets the
    // allocator choose rates in [min_bpw, max_bpw] averaging at most the target.
    std::map<std::string, int> bpw_map;
    std::filesystem::path bpw_map_file;
    double target_bpw = 4.0;
    int min_bpw = 2;
    int max_bpw = 8;
    std::filesystem::path output_dir;
    bool replace_existing = false;         // else an existing output folder is an error
    bool propagate = true;                 // sequential propagation, as the reference
    int tune_iters = -1;                   // LDLQ refinement passes; -1 = auto (one at 2-3 bpw, none above)
    bool resume = false;                   // continue from "<output>.glq-resume" when its settings match
};

// One finished linear (quantize: once per linear, in order).
struct LayerReport {
    std::string name;                      // HF module prefix, e.g. model.layers.0.mlp.down_proj
    int bpw = 0;
    double proxy_loss = 0.0;               // tr(ΔW H ΔWᵀ)/m
    double relative_error = 0.0;           // proxy loss / (tr(W H Wᵀ)/m)
    double seconds = 0.0;
    bool resumed = false;                  // taken from the resume folder
};

struct JobCallbacks {
    ProgressFn progress;                   // stages: calibrate, profile, quantize, export
    std::function<void(const LayerReport&)> on_layer;
    std::function<void(const std::string&)> log;  // one-line notes (cache hits, resume, allocation)
    const CancelToken* cancel = nullptr;
};

struct QuantizeResult {
    std::filesystem::path output_dir;
    std::map<std::string, int> bpw;        // the rate of every linear
    double average_bpw = 0.0;              // parameter-weighted
    std::vector<LayerReport> layers;
    std::string calibration;               // e.g. "brown.txt.gz: 1.4M tokens, 128 x 512 (seed 0)"
    int hessian_layers_from_cache = 0;
    int resumed_linears = 0;
    bool streamed_layers = false;          // the weights stayed on the host, one layer at a time on the device
    double seconds = 0.0;
};

// The small record the job leaves in the checkpoint folder (calibration text,
// settings, device, per-layer results; core/quant/job_record.h) so that a
// later export can write them into the model card. Loaders ignore it.
inline constexpr const char* kJobRecordFile = quant::kJobRecordFile;

// True when this build and machine can run on a CUDA device.
bool cuda_available();
int cuda_device_count();

// Proxy loss of every linear at each rate of `bpws` (2..8), with Hessians of
// the unquantized model (cached). Throws glq::Error / glq::Cancelled.
plan::SensitivityTable profile(const JobOptions& options, const std::vector<int>& bpws,
                                const JobCallbacks& callbacks = {});

// The whole job; the checkpoint appears in options.output_dir complete or not
// at all. Throws glq::Error / glq::Cancelled.
QuantizeResult quantize(const JobOptions& options, const JobCallbacks& callbacks = {});

struct ExportOptions {
    std::filesystem::path checkpoint_dir;  // a finished GLQ checkpoint (ours or the reference's)
    std::filesystem::path output_dir;      // empty or == checkpoint_dir: add the model card in place
    bool replace_existing = false;
    // Perplexity for the card (optional): measured on `perplexity_text` for
    // the quantized model, and for the source model too when asked and its
    // folder is still where the checkpoint says.
    std::filesystem::path perplexity_text;  // empty: not measured
    int64_t perplexity_seqlen = 512;
    int64_t perplexity_max_windows = 0;     // 0 = all
    bool perplexity_of_source = false;
    std::string device = "cpu";
    std::string model_name;                 // the card's title; empty: the output folder's name
};

struct PerplexityReport {
    double perplexity = 0.0;
    int64_t tokens_scored = 0;
    int64_t windows = 0;
    int64_t seqlen = 0;
};

struct ExportResult {
    std::filesystem::path output_dir;
    std::filesystem::path model_card;      // output_dir / README.md
    std::map<std::string, int> bpw;        // from the checkpoint's quantization_config
    double average_bpw = 0.0;
    std::optional<PerplexityReport> perplexity;         // quantized model
    std::optional<PerplexityReport> source_perplexity;  // the unquantized source
};

// Copies the checkpoint folder and writes README.md (the card), atomically.
// Throws glq::Error naming the folder/file: not a GLQ checkpoint, an existing
// output without replace_existing, an unreadable perplexity text.
ExportResult export_model(const ExportOptions& options, const ProgressFn& progress = {},
                          const CancelToken* cancel = nullptr);

// The card's Markdown (exposed for tests): from the checkpoint's config.json,
// quantize_config.json, layer_metrics.json and the job record when present.
std::string model_card_markdown(const std::filesystem::path& checkpoint_dir, const std::string& model_name,
                                const std::optional<PerplexityReport>& perplexity,
                                const std::optional<PerplexityReport>& source_perplexity,
                                const std::filesystem::path& perplexity_text);

} // namespace glq::session
