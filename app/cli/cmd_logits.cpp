// glqw logits: run the model on given token ids and dump fp32 logits, for
// cross-checks against transformers (tests/python/test_logits_vs_transformers.py).
// Output: raw little-endian float32, row-major [positions, vocab].

#include <fstream>
#include <iostream>
#include <sstream>

#include "app/cli/command.h"
#include "core/format/glq_model_loader.h"
#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/model/dtype.h"
#include "core/model/transformer.h"

namespace {

std::vector<int64_t> parse_ids(const std::string& text) {
    std::vector<int64_t> ids;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        try {
            std::size_t used = 0;
            ids.push_back(std::stoll(item, &used));
            if (used != item.size()) throw std::invalid_argument(item);
        } catch (const std::exception&) {
            throw glq::cli::UsageError("--ids: '" + item + "' is not a token id");
        }
    }
    if (ids.empty()) throw glq::cli::UsageError("--ids: give at least one token id");
    return ids;
}

int run_logits(int argc, char** argv) {
    glq::cli::ArgParser args("logits", "Run a model on token ids and write its fp32 logits to a raw .bin file.");
    args.positional("MODEL", "HF model folder")
        .option("ids", "LIST", "comma-separated token ids, e.g. 1,2,3")
        .option("out", "FILE", "output file: float32 [positions, vocab], little-endian")
        .option("dtype", "DTYPE", "compute dtype: f32, bf16 or f16", "f32")
        .option("device", "DEVICE", "cpu, cuda or cuda:N", "cpu")
        .flag("all", "write every position's logits (default: the last position only)")
        .flag("decode-on-load", "GLQ checkpoints: dequantise to dense weights at load (the reference path)");
    if (!args.parse(argc, argv, std::cout)) return 0;
    if (!args.has("ids")) throw glq::cli::UsageError("--ids is required");
    if (!args.has("out")) throw glq::cli::UsageError("--out is required");
    const std::vector<int64_t> ids = parse_ids(args.get("ids"));

    glq::model::LoadOptions load;
    load.dtype = glq::model::parse_dtype(args.get("dtype"));
    load.device = glq::model::parse_device(args.get("device"));
    load.decode_on_load = args.has("decode-on-load");
    auto model = glq::format::load_any_model(args.get("MODEL"), load);  // dense or GLQ checkpoint
    for (int64_t id : ids)
        if (id < 0 || id >= model->config().vocab_size)
            throw glq::Error("--ids", "token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                          std::to_string(model->config().vocab_size - 1) + ")");
    const bool all = args.has("all");
    const torch::Tensor input = torch::tensor(ids, torch::kInt64).view({1, -1});
    const torch::Tensor logits =
        model->forward(input, nullptr, 0, /*last_only=*/!all).select(0, 0).to(torch::kCPU, torch::kFloat32).contiguous();
    const auto* bytes = reinterpret_cast<const char*>(logits.data_ptr<float>());
    glq::write_file_atomic(args.get("out"), std::string(bytes, bytes + logits.numel() * sizeof(float)));
    std::cout << "wrote " << logits.size(0) << " x " << logits.size(1) << " fp32 logits to " << args.get("out") << "\n";
    return 0;
}

} // namespace

GLQW_COMMAND("logits", "Dump a model's fp32 logits for given token ids (cross-checks)", run_logits);
