#include "core/quant/quantization_job.h"

// The job's orchestration: prepare the model and the windows, resolve the
// plan (profile and allocate when asked), run the per-layer step over every
// decoder layer, export. Its parts live in hessian_cache, resume_store,
// layer_streaming and layer_step (quantization_job.h says what each does).

#include <chrono>
#include <cmath>
#include <iomanip>
#include <set>
#include <sstream>
#include <system_error>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/format/glq_checkpoint.h"
#include "core/io/model_dir.h"
#include "core/io/tokenizer.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/plan/allocator.h"
#include "core/plan/bpw_map.h"
#include "core/plan/module_name.h"
#include "core/quant/hessian.h"
#include "core/quant/hessian_cache.h"
#include "core/quant/job_callbacks.h"
#include "core/quant/job_record.h"
#include "core/quant/layer_step.h"
#include "core/quant/layer_streaming.h"
#include "core/quant/quantize_layer.h"
#include "core/quant/resume_store.h"

namespace glq::quant {
using namespace format;
using plan::Allocation;
using plan::AllocationRequest;
using plan::BpwMap;
using plan::SensitivityTable;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace detail;

namespace {

// Hidden states of every window above this size stay on the host on CUDA.
constexpr int64_t kMaxDeviceHiddenBytes = int64_t(4) << 30;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

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

// Every linear must be storable by the codebook (its shape rule), checked
// before any calibration work.
void check_model_dims(const model::Transformer& model, const std::vector<std::string>& prefixes,
                      const fs::path& config, codebook::CodebookKind kind) {
    const codebook::Codebook& cb = codebook::codebook_of(kind);
    for (const std::string& p : prefixes) {
        const auto op = model.linear(p);
        try {
            cb.check_shape(op->out_features(), op->in_features(), p);
        } catch (const Error& e) {
            throw Error(config.string(), "projection " + p + " is " + std::to_string(op->out_features()) + " x " +
                                             std::to_string(op->in_features()) + ": " + e.problem());
        }
    }
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
    load.stream_layers = choose_layer_streaming(p.dir, o.layer_streaming, load, cb.log);
    p.model = model::Transformer::load(p.dir, load);
    p.prefixes = p.model->linear_prefixes();
    check_model_dims(*p.model, p.prefixes, p.dir.config_path(), o.codebook);
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

int tune_iters_for(int requested, int bpw) {
    if (requested != kTuneItersAuto) return requested;
    return bpw <= 3 ? 1 : 0;
}

namespace {

// The profile: every linear at every rate of `bpws`, Hessians of the
// unquantized model (each layer's inputs are the dense outputs of the last).
SensitivityTable profile_pass(Prepared& p, const QuantizationJobOptions& o, const QuantizationCallbacks& cb,
                              const std::vector<int>& bpws, HessianCache& cache) {
    torch::NoGradGuard no_grad;
    SensitivityTable table;
    table.model = o.model_dir.string();
    table.codebook = codebook::codebook_name(o.codebook);
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
            const LayerHessians h = cache.layer(*p.model, layer, hidden, "dense", &next, windows, cb.cancel, cb.log);
            for (const std::string& prefix : p.prefixes) {
                if (layer_of(prefix) != layer) continue;
                const model::DenseLinear& dense = dense_of(*p.model, prefix);
                const torch::Tensor w = dense.weight().to(torch::kFloat32);
                for (int b : bpws) {
                    LayerQuantOptions lo;
                    lo.codebook = o.codebook;
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

std::map<std::string, int> resolve_plan(Prepared& p, const QuantizationJobOptions& o, bool& needs_profile) {
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
    HessianCache cache(o.cache_dir, o.use_cache, p.calibration_key);
    SensitivityTable t = profile_pass(p, o, cb, bpws, cache);
    if (const int from_cache = cache.layers_from_cache())
        note(cb, std::to_string(from_cache) + " layer(s) of Hessians from the cache");
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
    bool needs_profile = false;
    std::map<std::string, int> plan = resolve_plan(p, o, needs_profile);
    draw_calibration(p, o, cb);
    HessianCache cache(o.cache_dir, o.use_cache, p.calibration_key);
    if (needs_profile) {
        std::vector<int> bpws;
        for (int b = o.min_bpw; b <= o.max_bpw; ++b) bpws.push_back(b);
        const SensitivityTable table = profile_pass(p, o, cb, bpws, cache);
        const Allocation a = allocate_bpw(table, AllocationRequest{o.bpw, o.min_bpw, o.max_bpw});
        plan = a.bpw;
        std::ostringstream s;
        s << "allocation: average " << std::fixed << std::setprecision(3) << a.average_bpw
          << " bpw, predicted proxy loss " << std::scientific << a.total_loss;
        note(cb, s.str());
    }

    // Resume folder beside the output.
    const ResumeStore resume(o.output_dir, resume_settings(p.calibration_key, o.propagate, o.device, o.codebook, plan, o.tune_iters),
                             o.resume);
    if (resume.resumed()) note(cb, "resuming from " + resume.dir().string());

    QuantizationSummary summary;
    summary.output_dir = o.output_dir;
    summary.bpw = plan;
    summary.calibration = p.calibration.description;
    summary.streamed_layers = load.stream_layers;
    GlqCheckpointContents contents;
    torch::Tensor hidden = embed_windows(p, cb);
    WeightProgress progress;
    for (const std::string& prefix : p.prefixes) progress.total += weights_of(*p.model, prefix);
    const LayerStep step{*p.model, p.prefixes, plan, o, cb, cache, resume};
    for (int64_t layer = 0; layer < p.model->num_layers(); ++layer) {
        check_cancel(cb);
        hidden = quantize_decoder_layer(step, layer, hidden, progress, summary, contents);
    }
    const int from_cache = cache.layers_from_cache();
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
        const double n = static_cast<double>(format::out_features(a) * format::in_features(a));
        bits += n * format::layer_bpw(a);
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
        throw Error(e.where(), e.problem() + " (the finished layers are kept in " + resume.dir().string() +
                                   ": rerun with --resume)");
    }
    resume.remove();
    summary.seconds = seconds_since(started);
    return summary;
}

} // namespace glq::quant
