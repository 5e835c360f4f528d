// glqw allocate: a sensitivity table + target average -> a per-layer bpw map
// (bpw_allocation.json, readable by the reference and by `glqw quantize --bpw-map`).

#include <iomanip>
#include <iostream>
#include <map>
#include <string>

#include "app/cli/command.h"
#include "core/common/error.h"
#include "core/plan/allocator.h"
#include "core/plan/bpw_map.h"
#include "core/plan/sensitivity.h"

namespace {

// The allocator's errors name its settings (target bpw, min bpw, max bpw);
// this command calls them --target, --min and --max.
glq::plan::Allocation allocate(const glq::plan::SensitivityTable& table, const glq::plan::AllocationRequest& r) {
    try {
        return glq::plan::allocate_bpw(table, r);
    } catch (const glq::Error& e) {
        static const std::map<std::string, std::string> here = {
            {"target bpw", "--target"}, {"min bpw", "--min"}, {"max bpw", "--max"}};
        const auto it = here.find(e.where());
        if (it == here.end()) throw;
        throw glq::Error(it->second, e.problem());
    }
}

int run_allocate(int argc, char** argv) {
    glq::cli::ArgParser args("allocate",
                             "Choose one rate per linear minimising the summed proxy loss with a parameter-weighted "
                             "average of at most --target bits (exact knapsack), and write the bpw map.");
    args.positional("TABLE", "sensitivity.json from `glqw profile` (or the GUI)")
        .option("target", "B", "average bits per weight (may be fractional)")
        .option("min", "N", "lowest rate", "2")
        .option("max", "N", "highest rate", "8")
        .option("out", "FILE", "the bpw map to write (JSON)");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("target")) throw glq::cli::UsageError("--target B is required");
    if (!args.has("out")) throw glq::cli::UsageError("--out FILE is required");

    const glq::plan::SensitivityTable table = glq::plan::SensitivityTable::load(args.get("TABLE"));
    glq::plan::AllocationRequest request;
    request.target_bpw = args.get_double("target");
    request.min_bpw = static_cast<int>(args.get_int("min"));
    request.max_bpw = static_cast<int>(args.get_int("max"));
    const glq::plan::Allocation a = allocate(table, request);

    glq::plan::BpwMap map;
    map.layers = a.bpw;
    map.save(args.get("out"));
    std::map<int, int> histogram;
    for (const auto& [layer, b] : a.bpw) ++histogram[b];
    std::cout << "average " << std::fixed << std::setprecision(4) << a.average_bpw << " bpw (target "
              << request.target_bpw << "), predicted proxy loss " << std::scientific << std::setprecision(4)
              << a.total_loss << (a.exact ? "" : " (budget rounded: not exact)") << "\n";
    for (const auto& [b, n] : histogram) std::cout << "  " << b << " bpw: " << n << " linears\n";
    std::cout << "wrote " << args.get("out") << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("allocate", "Allocate per-layer bpw from a sensitivity table", run_allocate);
