// glqw quantize: the end-to-end GLQ job (calibrate -> [profile -> allocate]
// -> quantize layer by layer -> export) on CPU or CUDA, with a progress bar,
// one log line per linear, Ctrl-C to cancel and --resume. It runs through the
// job session (core/session/job_session.h), the use case the workbench's
// Quantize button runs: the same checks, and the job record the model card of
// `glqw export` reads.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
#include "app/cli/job_options.h"
#include "app/cli/progress_bar.h"
#include "core/common/error.h"
#include "core/session/job_session.h"

namespace {

int run_quantize(int argc, char** argv) {
    glq::cli::ArgParser args(
        "quantize",
        "Quantize an HF model folder with GLQ (E8 lattice codebook, RHT + block LDLQ) and write a checkpoint in the "
        "reference glq format. --bpw B with an integer B quantizes every linear at B bits; a fractional B profiles "
        "every linear at each rate in [--min-bpw, --max-bpw] and lets the allocator pick rates averaging at most B; "
        "--bpw-map FILE uses a bpw_allocation.json map. Hessians are cached (default "
        "~/.cache/glq-workbench/hessians): with sequential propagation (the default, as the reference) a re-run "
        "with another map reuses layer 0 and every layer whose predecessors keep their rates; with --no-propagate "
        "every layer's Hessian comes from the unquantized model and all are reused. Finished layers are kept in "
        "OUT.glq-resume so a cancelled run continues with --resume. The checkpoint carries its job record "
        "(glq_workbench_job.json: calibration text, windows, device, how the rates were chosen), which the model "
        "card of `glqw export` reports.");
    args.positional("MODEL", "the source HF model folder")
        .option("out", "DIR", "the checkpoint folder to write")
        .option("bpw", "B", "bits per weight: integer 2..8 (uniform) or fractional (mixed precision)")
        .option("bpw-map", "FILE", "per-layer rates (bpw_allocation.json); overrides --bpw")
        .option("min-bpw", "N", "lowest rate for a fractional --bpw", "2")
        .option("max-bpw", "N", "highest rate for a fractional --bpw", "8")
        .flag("no-propagate", "Hessians of every layer from the unquantized model (cacheable across maps)")
        .flag("resume", "continue from OUT.glq-resume when its settings match (otherwise it is started afresh)")
        .flag("force", "replace OUT if it already exists");
    glq::cli::add_calibration_options(args, "calibration text(s), .txt or .gz (default: the bundled Brown corpus)");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("out")) throw glq::cli::UsageError("--out DIR is required");
    if (!args.has("bpw") && !args.has("bpw-map")) throw glq::cli::UsageError("give --bpw B or --bpw-map FILE");

    glq::session::JobOptions o;
    glq::cli::read_calibration_options(args, o);
    o.output_dir = args.get("out");
    if (args.has("bpw")) o.target_bpw = args.get_double("bpw");
    if (args.has("bpw-map")) o.bpw_map_file = args.get("bpw-map");
    o.min_bpw = static_cast<int>(args.get_int("min-bpw"));
    o.max_bpw = static_cast<int>(args.get_int("max-bpw"));
    o.propagate = !args.has("no-propagate");
    o.resume = args.has("resume");
    o.replace_existing = args.has("force");
    if (std::filesystem::exists(o.output_dir) && !o.replace_existing)
        throw glq::Error(o.output_dir.string(), "already exists (use --force to replace it)");

    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    glq::session::JobCallbacks cb = glq::cli::terminal_callbacks(bar, interrupt);
    cb.on_layer = [&](const glq::session::LayerReport& r) {
        bar.finish();
        char line[256];
        std::snprintf(line, sizeof line, "%-40s %d bpw  proxy loss %.4e  relative %.4e  %6.2fs%s", r.name.c_str(),
                      r.bpw, r.proxy_loss, r.relative_error, r.seconds, r.resumed ? "  (resumed)" : "");
        std::cerr << line << "\n";
    };
    glq::session::QuantizeResult s;
    try {
        s = glq::session::quantize(o, cb);
    } catch (const glq::Cancelled&) {
        bar.finish();
        std::cerr << "cancelled; nothing was written to " << o.output_dir.string()
                  << " (finished layers are kept in " << o.output_dir.string() << ".glq-resume: rerun with --resume)\n";
        return 130;
    }
    bar.finish();
    std::cout << "calibration: " << s.calibration << "\n"
              << "quantized " << s.layers.size() << " linears, average " << std::fixed << std::setprecision(3)
              << s.average_bpw << " bpw";
    if (s.resumed_linears) std::cout << " (" << s.resumed_linears << " resumed)";
    if (s.hessian_layers_from_cache) std::cout << ", " << s.hessian_layers_from_cache << " layers' Hessians cached";
    std::cout << ", " << glq::cli::format_duration(s.seconds) << "\nwrote " << s.output_dir.string() << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("quantize", "Quantize a model with GLQ (calibrate, quantize, export)", run_quantize);
