// glqw bench-engine: prefill and decode speed of the inference engine
// (median of repeats, warm-up excluded, device-synchronised), for a model
// folder and/or a Llama-3.2-1B-shaped model with random weights.

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/common/atomic_file.h"
#include "core/eval/reference_shapes.h"
#include "core/eval/throughput.h"
#include "core/format/glq_model_loader.h"
#include "core/format/random_layer.h"
#include "core/io/hf_config.h"
#include "core/model/dtype.h"
#include "core/model/transformer.h"

namespace {

nlohmann::json report(const std::string& name, const glq::model::Transformer& model,
                      const glq::eval::ThroughputResult& r) {
    std::cout << std::fixed << std::setprecision(1) << name << " (" << glq::model::dtype_short_name(model.dtype())
              << " on " << model.device().str() << "): prefill " << r.prefill_tokens_per_second << " tok/s ("
              << r.prompt_tokens << " tokens), decode " << r.decode_tokens_per_second << " tok/s (batch 1, "
              << r.new_tokens << " tokens" << (r.cuda_graph ? ", CUDA graph" : "") << "), median of " << r.repeats
              << "; peak memory " << glq::cli::format_bytes(static_cast<double>(r.peak_memory_bytes)) << "\n";
    if (r.batch > 1)
        std::cout << "  decode at batch " << r.batch << ": " << r.batched_decode_tokens_per_second << " tok/s (all rows)\n";
    std::cout << "  weights resident: " << glq::cli::format_bytes(static_cast<double>(model.resident_bytes())) << "\n";
    if (!r.cuda_graph_fallback.empty()) std::cout << "  eager decode: " << r.cuda_graph_fallback << "\n";
    return {{"model", name},
            {"device", model.device().str()},
            {"dtype", glq::model::dtype_short_name(model.dtype())},
            {"prompt_tokens", r.prompt_tokens},
            {"new_tokens", r.new_tokens},
            {"repeats", r.repeats},
            {"prefill_tokens_per_second", r.prefill_tokens_per_second},
            {"decode_tokens_per_second", r.decode_tokens_per_second},
            {"time_to_first_token_s", r.time_to_first_token},
            {"prefill_runs", r.prefill_runs},
            {"decode_runs", r.decode_runs},
            {"peak_memory_bytes", r.peak_memory_bytes},
            {"cuda_graph", r.cuda_graph},
            {"batch", r.batch},
            {"batched_decode_tokens_per_second", r.batched_decode_tokens_per_second},
            {"batched_decode_runs", r.batched_decode_runs},
            {"weight_bytes_resident", model.resident_bytes()}};
}

int run_bench_engine(int argc, char** argv) {
    glq::cli::ArgParser args("bench-engine",
                             "Prefill and decode tok/s of the engine (median of repeats, warm-up excluded).");
    args.positional("MODEL", "HF model folder (optional with --random-llama-1b)", /*required=*/false)
        .flag("random-llama-1b", "also benchmark a Llama-3.2-1B-shaped model with random weights")
        .flag("random-llama-8b", "also benchmark a Llama-3-8B-shaped model with random weights")
        .option("random-config", "CONFIG_JSON", "also benchmark random weights of the shape in this config.json")
        .option("random-bpw", "LIST", "random models: comma-separated rates, 0 = the dense dtype, 2..8 = GLQ e8_shell "
                                      "with random codes (speed does not depend on the codes)", "0")
        .option("batch", "N", "also decode N sequences at once (N > 1)", "1")
        .flag("decode-on-load", "GLQ checkpoints: dequantise to dense weights at load (the reference path)")
        .option("device", "DEVICE", "cpu, cuda or cuda:N", "cuda")
        .option("dtype", "DTYPE", "f32, bf16 or f16", "bf16")
        .option("prompt-tokens", "N", "prompt length for the prefill measurement", "128")
        .option("new-tokens", "N", "tokens decoded per run at batch 1", "256")
        .option("repeats", "N", "measured runs (the median is reported)", "5")
        .option("warmup", "N", "unmeasured runs first", "1")
        .flag("no-cuda-graph", "decode eagerly on CUDA (no graph capture)")
        .option("json", "FILE", "also write the results as JSON");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("MODEL") && !args.has("random-llama-1b") && !args.has("random-llama-8b") && !args.has("random-config"))
        throw glq::cli::UsageError("give a MODEL folder, --random-llama-1b/-8b, or both");

    const torch::Device device = glq::model::parse_device(args.get("device"));
    const torch::ScalarType dtype = glq::model::parse_dtype(args.get("dtype"));
    glq::cli::InterruptCancel interrupt;
    glq::eval::ThroughputOptions options;
    options.prompt_tokens = args.get_int("prompt-tokens");
    options.new_tokens = args.get_int("new-tokens");
    options.repeats = args.get_int("repeats");
    options.warmup = args.get_int("warmup");
    options.use_cuda_graph = !args.has("no-cuda-graph");
    options.batch = args.get_int("batch");
    if (options.batch < 1) throw glq::cli::UsageError("--batch must be at least 1");
    std::vector<int> random_bpw;
    {
        std::stringstream ss(args.get("random-bpw"));
        std::string item;
        while (std::getline(ss, item, ',')) {
            int v = -1;
            try { v = std::stoi(item); } catch (const std::exception&) {}
            if (v != 0 && (v < 2 || v > 8)) throw glq::cli::UsageError("--random-bpw: '" + item + "' is not 0 or 2..8");
            random_bpw.push_back(v);
        }
    }
    options.cancel = &interrupt.token();

    nlohmann::json results = nlohmann::json::array();
    const auto bench = [&](const std::string& name, glq::model::Transformer& model) {
        glq::cli::ProgressBar bar;
        options.progress = bar.callback();
        const auto r = glq::eval::measure_throughput(model, options);
        bar.finish();
        results.push_back(report(name, model, r));
    };
    if (args.has("MODEL")) {
        glq::model::LoadOptions load;
        load.dtype = dtype;
        load.device = device;
        load.cancel = &interrupt.token();
        load.decode_on_load = args.has("decode-on-load");
        auto model = glq::format::load_any_model(args.get("MODEL"), load);
        bench(args.get("MODEL"), *model);
    }
    const auto random = [&](const std::string& name, const glq::io::ModelConfig& config) {
        for (int bpw : random_bpw) {
            auto model = glq::model::Transformer::random(config, dtype, device, /*seed=*/0);
            if (bpw > 0) glq::format::randomize_to_glq(*model, bpw);
            bench(name + (bpw > 0 ? ", GLQ " + std::to_string(bpw) + " bpw (random codes)" : ""), *model);
        }
    };
    if (args.has("random-llama-1b")) random("random Llama-3.2-1B shape", glq::eval::llama_3_2_1b_config());
    if (args.has("random-llama-8b")) random("random Llama-3-8B shape", glq::eval::llama_3_8b_config());
    if (args.has("random-config"))
        random("random " + args.get("random-config") + " shape", glq::io::ModelConfig::load(args.get("random-config")));
    if (args.has("json")) glq::write_file_atomic(args.get("json"), results.dump(2) + "\n");
    return 0;
}

} // namespace

GLQW_COMMAND("bench-engine", "Prefill and decode speed of the inference engine", run_bench_engine);
