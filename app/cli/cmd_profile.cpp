// glqw profile: the sensitivity table (proxy loss of every linear at each
// candidate rate) that `glqw allocate` and the GUI's plots read.

#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
#include "app/cli/job_options.h"
#include "app/cli/progress_bar.h"
#include "core/common/error.h"
#include "core/model/dtype.h"
#include "core/quant/quantization_job.h"

namespace {

std::vector<int> parse_rates(const std::string& list) {
    std::vector<int> out;
    std::stringstream s(list);
    for (std::string item; std::getline(s, item, ',');) {
        try {
            size_t used = 0;
            out.push_back(std::stoi(item, &used));
            if (used != item.size()) throw std::invalid_argument(item);
        } catch (const std::exception&) {
            throw glq::cli::UsageError("--bpws: '" + item + "' is not an integer");
        }
    }
    return out;
}

int run_profile(int argc, char** argv) {
    glq::cli::ArgParser args("profile",
                             "Measure each linear's proxy loss tr(ΔW H ΔWᵀ)/m at each rate in --bpws, with Hessians "
                             "of the unquantized model (cached as for quantize), and write a glq-sensitivity table.");
    args.positional("MODEL", "the source HF model folder")
        .option("out", "FILE", "the sensitivity table to write (JSON)")
        .option("bpws", "B,B,...", "rates to measure", "2,3,4,5,6,7,8");
    glq::cli::add_calibration_options(args, "calibration text(s) (default: the bundled Brown corpus)");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("out")) throw glq::cli::UsageError("--out FILE is required");

    glq::quant::QuantizationJobOptions o;
    glq::cli::read_calibration_options(args, o);
    const std::vector<int> rates = parse_rates(args.get("bpws"));

    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    glq::quant::QuantizationCallbacks cb = glq::cli::terminal_callbacks(bar, interrupt);
    glq::quant::SensitivityTable table;
    try {
        table = glq::quant::run_profile(o, rates, cb);
    } catch (const glq::Cancelled&) {
        bar.finish();
        std::cerr << "cancelled; nothing was written\n";
        return 130;
    }
    bar.finish();
    table.save(args.get("out"));
    std::cout << "profiled " << table.layers.size() << " linears at " << rates.size() << " rates\nwrote "
              << args.get("out") << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("profile", "Measure per-layer GLQ sensitivity (proxy loss per bpw)", run_profile);
