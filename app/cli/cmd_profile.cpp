// glqw profile: the sensitivity table (proxy loss and relative error of every
// linear at each candidate rate) that `glqw allocate` and the GUI's plots
// read, and a per-rate summary of it on stdout.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
#include "app/cli/job_options.h"
#include "app/cli/progress_bar.h"
#include "core/common/error.h"
#include "core/session/job_session.h"

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

// "-" for a value the table does not have (a relative error not recorded).
std::string sci(double v) {
    if (std::isnan(v)) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3e", v);
    return buf;
}

// One line per rate: how the error falls with the rate, and which layer is
// relatively worst (the first candidate for more bits).
void print_summary(const glq::plan::SensitivityTable& table, std::ostream& out) {
    char line[160];
    std::snprintf(line, sizeof line, "%5s %7s %18s %18s %18s  %s\n", "bpw", "layers", "median proxy loss",
                  "median rel. error", "max rel. error", "(layer)");
    out << line;
    for (const glq::plan::RateSummary& r : table.summarize_rates()) {
        std::snprintf(line, sizeof line, "%5d %7zu %18s %18s %18s  %s\n", r.bpw, r.layers, sci(r.median_proxy_loss).c_str(),
                      sci(r.median_relative_error).c_str(), sci(r.max_relative_error).c_str(),
                      r.max_relative_error_layer.c_str());
        out << line;
    }
    out << "proxy loss = tr(dW H dW^T)/m (output units^2); relative error = proxy loss / (tr(W H W^T)/m)\n";
}

int run_profile(int argc, char** argv) {
    glq::cli::ArgParser args("profile",
                             "Measure each linear's proxy loss tr(ΔW H ΔWᵀ)/m and relative error (that loss over "
                             "tr(W H Wᵀ)/m) at each rate in --bpws, with Hessians of the unquantized model (cached as "
                             "for quantize), write a glq-sensitivity table and print a per-rate summary.");
    args.positional("MODEL", "the source HF model folder")
        .option("out", "FILE", "the sensitivity table to write (JSON)")
        .option("bpws", "B,B,...", "rates to measure", "2,3,4,5,6,7,8");
    glq::cli::add_calibration_options(args, "calibration text(s) (default: the bundled Brown corpus)");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("out")) throw glq::cli::UsageError("--out FILE is required");

    glq::session::JobOptions o;
    glq::cli::read_calibration_options(args, o);
    const std::vector<int> rates = parse_rates(args.get("bpws"));

    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    glq::session::JobCallbacks cb = glq::cli::terminal_callbacks(bar, interrupt);
    glq::plan::SensitivityTable table;
    try {
        table = glq::session::profile(o, rates, cb);  // the workbench's Run calibration, too
    } catch (const glq::Cancelled&) {
        bar.finish();
        std::cerr << "cancelled; nothing was written\n";
        return 130;
    }
    bar.finish();
    table.save(args.get("out"));
    std::cout << "profiled " << table.layers.size() << " linears at " << rates.size() << " rates\n";
    print_summary(table, std::cout);
    std::cout << "wrote " << args.get("out") << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("profile", "Measure per-layer GLQ sensitivity (proxy loss and relative error per bpw)", run_profile);
