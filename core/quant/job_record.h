#pragma once
// The job record: a small JSON file the quantization job writes into every
// checkpoint folder, inside the same atomic write as the checkpoint
// (GlqCheckpointContents::extra_files), whichever front end started the job,
// so that the model card (core/session/job_session.h's model_card_markdown,
// the one place a card is built) can say what the checkpoint itself does not:
// which calibration text, drawn how, on which device, how the rates were
// chosen. Loaders ignore it. No LibTorch in this header.
//
//   {"format": "glq-workbench-job", "version": 2,
//    "source_model": "<model dir, absolute>",  (export --ppl-source finds it from anywhere)
//    "calibration": {"description": "brown.txt.gz: 1.4M tokens, 128 x 512 (seed 0)",
//                    "files": ["<text>", ...] (empty: the bundled Brown corpus),
//                    "nsamples": 128, "seqlen": 512, "seed": 0,
//                    "contiguous": false},                    (version 2)
//    "device": "cpu" | "cuda:0" ...,
//    "layer_streaming": "auto" | "on" | "off", "streamed": bool,  (version 2)
//    "rates": "uniform 4 bpw" | "allocated for a target of 3.50 bpw in [2, 8]" |
//             "per-layer bpw map" | "per-layer bpw map (map.json)",
//    "bpw_map_file": "<path>" (when one was given),            (version 2)
//    "tune_iters": "auto" | N,                                  (version 2)
//    "propagate": true, "average_bpw": 3.49,
//    "seconds": 812.4 (the job up to the export, as quantize_config.json's total_time_s),
//    "layers": [{"name", "bpw", "proxy_loss", "relative_error", "seconds"}, ...]}
// Version 1 (written by the GUI's session before the job wrote it) lacks the
// keys marked above; readers take every key as optional.

#include <string>

namespace glq::quant {

inline constexpr const char* kJobRecordFile = "glq_workbench_job.json";

struct QuantizationJobOptions;
struct QuantizationSummary;

// The record's text (pretty-printed JSON with a trailing newline).
std::string job_record_json(const QuantizationJobOptions& options, const QuantizationSummary& summary);

} // namespace glq::quant
