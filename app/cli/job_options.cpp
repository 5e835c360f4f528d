#include "app/cli/job_options.h"

#include <iostream>
#include <sstream>

#include "core/codebook/codebook.h"
#include "core/model/dtype.h"
#include "core/quant/quantization_job.h"

namespace glq::cli {

void add_calibration_options(ArgParser& args, const std::string& calib_help) {
    args.option("calib", "FILE[,FILE...]", calib_help)
        .option("nsamples", "N", "calibration windows", "128")
        .option("seqlen", "L", "tokens per window", "512")
        .option("seed", "S", "seed of the window choice", "0")
        .flag("contiguous", "take the first NSAMPLES x SEQLEN tokens in order (the reference's protocol) "
                            "instead of seeded windows")
        .option("device", "cpu|cuda", "where to run", "cpu")
        .option("stream-layers", "auto|on|off",
                "on CUDA, keep the weights on the host and bring one decoder layer at a time to the GPU (for "
                "models larger than its memory; costs about 4 bytes of host memory per parameter); auto: only "
                "when the weights take more than half of the GPU's free memory",
                "auto")
        .option("tune-iters", "N|auto",
                "refinement passes of LDLQ after its sweep (block coordinate descent on the proxy loss; each "
                "pass costs about one more sweep); auto: one pass for linears at 2 or 3 bpw, none above",
                "auto")
        .option("codebook", "e8_shell|trellis",
                "the codebook: e8_shell (E8 lattice shells, 16-bit index per 8 weights) or trellis (the "
                "reference's bitshift trellis with the 3INST code, 16x16 tiles; dimensions multiples of 32)",
                "e8_shell")
        .option("cache-dir", "DIR", "Hessian cache folder")
        .flag("no-cache", "neither read nor write cached Hessians");
}

void read_calibration_options(const ArgParser& args, session::JobOptions& o) {
    o.model_dir = args.get("MODEL");
    if (args.has("calib")) {
        std::stringstream s(args.get("calib"));
        for (std::string item; std::getline(s, item, ',');)
            if (!item.empty()) o.calibration.text_files.emplace_back(item);
    }
    o.calibration.nsamples = args.get_int("nsamples");
    o.calibration.seqlen = args.get_int("seqlen");
    o.calibration.seed = static_cast<uint64_t>(args.get_int("seed"));
    o.calibration.contiguous = args.has("contiguous");
    o.device = args.get("device");
    (void)model::parse_device(o.device);  // "--device: ..." before any work
    o.layer_streaming = args.get("stream-layers");
    (void)quant::parse_layer_streaming(o.layer_streaming);
    o.tune_iters = args.get("tune-iters") == "auto" ? quant::kTuneItersAuto : static_cast<int>(args.get_int("tune-iters"));
    o.codebook = args.get("codebook");
    (void)codebook::parse_codebook(o.codebook, "--codebook");  // before any work
    if (args.has("cache-dir")) o.cache_dir = args.get("cache-dir");
    o.use_cache = !args.has("no-cache");
}

session::JobCallbacks terminal_callbacks(ProgressBar& bar, const InterruptCancel& interrupt) {
    session::JobCallbacks cb;
    cb.progress = bar.callback();
    cb.cancel = &interrupt.token();
    cb.log = [&bar](const std::string& line) {
        bar.finish();
        std::cerr << line << "\n";
    };
    return cb;
}

} // namespace glq::cli
