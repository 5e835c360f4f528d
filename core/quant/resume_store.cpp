// The resume store (see resume_store.h).

#include "core/quant/resume_store.h"

#include <cstring>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/safetensors.h"
#include "core/model/weights.h"
#include "core/quant/hessian_cache.h"

namespace glq::quant {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

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

} // namespace

std::string resume_settings(uint64_t calibration_key, bool propagate, const torch::Device& device,
                            codebook::CodebookKind codebook, const std::map<std::string, int>& plan, int tune_iters) {
    // layer_format 2: a linear's file holds the checkpoint's own tensors
    // (format::layer_tensors); folders of earlier versions start afresh.
    json j = {{"layer_format", 2}, {"codebook", codebook::codebook_name(codebook)},
              {"calibration_key", key_hex(calibration_key)}, {"propagate", propagate},
              {"device", device.is_cuda() ? "cuda" : "cpu"}, {"plan", plan},
              {"tune_iters", tune_iters}};
    return j.dump(1);
}

ResumeStore::ResumeStore(const fs::path& output_dir, const std::string& settings, bool resume)
    : dir_(output_dir.string() + ".glq-resume") {
    std::error_code ec;
    const fs::path settings_file = dir_ / "settings.json";
    resumed_ = resume && fs::is_regular_file(settings_file, ec) && read_file(settings_file) == settings;
    if (!resumed_) {
        fs::remove_all(dir_, ec);
        fs::create_directories(dir_);
        write_file_atomic(settings_file, settings);
    }
}

void ResumeStore::save(const std::string& prefix, const LayerCodes& codes, const LayerQuantMetrics& m) const {
    const fs::path file = dir_ / (prefix + ".safetensors");
    std::vector<torch::Tensor> keep;
    std::vector<io::TensorRef> refs;
    // The layer's tensors exactly as a checkpoint stores them (format::layer_tensors).
    for (const auto& [name, t] : format::layer_tensors(codes)) {
        torch::Tensor c = t.to(torch::kCPU).contiguous();
        keep.push_back(c);
        refs.push_back({name, io_dtype(c.scalar_type(), file.string()), c.sizes().vec(),
                        {reinterpret_cast<const std::byte*>(c.data_ptr()), c.nbytes()}});
    }
    json meta = {{"codebook", codebook::codebook_name(format::codebook_kind(codes))}, {"metrics", metrics_json(m)}};
    io::write_safetensors(file, refs, {{"glq_resume", meta.dump()}});
}

std::optional<QuantizedLayer> ResumeStore::load(const std::string& prefix, const torch::Device& device) const {
    const fs::path file = dir_ / (prefix + ".safetensors");
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return std::nullopt;
    auto st = io::SafetensorsFile::open(file);
    const std::string where = file.string();
    const auto tensor = [&](const std::string& name) {
        const io::TensorView v = st->view(name);
        const torch::ScalarType dtype = v.info->dtype == io::DType::I16 ? torch::kInt16 : model::torch_dtype_of(v.info->dtype, where);
        torch::Tensor t = torch::empty(v.info->shape, dtype);
        std::memcpy(t.data_ptr(), v.bytes.data(), v.bytes.size());
        return t;
    };
    auto meta_it = st->metadata().find("glq_resume");
    if (meta_it == st->metadata().end()) throw Error(where, "not a resume file (no glq_resume metadata)");
    QuantizedLayer q;
    codebook::CodebookKind kind = codebook::CodebookKind::E8Shell;
    try {
        const json meta = json::parse(meta_it->second);
        q.metrics = metrics_from_json(meta.at("metrics"));
        kind = codebook::parse_codebook(meta.at("codebook").get<std::string>(), where);
    } catch (const json::exception& e) {
        // A damaged file is named, not reported as a bare nlohmann message.
        throw Error(where, std::string("corrupt resume file (") + e.what() + "); rerun without --resume");
    }
    format::LayerTensorSource src;
    src.where = where;
    src.has = [&](const std::string& name) { return st->find(name) != nullptr; };
    src.get = [&](const std::string& name, io::DType want, int64_t rank) {
        const io::TensorInfo* info = st->find(name);
        if (!info) throw Error(where, "tensor '" + name + "' is missing");
        if (info->dtype != want || (rank >= 0 && static_cast<int64_t>(info->shape.size()) != rank))
            throw Error(where, "tensor '" + name + "' is not a " + io::dtype_name(want) + " tensor of rank " + std::to_string(rank));
        return tensor(name);
    };
    src.get_float = [&](const std::string& name, int64_t rank) {
        torch::Tensor t = tensor(name);
        if (!t.is_floating_point() || (rank >= 0 && t.dim() != rank))
            throw Error(where, "tensor '" + name + "' is not a floating-point tensor of rank " + std::to_string(rank));
        return t;
    };
    q.codes = format::read_layer_codes(kind, src, q.metrics.bpw);
    q.w_hat = dequantize_layer(q.codes, device);
    return q;
}

void ResumeStore::remove() const {
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

} // namespace glq::quant
