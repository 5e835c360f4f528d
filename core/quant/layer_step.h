#pragma once
// The per-layer step of the quantization job: one decoder layer, from the
// inputs that reach it to the inputs of the next. Kept apart from the job's
// orchestration (calibrate, plan, export) because this is where the
// reference's sequential propagation (§4.1) happens, and its order matters:
//
//  1. the layer's linears an earlier run finished come from the resume store;
//  2. if any is left: its Hessians, from the Hessian cache or captured from
//     `hidden` (with propagation, inputs that went through the quantized
//     layers before; the cache key names their rates);
//  3. each remaining linear is quantized (quantize_layer.h) and stored in the
//     resume store at once, so a cancel loses at most the linear in progress;
//  4. Ŵ is written back into the model as a dense weight (model dtype), the
//     artifacts and metrics go to the checkpoint's contents;
//  5. the next layer's inputs: this layer run again over `hidden`, now
//     quantized (propagation), or its dense outputs (no propagation; captured
//     with the Hessians, or run before step 4 when every linear was resumed).
//
// The layer visits the device for all of it when the model streams
// (layer_streaming.h).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/format/glq_checkpoint.h"
#include "core/model/transformer.h"
#include "core/quant/hessian_cache.h"
#include "core/quant/quantization_job.h"
#include "core/quant/resume_store.h"

namespace glq::quant {

// What every layer's step reads and the stores it uses.
struct LayerStep {
    model::Transformer& model;
    const std::vector<std::string>& prefixes;  // every quantizable linear of the model, in order
    const std::map<std::string, int>& plan;    // the rate of each
    const QuantizationJobOptions& options;
    const QuantizationCallbacks& callbacks;
    HessianCache& hessians;
    const ResumeStore& resume;
};

// The job's progress, counted in weights so that the bar and its ETA move
// inside a linear (through LDLQ's blocks) and weigh a 1536-wide MLP above a
// 64-wide k_proj.
struct WeightProgress {
    int64_t done = 0;
    int64_t total = 0;
};
int64_t weights_of(const model::Transformer& model, const std::string& prefix);

// The dense linear at `prefix`; glq::Error if it is anything else.
const model::DenseLinear& dense_of(const model::Transformer& model, const std::string& prefix);

// Steps 1-5 for decoder layer `layer` with inputs `hidden`. Appends one
// LayerResult per linear to summary.layers (and hears on_layer), counts
// summary.resumed_linears, fills contents.layers and contents.metrics.
// Returns the next layer's inputs (after the last layer: `hidden`).
torch::Tensor quantize_decoder_layer(const LayerStep& step, int64_t layer, const torch::Tensor& hidden,
                                     WeightProgress& progress, QuantizationSummary& summary,
                                     format::GlqCheckpointContents& contents);

} // namespace glq::quant
