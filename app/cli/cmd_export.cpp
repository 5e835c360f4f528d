// glqw export: a finished GLQ checkpoint -> an HF folder in the reference glq
// format with a model card (README.md: the bpw map, the calibration as the
// job recorded it, perplexity when asked), or the card added in place. The
// same use case as the workbench's Export step (session::export_model), so
// the card is built in one place.

#include <filesystem>
#include <iomanip>
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/common/error.h"
#include "core/model/dtype.h"
#include "core/session/job_session.h"

namespace {

int run_export(int argc, char** argv) {
    glq::cli::ArgParser args(
        "export",
        "Write a GLQ checkpoint (from `glqw quantize`, the workbench or the reference `glq` package) as an HF folder "
        "with a model card: the rate of every linear, the calibration text and windows as the job recorded them, "
        "and, with --ppl-text, the perplexity of the checkpoint (and of its source model with --ppl-source). "
        "Without --out the card is added to the checkpoint folder itself.");
    args.positional("CHECKPOINT", "a GLQ checkpoint folder")
        .option("out", "DIR", "the folder to write (a copy of the checkpoint plus README.md)")
        .flag("force", "replace DIR if it already exists")
        .option("name", "NAME", "the card's title and the name its usage example loads (default: the folder's name)")
        .option("ppl-text", "FILE", "measure perplexity on this UTF-8 text for the card")
        .option("ppl-seqlen", "L", "tokens per perplexity window", "512")
        .option("ppl-windows", "N", "at most N windows (0 = the whole text)", "0")
        .flag("ppl-source", "also measure the source model the checkpoint was made from (if its folder is still there)")
        .option("device", "DEVICE", "where perplexity runs: cpu, cuda or cuda:N", "cpu");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if ((args.has("ppl-source") || args.get("ppl-windows") != "0") && !args.has("ppl-text"))
        throw glq::cli::UsageError("--ppl-source and --ppl-windows need --ppl-text FILE");

    glq::session::ExportOptions o;
    o.checkpoint_dir = args.get("CHECKPOINT");
    if (args.has("out")) o.output_dir = args.get("out");
    o.replace_existing = args.has("force");
    if (args.has("name")) o.model_name = args.get("name");
    if (args.has("ppl-text")) o.perplexity_text = args.get("ppl-text");
    o.perplexity_seqlen = args.get_int("ppl-seqlen");
    o.perplexity_max_windows = args.get_int("ppl-windows");
    if (o.perplexity_seqlen < 2) throw glq::cli::UsageError("--ppl-seqlen must be at least 2");
    if (o.perplexity_max_windows < 0) throw glq::cli::UsageError("--ppl-windows must not be negative");
    o.perplexity_of_source = args.has("ppl-source");
    o.device = args.get("device");
    (void)glq::model::parse_device(o.device);  // "--device: ..." before any work

    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    glq::session::ExportResult r;
    try {
        r = glq::session::export_model(o, bar.callback(), &interrupt.token());
    } catch (const glq::Cancelled&) {
        bar.finish();
        std::cerr << "cancelled; nothing was written\n";
        return 130;
    }
    bar.finish();
    std::cout << r.bpw.size() << " quantized linears, average " << std::fixed << std::setprecision(3)
              << r.average_bpw << " bpw\n";
    const auto ppl = [](const char* what, const glq::session::PerplexityReport& p) {
        std::cout << "perplexity (" << what << "): " << std::fixed << std::setprecision(4) << p.perplexity << " on "
                  << p.windows << " x " << p.seqlen << " tokens\n";
    };
    if (r.source_perplexity) ppl("source", *r.source_perplexity);
    if (r.perplexity) ppl("this checkpoint", *r.perplexity);
    std::cout << "wrote " << r.model_card.string() << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("export", "Export a GLQ checkpoint as an HF folder with a model card", run_export);
