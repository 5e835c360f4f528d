// The Hessian cache (see hessian_cache.h).

#include "core/quant/hessian_cache.h"

#include <cstdlib>
#include <iomanip>
#include <sstream>
#include <system_error>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/plan/module_name.h"
#include "core/quant/quantization_job.h"

namespace glq::quant {

namespace fs = std::filesystem;

fs::path default_hessian_cache_dir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "glq-workbench/hessians";
    if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache/glq-workbench/hessians";
    return fs::temp_directory_path() / "glq-workbench-hessians";
}

std::string key_hex(uint64_t v) {
    std::ostringstream s;
    s << std::hex << std::setw(16) << std::setfill('0') << v;
    return s.str();
}

uint64_t calibration_key(const io::ModelDir& dir, const CalibrationData& data, const CalibrationOptions& calib) {
    std::string key = read_file(dir.config_path());
    for (const auto& file : dir.weights().files()) {
        std::error_code ec;
        const auto mtime = fs::last_write_time(file->path(), ec);
        // Appended piece by piece, as in rates_key_before: GCC 12 warns
        // (wrongly, -Wstringop-overflow) on `"|" + std::string&&` chains here.
        key.append("|").append(fs::path(file->path()).filename().string());
        key.append(":").append(std::to_string(file->file_size()));
        key.append(":").append(std::to_string(ec ? 0 : mtime.time_since_epoch().count()));
    }
    key += "|text:" + key_hex(data.text_hash) + "|n:" + std::to_string(calib.nsamples) +
           "|T:" + std::to_string(calib.seqlen) + "|seed:" + std::to_string(calib.seed);
    if (calib.contiguous) key += "|contiguous";  // seeded keys stay as they were
    return fnv1a64(key);
}

std::string rates_key_before(const std::vector<std::string>& prefixes, const std::map<std::string, int>& plan,
                             int64_t layer, int tune_iters) {
    std::string s;
    for (const std::string& p : prefixes) {
        if (plan::layer_index_of(p).value_or(-1) >= layer) continue;
        const int b = plan.at(p);
        const int passes = tune_iters_for(tune_iters, b);
        s.append(p).append("=").append(std::to_string(b));
        if (passes) s.append("t").append(std::to_string(passes));
        s.append(";");
    }
    return s.empty() ? "dense" : key_hex(fnv1a64(s));
}

HessianCache::HessianCache(const fs::path& root, bool enabled, uint64_t calibration_key)
    : folder_((root.empty() ? default_hessian_cache_dir() : root) / key_hex(calibration_key)), enabled_(enabled) {}

LayerHessians HessianCache::layer(model::Transformer& model, int64_t layer, const torch::Tensor& hidden,
                                  const std::string& rates_key, torch::Tensor* outputs, const WindowDoneFn& on_window,
                                  const CancelToken* cancel, const std::function<void(const std::string&)>& log) {
    const fs::path file = folder_ / ("layer" + std::to_string(layer) + "-" + rates_key + ".safetensors");
    if (enabled_) {
        if (auto cached = load_layer_hessians(file, model.device())) {
            ++from_cache_;
            if (outputs) *outputs = run_layer(model, layer, hidden, cancel, on_window);
            return *cached;
        }
    }
    LayerHessians h = capture_layer_hessians(model, layer, hidden, cancel, outputs, on_window);
    if (enabled_) {
        try {
            save_layer_hessians(file, h);
        } catch (const Error& e) {
            if (log) log(std::string("warning: Hessian cache not written (") + e.what() + ")");
        }
    }
    return h;
}

} // namespace glq::quant
