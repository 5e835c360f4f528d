#pragma once
// What `glqw quantize` and `glqw profile` share: the calibration and Hessian
// cache options, read into the job session's options (core/session/
// job_session.h, the use-case layer the workbench calls too), and the
// callbacks that drive the progress bar and the log.

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/session/job_session.h"

namespace glq::cli {

// --calib, --nsamples, --seqlen, --seed, --contiguous, --device, --stream-layers, --tune-iters,
// --cache-dir, --no-cache.
void add_calibration_options(ArgParser& args, const std::string& calib_help);
// Fills model_dir (from MODEL), calibration, device, layer streaming, tuning
// and the cache settings. A bad --device, --stream-layers or --tune-iters is
// reported under its option's name before any work.
void read_calibration_options(const ArgParser& args, session::JobOptions& options);

// Progress to `bar`, cancel from `interrupt`, log lines to stderr below the bar.
session::JobCallbacks terminal_callbacks(ProgressBar& bar, const InterruptCancel& interrupt);

} // namespace glq::cli
