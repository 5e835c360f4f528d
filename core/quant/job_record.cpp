// The job record (see job_record.h).

#include "core/quant/job_record.h"

#include <cmath>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/quant/quantization_job.h"

namespace glq::quant {
namespace fs = std::filesystem;
namespace {

std::string fixed(double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

std::string rates_description(const QuantizationJobOptions& o) {
    if (o.bpw_map) return "per-layer bpw map";
    if (!o.bpw_map_file.empty()) return "per-layer bpw map (" + o.bpw_map_file.filename().string() + ")";
    if (std::fabs(o.bpw - std::round(o.bpw)) < 1e-9) return "uniform " + fixed(o.bpw, 0) + " bpw";
    return "allocated for a target of " + fixed(o.bpw, 2) + " bpw in [" + std::to_string(o.min_bpw) + ", " +
           std::to_string(o.max_bpw) + "]";
}

} // namespace

std::string job_record_json(const QuantizationJobOptions& o, const QuantizationSummary& s) {
    using nlohmann::json;
    json files = json::array();
    for (const auto& f : o.calibration.files) files.push_back(f.string());
    json layers = json::array();
    for (const LayerResult& l : s.layers)
        layers.push_back({{"name", l.prefix},
                          {"bpw", l.bpw},
                          {"proxy_loss", l.proxy_loss},
                          {"relative_error", l.relative_error},
                          {"seconds", l.seconds}});
    json record = {
        {"format", "glq-workbench-job"},
        {"version", 2},
        {"source_model", fs::absolute(o.model_dir).lexically_normal().string()},
        {"calibration",
         {{"description", s.calibration},
          {"files", files},
          {"nsamples", o.calibration.nsamples},
          {"seqlen", o.calibration.seqlen},
          {"seed", o.calibration.seed},
          {"contiguous", o.calibration.contiguous}}},
        {"device", o.device.str()},
        {"layer_streaming", layer_streaming_name(o.layer_streaming)},
        {"streamed", s.streamed_layers},
        {"rates", rates_description(o)},
        {"tune_iters", o.tune_iters == kTuneItersAuto ? json("auto") : json(o.tune_iters)},
        {"propagate", o.propagate},
        {"average_bpw", s.average_bpw},
        {"seconds", s.seconds},
        {"layers", layers},
    };
    if (!o.bpw_map && !o.bpw_map_file.empty()) record["bpw_map_file"] = o.bpw_map_file.string();
    return record.dump(2) + "\n";
}

} // namespace glq::quant
