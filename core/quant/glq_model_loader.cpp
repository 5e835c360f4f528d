#include "core/quant/glq_model_loader.h"

#include <random>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "core/quant/glq_checkpoint.h"
#include "core/quant/glq_linear.h"

namespace glq::quant {
namespace fs = std::filesystem;

namespace {

// The stand-in folder, removed however the load ends.
struct TempFolder {
    fs::path path;
    TempFolder() {
        std::random_device rd;
        path = fs::temp_directory_path() / ("glq-standin-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(path);
    }
    ~TempFolder() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// Tokenizer and generation files are linked, not copied.
void link_side_files(const fs::path& from, const fs::path& to) {
    for (const auto& entry : fs::directory_iterator(from)) {
        const std::string name = entry.path().filename().string();
        if (name == "config.json" || name == "quantize_config.json" || entry.path().extension() == ".safetensors" ||
            name == "model.safetensors.index.json" || !entry.is_regular_file())
            continue;
        std::error_code ec;
        fs::create_symlink(fs::absolute(entry.path()), to / name, ec);
        if (ec) fs::copy_file(entry.path(), to / name, ec);
    }
}

} // namespace

std::unique_ptr<model::Transformer> load_glq_model(const fs::path& dir, const model::LoadOptions& options) {
    const GlqCheckpoint ckpt = read_glq_checkpoint(dir);
    const io::SafetensorsModel weights = io::SafetensorsModel::open_dir(dir);

    TempFolder standin;
    nlohmann::json config = ckpt.config;
    config.erase("quantization_config");
    write_file_atomic(standin.path / "config.json", config.dump(2));
    link_side_files(dir, standin.path);

    // Tensors that belong to the quantized linears are replaced by placeholders.
    std::set<std::string> quantized_names;
    for (const auto& [prefix, a] : ckpt.layers)
        for (const std::string& name : weights.names())
            if (name.rfind(prefix + ".", 0) == 0) quantized_names.insert(name);

    std::vector<io::TensorRef> refs;
    for (const std::string& name : weights.names()) {
        if (quantized_names.count(name)) continue;
        const io::TensorView v = weights.view(name);
        refs.push_back({name, v.info->dtype, v.info->shape, v.bytes});
    }
    int64_t largest = 0;
    for (const auto& [prefix, a] : ckpt.layers) largest = std::max(largest, a.out_features() * a.in_features());
    const std::vector<std::byte> zeros(static_cast<size_t>(largest) * 2);
    std::vector<torch::Tensor> keep;
    for (const auto& [prefix, a] : ckpt.layers) {
        const int64_t m = a.out_features(), n = a.in_features();
        refs.push_back({prefix + ".weight", io::DType::F16, {m, n}, {zeros.data(), static_cast<size_t>(m * n * 2)}});
        if (a.bias.defined()) {
            torch::Tensor b = a.bias.to(torch::kFloat32).contiguous();
            keep.push_back(b);
            refs.push_back({prefix + ".bias", io::DType::F32, {b.size(0)},
                            {reinterpret_cast<const std::byte*>(b.data_ptr()), b.nbytes()}});
        }
    }
    io::write_safetensors(standin.path / "model.safetensors", refs);

    std::unique_ptr<model::Transformer> model = model::Transformer::load(standin.path, options);
    const std::vector<std::string> prefixes = model->linear_prefixes();
    const std::set<std::string> known(prefixes.begin(), prefixes.end());
    for (const auto& [prefix, a] : ckpt.layers) {
        if (options.cancel) options.cancel->check();
        if (!known.count(prefix))
            throw Error((dir / "config.json").string(), "quantized layer '" + prefix + "' is not a linear of this model");
        const torch::ScalarType wdtype = options.dtype == torch::kFloat64 ? torch::kFloat32 : options.dtype;
        model->replace_linear(prefix, std::make_shared<GlqLinear>(a, options.device, wdtype, prefix));
    }
    return model;
}

std::unique_ptr<model::Transformer> load_any_model(const fs::path& dir, const model::LoadOptions& options) {
    if (is_glq_checkpoint(dir)) return load_glq_model(dir, options);
    return model::Transformer::load(dir, options);
}

} // namespace glq::quant
