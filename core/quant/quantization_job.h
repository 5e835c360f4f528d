#pragma once
// The end-to-end GLQ quantization job: calibrate -> (profile -> allocate) ->
// quantize layer by layer -> export, as the reference's quantize_model does
// it (§4.1 sequential propagation, §5 mixed precision), with progress, ETA,
// cancel, a Hessian cache and resume.
//
//  calibrate  load the model (float32) and tokenizer, draw the calibration
//             windows (calibration.h), embed them: hidden [N, T, C] for layer 0
//             (kept on the device when it is CUDA and they fit, else on the host).
//             On CUDA the weights stay on the device when they fit easily;
//             otherwise they stay on the host and one decoder layer at a time
//             visits the device (layer streaming, layer_streaming.h).
//  profile    only for a fractional --bpw: every linear is quantized at every
//             rate in [min_bpw, max_bpw] with Hessians of the *unquantized*
//             model (no propagation: a layer's sensitivity should not depend on
//             rates not chosen yet), giving a SensitivityTable; the knapsack
//             allocator (allocator.h) then picks the rates. (The reference
//             profiles at 2 bpw with propagation and extrapolates 4x per bit.)
//  quantize   for each decoder layer L: capture H from inputs that already went
//             through quantized layers 0..L-1, quantize the layer's 7 linears
//             (quantize_layer.h), write Ŵ back into the model as dense weights,
//             re-run layer L for the next layer's inputs.
//  export     write_glq_checkpoint (atomic: the output folder appears complete
//             or not at all).
//
// Its parts, each in a file of its own: the Hessian cache (hessian_cache.h:
// what a cached layer may be reused for), the resume store (resume_store.h:
// finished linears kept in "<output>.glq-resume/" so that a rerun with
// --resume continues), the streaming policy (layer_streaming.h: where a CUDA
// job's weights live) and the per-layer step (layer_step.h: one decoder
// layer, Hessians to quantized weights to the next layer's inputs). The job
// record it writes into the checkpoint is job_record.h.
//
// Bad input gets one glq::Error before any work: an unknown model folder, a
// quantized source model, a projection whose in_features is not a multiple of
// 8, a bpw outside 2..8 or a map naming unknown layers, a calibration text
// shorter than one window. A cancel (glq::Cancelled) or error leaves no output
// folder; the source model is only read.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/codebook/codebook.h"
#include "core/common/progress.h"
#include "core/plan/bpw_map.h"
#include "core/plan/sensitivity.h"
#include "core/quant/calibration.h"
#include "core/quant/layer_streaming.h"

namespace glq::quant {

// The default number of LDLQ tuning passes: one at 2 and 3 bpw, none above.
// Measured on the demo model (H200, docs/benchmarks.md): one pass takes the
// 2-bpw perplexity ratio from 3.36 to 3.14 (median of three calibration
// draws) but 4 bpw only from 1.111 to 1.102, for ~2/3 more time there.
constexpr int kTuneItersAuto = -1;
int tune_iters_for(int requested, int bpw);

struct QuantizationJobOptions {
    std::filesystem::path model_dir;
    std::filesystem::path output_dir;
    codebook::CodebookKind codebook = codebook::CodebookKind::E8Shell;
    double bpw = 4.0;                     // integer: uniform; fractional: profile + allocator
    std::filesystem::path bpw_map_file;   // when set, overrides bpw/min/max
    std::optional<plan::BpwMap> bpw_map;  // the same, held in memory (the GUI's map); wins over the file
    int min_bpw = 2;
    int max_bpw = 8;
    CalibrationOptions calibration;       // default: Brown, 128 x 512, seed 0
    torch::Device device = torch::kCPU;
    LayerStreaming layer_streaming = LayerStreaming::Auto;
    std::filesystem::path cache_dir;      // empty: default_hessian_cache_dir() (hessian_cache.h)
    bool use_cache = true;
    bool propagate = true;                // sequential propagation (the reference's pipeline)
    bool resume = true;                   // reuse "<output>.glq-resume" when its settings match
    // LDLQ refinement passes per linear: 0..10, or kTuneItersAuto.
    int tune_iters = kTuneItersAuto;
};

struct LayerResult {
    std::string prefix;
    int bpw = 0;
    double proxy_loss = 0.0;
    double relative_error = 0.0;  // proxy_loss / (tr(W H Wᵀ)/m)
    double seconds = 0.0;
    bool resumed = false;         // loaded from the resume folder
};

struct QuantizationCallbacks {
    // Stages and units: calibrate (windows), profile (quantizations), quantize
    // (weights: moves inside a linear as LDLQ sweeps its blocks; the item
    // names the linear, or the layer and window while Hessians are captured),
    // export (bytes of model.safetensors).
    ProgressFn progress;
    std::function<void(const LayerResult&)> on_layer;  // once per linear
    std::function<void(const std::string&)> log;       // one-line notes (cache hits, resume)
    const CancelToken* cancel = nullptr;
};

struct QuantizationSummary {
    std::filesystem::path output_dir;
    std::map<std::string, int> bpw;  // per linear
    double average_bpw = 0.0;        // parameter-weighted
    std::vector<LayerResult> layers;
    std::string calibration;         // CalibrationData::description
    int hessian_layers_from_cache = 0;
    int resumed_linears = 0;
    bool streamed_layers = false;    // the weights stayed on the host (LayerStreaming's choice)
    double seconds = 0.0;
};

// The whole job. The checkpoint folder gets the job record too
// (job_record.h), whoever started the job. Throws glq::Error (bad input,
// failed write), glq::Cancelled.
QuantizationSummary run_quantization_job(const QuantizationJobOptions& options,
                                         const QuantizationCallbacks& callbacks = {});

// The profile pass alone (`glqw profile`): proxy loss of every linear at every
// rate in `bpws` (each 2..8), Hessians of the unquantized model (cached as above).
plan::SensitivityTable run_profile(const QuantizationJobOptions& options, const std::vector<int>& bpws,
                             const QuantizationCallbacks& callbacks = {});

} // namespace glq::quant
