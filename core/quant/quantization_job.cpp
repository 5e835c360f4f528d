#include "core/quant/quantization_job.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <set>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/model_dir.h"
#include "core/io/safetensors.h"
#include "core/io/tokenizer.h"
#include "core/model/dtype.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/plan/allocator.h"
#include "core/plan/bpw_map.h"
#include "core/plan/module_name.h"
#include "core/format/glq_checkpoint.h"
#include "core/quant/hessian.h"
#include "core/quant/job_record.h"
#include "core/quant/quantize_layer.h"
#include "kernels/device.h"

namespace glq::quant {
using namespace format;
using plan::Allocation;
using plan::AllocationRequest;
using plan::BpwMap;
using plan::SensitivityTable;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Hidden states of every window above this size stay on the host on CUDA.
constexpr int64_t kMaxDeviceHiddenBytes = int64_t(4) << 30;

std::string hex64(uint64_t v) {
    std::ostringstream s;
    s << std::hex << std::setw(16) << std::setfill('0') << v;
    return s.str();
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void report(const QuantizationCallbacks& cb, const std::string& stage, const std::string& item, int64_t done,
            int64_t total, const std::string& unit) {
    if (cb.progress) cb.progress(Progress{stage, item, done, total, unit});
}

void note(const QuantizationCallbacks& cb, const std::string& line) {
    if (cb.log) cb.log(line);
}

// Progress through a layer's calibration windows ("<what>, window w/n"),
// reported at the stage's count as it stands (`done` is read at each window).
WindowDoneFn window_progress(const QuantizationCallbacks& cb, const std::string& stage, const std::string& what,
                             const int64_t& done, int64_t total, const std::string& unit) {
    return [&cb, &done, stage, what, total, unit](int64_t w, int64_t n) {
        report(cb, stage, what + ", window " + std::to_string(w) + "/" + std::to_string(n), done, total, unit);
    };
}

void check_cancel(const QuantizationCallbacks& cb) {
    if (cb.cancel) cb.cancel->check();
}

// The decoder layer of a linear, -1 for none (core/plan/module_name.h).
int64_t layer_of(const std::string& prefix) { return plan::layer_index_of(prefix).value_or(-1); }

// Everything both passes need: the source, the float32 model, the windows.
struct Prepared {
    io::ModelDir dir;
    std::unique_ptr<model::Transformer> model;
    std::vector<std::string> prefixes;
    CalibrationData calibration;
    uint64_t calibration_key = 0;
};

void check_model_dims(const model::Transformer& model, const std::vector<std::string>& prefixes,
                      const fs::path& config) {
    for (const std::string& p : prefixes) {
        const auto op = model.linear(p);
        if (op->in_features() % 8 != 0 || op->out_features() % 8 != 0)
            throw Error(config.string(), "projection " + p + " is " + std::to_string(op->out_features()) + " x " +
                                             std::to_string(op->in_features()) +
                                             ": GLQ quantizes blocks of 8 weights, so every linear's dimensions "
                                             "must be multiples of 8");
    }
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
    key += "|text:" + hex64(data.text_hash) + "|n:" + std::to_string(calib.nsamples) +
           "|T:" + std::to_string(calib.seqlen) + "|seed:" + std::to_string(calib.seed);
    if (calib.contiguous) key += "|contiguous";  // seeded keys stay as they were
    return fnv1a64(key);
}

// Applies o.layer_streaming to this model and this device, and says what it chose.
bool choose_layer_streaming(const io::ModelDir& dir, const QuantizationJobOptions& o, const model::LoadOptions& load,
                            const QuantizationCallbacks& cb) {
    if (!load.device.is_cuda()) return false;
    uint64_t bytes = 0;
    for (const auto& file : dir.weights().files())
        for (const io::TensorInfo& t : file->tensors())
            bytes += static_cast<uint64_t>(t.numel()) * c10::elementSize(load.dtype);
    const int index = load.device.has_index() ? load.device.index() : 0;
    const std::optional<uint64_t> free = kernels::cuda_free_memory(index);
    const bool stream = decide_layer_streaming(o.layer_streaming, load.device, bytes, free);
    const std::string where = "cuda:" + std::to_string(index);
    note(cb, std::string(stream ? "layer streaming: the weights stay on the host, one layer at a time on "
                                : "layer streaming off: the weights live on ") +
                 where + " (" + io::human_bytes(bytes) + " as " + model::dtype_short_name(load.dtype) + ", " +
                 (free ? io::human_bytes(*free) + " free" : std::string("free memory unknown")) + ")");
    return stream;
}

Prepared prepare(const QuantizationJobOptions& o, const QuantizationCallbacks& cb, model::LoadOptions& load) {
    Prepared p{io::ModelDir::open(o.model_dir), nullptr, {}, {}, 0};
    if (p.dir.quantization())
        throw Error(p.dir.config_path().string(), "is already quantized (quant_method '" +
                                                      p.dir.quantization()->quant_method +
                                                      "'); quantize the original model");
    report(cb, "calibrate", "loading " + o.model_dir.string(), 0, 0, "");
    load.cancel = cb.cancel;
    // Streamed, a model larger than the GPU's memory still calibrates and
    // quantizes: one decoder layer at a time visits the device (with_layer_on_device).
    load.stream_layers = choose_layer_streaming(p.dir, o, load, cb);
    p.model = model::Transformer::load(p.dir, load);
    p.prefixes = p.model->linear_prefixes();
    check_model_dims(*p.model, p.prefixes, p.dir.config_path());
    return p;
}

void draw_calibration(Prepared& p, const QuantizationJobOptions& o, const QuantizationCallbacks& cb) {
    report(cb, "calibrate", "tokenizing the calibration text", 0, 0, "");
    const io::Tokenizer tokenizer = io::Tokenizer::load(p.dir.tokenizer_path());
    p.calibration = load_calibration(o.calibration, tokenizer);
    p.calibration_key = calibration_key(p.dir, p.calibration, o.calibration);
    note(cb, "calibration: " + p.calibration.description);
}

// Layer 0's inputs: the embedded windows, on the device when it is CUDA and they fit.
torch::Tensor embed_windows(const Prepared& p, const QuantizationCallbacks& cb) {
    torch::NoGradGuard no_grad;
    const torch::Tensor& ids = p.calibration.ids;
    const int64_t n = ids.size(0), t = ids.size(1), c = p.model->config().hidden_size;
    const torch::Device device = p.model->device();
    const int64_t bytes = n * t * c * static_cast<int64_t>(c10::elementSize(p.model->dtype()));
    const torch::Device home = device.is_cuda() && bytes <= kMaxDeviceHiddenBytes ? device : torch::Device(torch::kCPU);
    torch::Tensor hidden = torch::empty({n, t, c}, torch::TensorOptions().dtype(p.model->dtype()).device(home));
    for (int64_t w = 0; w < n; ++w) {
        check_cancel(cb);
        hidden[w].copy_(p.model->embed(ids[w].unsqueeze(0).to(device))[0]);
        report(cb, "calibrate", "embedding window " + std::to_string(w + 1), w + 1, n, "windows");
    }
    return hidden;
}

// Layer streaming: moves layer `layer` to the compute device for `work` and
// back to the host afterwards (a no-op when not streamed). When `work`
// throws, the job ends and drops the model, so nothing needs moving back.
template <typename Work>
void with_layer_on_device(model::Transformer& model, int64_t layer, Work&& work) {
    if (model.streams_layers()) model.move_layer(layer, model.device());
    work();
    if (model.streams_layers()) model.move_layer(layer, torch::kCPU);
}

fs::path hessian_file(const fs::path& folder, int64_t layer, const std::string& rates_key) {
    return folder / ("layer" + std::to_string(layer) + "-" + rates_key + ".safetensors");
}

// Hessians of `layer`: from the cache when present, else captured (and cached).
LayerHessians layer_hessians(Prepared& p, const QuantizationJobOptions& o, const QuantizationCallbacks& cb,
                             int64_t layer, const torch::Tensor& hidden, const std::string& rates_key,
                             int& from_cache, torch::Tensor* outputs, const WindowDoneFn& on_window) {
    const fs::path folder =
        (o.cache_dir.empty() ? default_hessian_cache_dir() : o.cache_dir) / hex64(p.calibration_key);
    const fs::path file = hessian_file(folder, layer, rates_key);
    if (o.use_cache) {
        if (auto cached = load_layer_hessians(file, p.model->device())) {
            ++from_cache;
            if (outputs) *outputs = run_layer(*p.model, layer, hidden, cb.cancel, on_window);
            return *cached;
        }
    }
    LayerHessians h = capture_layer_hessians(*p.model, layer, hidden, cb.cancel, outputs, on_window);
    if (o.use_cache) {
        try {
            save_layer_hessians(file, h);
        } catch (const Error& e) {
            note(cb, std::string("warning: Hessian cache not written (") + e.what() + ")");
        }
    }
    return h;
}

// The rates of every linear before `layer`, hashed ("dense" when none).
// Tuning passes change the quantized weights too, so they are part of the
// key ("=2t1"); untuned layers keep the key they always had ("=2").
std::string rates_key_before(const std::vector<std::string>& prefixes, const std::map<std::string, int>& plan,
                             int64_t layer, int tune_iters) {
    std::string s;
    for (const std::string& p : prefixes) {
        if (layer_of(p) >= layer) continue;
        const int b = plan.at(p);
        const int passes = tune_iters_for(tune_iters, b);
        s.append(p).append("=").append(std::to_string(b));
        if (passes) s.append("t").append(std::to_string(passes));
        s.append(";");
    }
    return s.empty() ? "dense" : hex64(fnv1a64(s));
}

const model::DenseLinear& dense_of(const model::Transformer& model, const std::string& prefix) {
    const auto op = model.linear(prefix);
    const auto* dense = dynamic_cast<const model::DenseLinear*>(op.get());
    if (!dense) throw Error(prefix, "is not a dense linear (" + op->kind() + ")");
    return *dense;
}

// ---- resume folder: one safetensors per finished linear -------------------

io::DType io_dtype(torch::ScalarType t, const std::string& where) {
    switch (t) {
    case torch::kInt16: return io::DType::I16;
    case torch::kFloat16: return io::DType::F16;
    case torch::kFloat32: return io::DType::F32;
    case torch::kBFloat16: return io::DType::BF16;
    default: throw Error(where, "unexpected dtype in the quantized artifacts");
    }
}

json metrics_json(const LayerQuantMetrics& m) {
    return {{"bpw", m.bpw}, {"rows", m.rows}, {"cols", m.cols}, {"proxy_loss", m.proxy_loss},
            {"relative_proxy_loss", m.relative_proxy_loss}, {"sqnr_db", m.sqnr_db}, {"mse", m.mse},
            {"wscale", m.wscale}, {"damping_tier", static_cast<int>(m.damping_tier)}, {"seconds", m.seconds}};
}

LayerQuantMetrics metrics_from_json(const json& j) {
    LayerQuantMetrics m;
    m.bpw = j.at("bpw").get<int>();
    m.rows = j.at("rows").get<int64_t>();
    m.cols = j.at("cols").get<int64_t>();
    m.proxy_loss = j.at("proxy_loss").get<double>();
    m.relative_proxy_loss = j.at("relative_proxy_loss").get<double>();
    m.sqnr_db = j.at("sqnr_db").get<double>();
    m.mse = j.at("mse").get<double>();
    m.wscale = j.at("wscale").get<double>();
    m.damping_tier = static_cast<DampingTier>(j.at("damping_tier").get<int>());
    m.seconds = j.at("seconds").get<double>();
    return m;
}

void save_resume_layer(const fs::path& file, const ShellLayerArtifacts& a, const LayerQuantMetrics& m) {
    std::vector<torch::Tensor> keep;
    std::vector<io::TensorRef> refs;
    const auto add = [&](const std::string& name, const torch::Tensor& t) {
        torch::Tensor c = t.to(torch::kCPU).contiguous();
        keep.push_back(c);
        refs.push_back({name, io_dtype(c.scalar_type(), file.string()), c.sizes().vec(),
                        {reinterpret_cast<const std::byte*>(c.data_ptr()), c.nbytes()}});
    };
    for (size_t s = 0; s < a.qidxs.size(); ++s) add("Qidxs" + std::to_string(s), a.qidxs[s]);
    add("SU", a.su);
    add("SV", a.sv);
    if (a.bias.defined()) add("bias", a.bias);
    json meta = {{"wscale", a.wscale}, {"inv_resid_scale", a.inv_resid_scale}, {"metrics", metrics_json(m)}};
    io::write_safetensors(file, refs, {{"glq_resume", meta.dump()}});
}

std::optional<QuantizedLayer> load_resume_layer(const fs::path& file, const torch::Device& device) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return std::nullopt;
    auto st = io::SafetensorsFile::open(file);
    const auto tensor = [&](const std::string& name) {
        const io::TensorView v = st->view(name);
        const torch::ScalarType dtype = v.info->dtype == io::DType::I16
                                            ? torch::kInt16
                                            : model::torch_dtype_of(v.info->dtype, file.string());
        torch::Tensor t = torch::empty(v.info->shape, dtype);
        std::memcpy(t.data_ptr(), v.bytes.data(), v.bytes.size());
        return t;
    };
    auto meta_it = st->metadata().find("glq_resume");
    if (meta_it == st->metadata().end()) throw Error(file.string(), "not a resume file (no glq_resume metadata)");
    const json meta = json::parse(meta_it->second);
    QuantizedLayer q;
    q.metrics = metrics_from_json(meta.at("metrics"));
    ShellLayerArtifacts& a = q.artifacts;
    a.bpw = q.metrics.bpw;
    for (int s = 0; st->find("Qidxs" + std::to_string(s)); ++s) a.qidxs.push_back(tensor("Qidxs" + std::to_string(s)));
    a.su = tensor("SU");
    a.sv = tensor("SV");
    if (st->find("bias")) a.bias = tensor("bias");
    a.wscale = meta.at("wscale").get<float>();
    a.inv_resid_scale = meta.at("inv_resid_scale").get<std::vector<float>>();
    a.validate(file.string());
    q.w_hat = dequantize_layer(a, device);
    return q;
}

std::string resume_settings(const Prepared& p, const QuantizationJobOptions& o, const std::map<std::string, int>& plan) {
    json j = {{"calibration_key", hex64(p.calibration_key)}, {"propagate", o.propagate},
              {"device", o.device.is_cuda() ? "cuda" : "cpu"}, {"plan", plan},
              {"tune_iters", o.tune_iters}};
    return j.dump(1);
}

// ---- bpw plan --------------------------------------------------------------

bool is_integral(double v) { return std::fabs(v - std::round(v)) < 1e-9; }

constexpr int kMaxTuneIters = 10;

// Before any work: a bad value should not cost a model load.
void check_tune_iters(const QuantizationJobOptions& o) {
    if (o.tune_iters != kTuneItersAuto && (o.tune_iters < 0 || o.tune_iters > kMaxTuneIters))
        throw Error("--tune-iters", "must be auto or between 0 and " + std::to_string(kMaxTuneIters) + " (got " +
                                        std::to_string(o.tune_iters) + ")");
}

void check_rate_range(const QuantizationJobOptions& o) {
    if (o.min_bpw < 2 || o.max_bpw > 8 || o.min_bpw > o.max_bpw)
        throw Error("--min-bpw/--max-bpw", "must satisfy 2 <= min <= max <= 8 (got " + std::to_string(o.min_bpw) +
                                               ".." + std::to_string(o.max_bpw) + ")");
}

} // namespace

LayerStreaming parse_layer_streaming(const std::string& text) {
    if (text == "auto") return LayerStreaming::Auto;
    if (text == "on") return LayerStreaming::On;
    if (text == "off") return LayerStreaming::Off;
    throw Error("--stream-layers", "must be auto, on or off (got '" + text + "')");
}

bool decide_layer_streaming(LayerStreaming mode, const torch::Device& device, uint64_t weight_bytes,
                            std::optional<uint64_t> free_device_bytes) {
    if (!device.is_cuda() || mode == LayerStreaming::Off) return false;
    if (mode == LayerStreaming::On) return true;
    // Half: the other half holds the calibration activations (up to
    // kMaxDeviceHiddenBytes), Hessians and LDLQ's workspace.
    return !free_device_bytes || weight_bytes > *free_device_bytes / 2;
}

int tune_iters_for(int requested, int bpw) {
    if (requested != kTuneItersAuto) return requested;
    return bpw <= 3 ? 1 : 0;
}

fs::path default_hessian_cache_dir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return fs::path(xdg) / "glq-workbench/hessians";
    if (const char* home = std::getenv("HOME"); home && *home) return fs::path(home) / ".cache/glq-workbench/hessians";
    return fs::temp_directory_path() / "glq-workbench-hessians";
}

namespace {

SensitivityTable profile_pass(Prepared& p, const QuantizationJobOptions& o, const QuantizationCallbacks& cb,
                              const std::vector<int>& bpws, int& from_cache) {
    torch::NoGradGuard no_grad;
    SensitivityTable table;
    table.model = o.model_dir.string();
    torch::Tensor hidden = embed_windows(p, cb);
    const int64_t total = static_cast<int64_t>(p.prefixes.size() * bpws.size());
    int64_t done = 0;
    for (int64_t layer = 0; layer < p.model->num_layers(); ++layer) {
        check_cancel(cb);
        const std::string hessians = "layer " + std::to_string(layer) + ": Hessians";
        report(cb, "profile", hessians, done, total, "quantizations");
        torch::Tensor next;
        const WindowDoneFn windows = window_progress(cb, "profile", hessians, done, total, "quantizations");
        with_layer_on_device(*p.model, layer, [&] {
            const LayerHessians h = layer_hessians(p, o, cb, layer, hidden, "dense", from_cache, &next, windows);
            for (const std::string& prefix : p.prefixes) {
                if (layer_of(prefix) != layer) continue;
                const model::DenseLinear& dense = dense_of(*p.model, prefix);
                const torch::Tensor w = dense.weight().to(torch::kFloat32);
                for (int b : bpws) {
                    LayerQuantOptions lo;
                    lo.bpw = b;
                    lo.tune_iters = tune_iters_for(o.tune_iters, b);
                    lo.cancel = cb.cancel;
                    const QuantizedLayer q = quantize_layer(w, h.for_linear(prefix), lo);
                    table.record(prefix, w.size(0), w.size(1), b, q.metrics.proxy_loss, q.metrics.relative_proxy_loss);
                    report(cb, "profile", prefix + " @ " + std::to_string(b) + " bpw", ++done, total,
                           "quantizations");
                }
            }
        });
        hidden = next;
    }
    return table;
}

std::map<std::string, int> resolve_plan(Prepared& p, const QuantizationJobOptions& o, const QuantizationCallbacks& cb,
                                        int& from_cache, bool& needs_profile) {
    needs_profile = false;
    if (o.bpw_map || !o.bpw_map_file.empty()) {
        const BpwMap map = o.bpw_map ? *o.bpw_map : BpwMap::load(o.bpw_map_file);
        map.validate_layers(p.prefixes, o.bpw_map ? std::string("bpw map") : o.bpw_map_file.string());
        return map.resolve(p.prefixes);
    }
    if (is_integral(o.bpw)) {
        const int b = static_cast<int>(std::lround(o.bpw));
        if (b < 2 || b > 8) throw Error("--bpw", "must be between 2 and 8 (got " + std::to_string(o.bpw) + ")");
        std::map<std::string, int> plan;
        for (const std::string& prefix : p.prefixes) plan[prefix] = b;
        return plan;
    }
    (void)cb;
    (void)from_cache;
    check_rate_range(o);
    if (o.bpw < o.min_bpw || o.bpw > o.max_bpw)
        throw Error("--bpw", "a fractional target must lie in [--min-bpw, --max-bpw] = [" + std::to_string(o.min_bpw) +
                                 ", " + std::to_string(o.max_bpw) + "]");
    needs_profile = true;
    return {};
}

} // namespace

SensitivityTable run_profile(const QuantizationJobOptions& o, const std::vector<int>& bpws,
                             const QuantizationCallbacks& cb) {
    check_tune_iters(o);
    if (bpws.empty()) throw Error("--bpws", "no rates to profile");
    for (int b : bpws)
        if (b < 2 || b > 8) throw Error("--bpws", "rates must be between 2 and 8 (got " + std::to_string(b) + ")");
    model::LoadOptions load;
    load.device = o.device;
    Prepared p = prepare(o, cb, load);
    draw_calibration(p, o, cb);
    int from_cache = 0;
    SensitivityTable t = profile_pass(p, o, cb, bpws, from_cache);
    if (from_cache) note(cb, std::to_string(from_cache) + " layer(s) of Hessians from the cache");
    return t;
}

QuantizationSummary run_quantization_job(const QuantizationJobOptions& o, const QuantizationCallbacks& cb) {
    torch::NoGradGuard no_grad;
    const auto started = Clock::now();
    if (o.output_dir.empty()) throw Error("--out", "no output folder given");
    check_tune_iters(o);
    {
        std::error_code ec;
        if (fs::exists(o.output_dir, ec) && fs::equivalent(o.output_dir, o.model_dir, ec))
            throw Error(o.output_dir.string(), "the output folder is the source model's folder");
    }
    model::LoadOptions load;
    load.device = o.device;
    Prepared p = prepare(o, cb, load);
    int from_cache = 0;
    bool needs_profile = false;
    std::map<std::string, int> plan = resolve_plan(p, o, cb, from_cache, needs_profile);
    draw_calibration(p, o, cb);
    if (needs_profile) {
        std::vector<int> bpws;
        for (int b = o.min_bpw; b <= o.max_bpw; ++b) bpws.push_back(b);
        const SensitivityTable table = profile_pass(p, o, cb, bpws, from_cache);
        const Allocation a = allocate_bpw(table, AllocationRequest{o.bpw, o.min_bpw, o.max_bpw});
        plan = a.bpw;
        std::ostringstream s;
        s << "allocation: average " << std::fixed << std::setprecision(3) << a.average_bpw
          << " bpw, predicted proxy loss " << std::scientific << a.total_loss;
        note(cb, s.str());
    }

    // Resume folder beside the output.
    const fs::path resume_dir = o.output_dir.string() + ".glq-resume";
    const std::string settings = resume_settings(p, o, plan);
    {
        std::error_code ec;
        const fs::path settings_file = resume_dir / "settings.json";
        const bool matches = o.resume && fs::is_regular_file(settings_file, ec) && read_file(settings_file) == settings;
        if (!matches) {
            fs::remove_all(resume_dir, ec);
            fs::create_directories(resume_dir);
            write_file_atomic(settings_file, settings);
        } else {
            note(cb, "resuming from " + resume_dir.string());
        }
    }

    QuantizationSummary summary;
    summary.output_dir = o.output_dir;
    summary.bpw = plan;
    summary.calibration = p.calibration.description;
    summary.streamed_layers = load.stream_layers;
    GlqCheckpointContents contents;
    torch::Tensor hidden = embed_windows(p, cb);
    // Progress counts weights, so the bar and its ETA move inside a linear
    // (through LDLQ's blocks) and weigh a 1536-wide MLP above a 64-wide k_proj.
    const auto weights_of = [&](const std::string& prefix) {
        const auto op = p.model->linear(prefix);
        return op->out_features() * op->in_features();
    };
    int64_t total = 0, done = 0;
    for (const std::string& prefix : p.prefixes) total += weights_of(prefix);
    for (int64_t layer = 0; layer < p.model->num_layers(); ++layer) {
        check_cancel(cb);
        std::vector<std::string> mine;
        for (const std::string& prefix : p.prefixes)
            if (layer_of(prefix) == layer) mine.push_back(prefix);
        with_layer_on_device(*p.model, layer, [&] {
            // Finished linears of this layer from an earlier run.
            std::map<std::string, QuantizedLayer> results;
            for (const std::string& prefix : mine)
                if (auto q = load_resume_layer(resume_dir / (prefix + ".safetensors"), p.model->device()))
                    results.emplace(prefix, std::move(*q));
            const std::string hessians = "layer " + std::to_string(layer) + ": Hessians";
            const auto windows_of = [&](const std::string& what) {
                return window_progress(cb, "quantize", what, done, total, "weights");
            };
            const std::string forward = "layer " + std::to_string(layer) + ": forward";
            std::optional<LayerHessians> h;
            torch::Tensor dense_next;
            if (results.size() < mine.size()) {
                report(cb, "quantize", hessians, done, total, "weights");
                const std::string rates =
                    o.propagate ? rates_key_before(p.prefixes, plan, layer, o.tune_iters) : "dense";
                h = layer_hessians(p, o, cb, layer, hidden, rates, from_cache, o.propagate ? nullptr : &dense_next,
                                   windows_of(hessians));
            }
            for (const std::string& prefix : mine) {
                check_cancel(cb);
                const int64_t weights = weights_of(prefix);
                report(cb, "quantize", prefix, done, total, "weights");
                LayerResult r;
                r.prefix = prefix;
                r.bpw = plan.at(prefix);
                auto it = results.find(prefix);
                if (it != results.end()) {
                    r.resumed = true;
                    ++summary.resumed_linears;
                } else {
                    const model::DenseLinear& dense = dense_of(*p.model, prefix);
                    LayerQuantOptions lo;
                    lo.bpw = r.bpw;
                    lo.tune_iters = tune_iters_for(o.tune_iters, r.bpw);
                    lo.cancel = cb.cancel;
                    lo.progress = [&](const Progress& ldlq) {
                        if (ldlq.total > 0)
                            report(cb, "quantize", prefix, done + weights * ldlq.done / ldlq.total, total, "weights");
                    };
                    QuantizedLayer q = quantize_layer(dense.weight().to(torch::kFloat32), h->for_linear(prefix), lo,
                                                      dense.bias().defined() ? dense.bias().to(torch::kFloat32)
                                                                             : torch::Tensor());
                    save_resume_layer(resume_dir / (prefix + ".safetensors"), q.artifacts, q.metrics);
                    it = results.emplace(prefix, std::move(q)).first;
                }
                const LayerQuantMetrics& m = it->second.metrics;
                r.proxy_loss = m.proxy_loss;
                r.relative_error = m.relative_proxy_loss;
                r.seconds = m.seconds;
                summary.layers.push_back(r);
                if (cb.on_layer) cb.on_layer(r);
                done += weights;
                report(cb, "quantize", prefix, done, total, "weights");
            }
            const bool last = layer + 1 == p.model->num_layers();
            // Without propagation the next layer's inputs are this layer's
            // dense outputs. When every linear came from the resume folder no
            // Hessians were captured, so they were not produced on the way:
            // run the layer now, while it is still dense.
            if (!o.propagate && !last && !dense_next.defined())
                dense_next = run_layer(*p.model, layer, hidden, cb.cancel, windows_of(forward));
            // Write Ŵ back (dense, model dtype) and produce the next layer's inputs.
            for (const std::string& prefix : mine) {
                QuantizedLayer& q = results.at(prefix);
                std::optional<torch::Tensor> bias;
                const model::DenseLinear& dense = dense_of(*p.model, prefix);
                if (dense.bias().defined()) bias = dense.bias();
                auto op = std::make_shared<model::DenseLinear>(q.w_hat.to(p.model->dtype()), bias);
                contents.metrics.emplace(prefix, q.metrics);
                contents.layers.emplace(prefix, std::move(q.artifacts));
                p.model->replace_linear(prefix, op);
            }
            if (!last)
                hidden = o.propagate ? run_layer(*p.model, layer, hidden, cb.cancel, windows_of(forward)) : dense_next;
        });
    }
    summary.hessian_layers_from_cache = from_cache;
    if (from_cache) note(cb, std::to_string(from_cache) + " layer(s) of Hessians from the cache");

    // Export.
    check_cancel(cb);
    report(cb, "export", o.output_dir.string(), 0, 0, "bytes");  // the writer reports the bytes as they go
    contents.source_config = json::parse(read_file(p.dir.config_path()));
    contents.tokenizer_dir = p.dir.path();
    std::set<std::string> skip;
    for (const auto& [prefix, a] : contents.layers) {
        skip.insert(prefix + ".weight");
        skip.insert(prefix + ".bias");
    }
    for (const std::string& name : p.dir.weights().names())
        if (!skip.count(name)) contents.unquantized.emplace_back(name, model::view_tensor(p.dir.weights(), name).clone());
    contents.run.source_model = o.model_dir.string();
    contents.run.nsamples = o.calibration.nsamples;
    contents.run.seqlen = o.calibration.seqlen;
    for (const auto& [prefix, b] : plan) {
        const int passes = tune_iters_for(o.tune_iters, b);
        contents.run.tune_iters_by_bpw[b] = passes;
        contents.run.tune_iters = std::max(contents.run.tune_iters, passes);
    }
    contents.run.total_time_s = seconds_since(started);
    double bits = 0, params = 0;
    for (const auto& [prefix, a] : contents.layers) {
        const double n = static_cast<double>(a.out_features() * a.in_features());
        bits += n * a.bpw;
        params += n;
    }
    summary.average_bpw = params > 0 ? bits / params : 0.0;
    // What the checkpoint does not record itself (the calibration text, how
    // the rates were chosen), for the model card: written with the
    // checkpoint, so it appears with it or not at all. Its time is the
    // job's up to the export, as quantize_config.json's total_time_s.
    summary.seconds = contents.run.total_time_s;
    contents.extra_files.emplace(kJobRecordFile, job_record_json(o, summary));
    p.model.reset();
    try {
        write_glq_checkpoint(o.output_dir, contents, cb.progress);
    } catch (const Error& e) {
        // Typically a full disk. The quantized layers are safe in the resume
        // folder: say so, so that freeing space costs only the export.
        throw Error(e.where(), e.problem() + " (the finished layers are kept in " + resume_dir.string() +
                                   ": rerun with --resume)");
    }
    {
        std::error_code ec;
        fs::remove_all(resume_dir, ec);
    }
    summary.seconds = seconds_since(started);
    return summary;
}

} // namespace glq::quant
