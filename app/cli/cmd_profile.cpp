// glqw profile: the sensitivity table (proxy loss of every linear at each
// candidate rate) that `glqw allocate` and the GUI's plots read.

#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
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
        .option("bpws", "B,B,...", "rates to measure", "2,3,4,5,6,7,8")
        .option("calib", "FILE[,FILE...]", "calibration text(s) (default: the bundled Brown corpus)")
        .option("nsamples", "N", "calibration windows", "128")
        .option("seqlen", "L", "tokens per window", "512")
        .option("seed", "S", "seed of the window choice", "0")
        .option("device", "cpu|cuda", "where to run", "cpu")
        .option("cache-dir", "DIR", "Hessian cache folder")
        .flag("no-cache", "neither read nor write cached Hessians");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("out")) throw glq::cli::UsageError("--out FILE is required");

    glq::quant::QuantizationJobOptions o;
    o.model_dir = args.get("MODEL");
    if (args.has("calib")) {
        std::stringstream s(args.get("calib"));
        for (std::string item; std::getline(s, item, ',');)
            if (!item.empty()) o.calibration.files.emplace_back(item);
    }
    o.calibration.nsamples = args.get_int("nsamples");
    o.calibration.seqlen = args.get_int("seqlen");
    o.calibration.seed = static_cast<uint64_t>(args.get_int("seed"));
    o.device = glq::model::parse_device(args.get("device"));
    if (args.has("cache-dir")) o.cache_dir = args.get("cache-dir");
    o.use_cache = !args.has("no-cache");
    const std::vector<int> rates = parse_rates(args.get("bpws"));

    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    glq::quant::QuantizationCallbacks cb;
    cb.progress = bar.callback();
    cb.cancel = &interrupt.token();
    cb.log = [&](const std::string& line) {
        bar.finish();
        std::cerr << line << "\n";
    };
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
