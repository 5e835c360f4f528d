// glqw import-gguf: a llama-family GGUF file -> an HF model directory
// (config, tokenizer, bf16/f32 safetensors) that every other command reads.

#include <filesystem>
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/progress_bar.h"
#include "core/common/error.h"
#include "core/io/gguf_import.h"

namespace {

int run_import_gguf(int argc, char** argv) {
    glq::cli::ArgParser args("import-gguf",
                             "Import a llama-family GGUF file (F32/F16/BF16, Q4_0/Q4_1/Q5_0/Q5_1/Q8_0, Q4_K/Q5_K/Q6_K "
                             "tensors) into an HF model directory: config.json, generation_config.json, "
                             "tokenizer.json, tokenizer_config.json and model.safetensors.");
    args.positional("FILE", "the .gguf file")
        .positional("OUT_DIR", "the model directory to create")
        .option("dtype", "bf16|f32", "weight dtype of model.safetensors", "bf16")
        .flag("force", "replace OUT_DIR if it already exists");
    if (!args.parse(argc, argv, std::cout)) return 0;

    const std::filesystem::path file = args.get("FILE"), out_dir = args.get("OUT_DIR");
    const std::string dtype = args.get("dtype");
    glq::io::GgufImportOptions options;
    if (dtype == "bf16") options.dtype = glq::io::DType::BF16;
    else if (dtype == "f32") options.dtype = glq::io::DType::F32;
    else throw glq::cli::UsageError("--dtype must be bf16 or f32, got '" + dtype + "'");
    options.overwrite = args.has("force");
    if (std::filesystem::exists(out_dir) && !options.overwrite)
        throw glq::Error(out_dir.string(), "already exists (use --force to replace it)");

    glq::cli::InterruptCancel interrupt;
    glq::cli::ProgressBar bar;
    options.progress = bar.callback();
    options.cancel = &interrupt.token();
    const glq::io::GgufImportSummary summary = glq::io::import_gguf(file, out_dir, options);
    bar.finish();
    std::cout << "imported " << summary.architecture << " model: " << summary.tensors << " tensors, "
              << summary.parameters << " parameters as " << dtype
              << (summary.tied_embeddings ? " (tied embeddings)" : "") << "\n"
              << "wrote " << out_dir.string() << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("import-gguf", "Import a llama-family GGUF into an HF model directory", run_import_gguf);
