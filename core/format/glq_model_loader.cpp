#include "core/format/glq_model_loader.h"

#include <set>
#include <string>
#include <type_traits>
#include <variant>

#include <torch/torch.h>

#include "core/common/error.h"
#include "core/format/glq_checkpoint.h"
#include "core/format/compressed_linear.h"
#include "core/format/decoded_linear.h"

namespace glq::format {
namespace fs = std::filesystem;

std::unique_ptr<model::Transformer> load_glq_model(const fs::path& dir, const model::LoadOptions& options) {
    const GlqCheckpoint ckpt = read_glq_checkpoint(dir);
    const std::string config_file = (dir / "config.json").string();
    const torch::ScalarType wdtype = options.dtype == torch::kFloat64 ? torch::kFloat32 : options.dtype;

    std::set<std::string> built;
    // One workspace for the model's compressed layers: they run one at a time.
    const auto workspace = std::make_shared<ShellWorkspace>();
    model::LoadOptions load = options;
    load.linear_factory = [&](const std::string& prefix, int64_t out, int64_t in,
                              bool bias) -> std::shared_ptr<model::LinearOp> {
        const auto it = ckpt.layers.find(prefix);
        if (it == ckpt.layers.end())
            return options.linear_factory ? options.linear_factory(prefix, out, in, bias) : nullptr;
        const LayerCodes& codes = it->second;
        // The bias follows config.json, as the dense loader's does: a mismatch
        // is a broken checkpoint, not something to guess about.
        if (bias != layer_bias(codes).defined())
            throw Error(config_file, "linear '" + prefix + "' " + (bias ? "needs a bias by config.json, but the checkpoint has no '" + prefix + ".bias'"
                                                                       : "has a '" + prefix + ".bias' that config.json does not allow"));
        built.insert(prefix);
        if (options.decode_on_load) return std::make_shared<DecodedGlqLinear>(codes, options.device, wdtype, prefix);
        return std::visit(
            [&](const auto& a) -> std::shared_ptr<model::LinearOp> {
                using T = std::decay_t<decltype(a)>;
                if constexpr (std::is_same_v<T, ShellLayerArtifacts>)
                    return std::make_shared<CompressedShellLinear>(a, options.device, workspace, prefix);
            },
            codes);
    };
    std::unique_ptr<model::Transformer> model = model::Transformer::load(dir, load);
    for (const auto& [prefix, a] : ckpt.layers)
        if (!built.count(prefix))
            throw Error(config_file, "quantized layer '" + prefix + "' is not a linear of this model");
    return model;
}

std::unique_ptr<model::Transformer> load_any_model(const fs::path& dir, const model::LoadOptions& options) {
    if (is_glq_checkpoint(dir)) return load_glq_model(dir, options);
    return model::Transformer::load(dir, options);
}

} // namespace glq::format
