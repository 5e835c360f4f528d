#pragma once
// What `glqw quantize` and `glqw profile` share: the calibration and Hessian
// cache options, and the callbacks that drive the progress bar and the log.

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/quant/quantization_job.h"

namespace glq::cli {

// --calib, --nsamples, --seqlen, --seed, --contiguous, --device, --stream-layers, --tune-iters,
// --cache-dir, --no-cache.
void add_calibration_options(ArgParser& args, const std::string& calib_help);
// Fills model_dir (from MODEL), calibration, device and the cache settings.
void read_calibration_options(const ArgParser& args, quant::QuantizationJobOptions& options);

// Progress to `bar`, cancel from `interrupt`, log lines to stderr below the bar.
quant::QuantizationCallbacks terminal_callbacks(ProgressBar& bar, const InterruptCancel& interrupt);

} // namespace glq::cli
