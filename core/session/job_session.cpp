#include "core/session/job_session.h"

#include <torch/torch.h>

#include <cmath>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/eval/perplexity.h"
#include "core/io/model_dir.h"
#include "core/io/tokenizer.h"
#include "core/model/dtype.h"
#include "core/plan/bpw_map.h"
#include "core/format/glq_checkpoint.h"
#include "core/format/glq_model_loader.h"
#include "core/quant/quantization_job.h"

namespace glq::session {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

quant::QuantizationJobOptions job_options(const JobOptions& o) {
    quant::QuantizationJobOptions q;
    q.model_dir = o.model_dir;
    q.output_dir = o.output_dir;
    q.bpw = o.target_bpw;
    q.min_bpw = o.min_bpw;
    q.max_bpw = o.max_bpw;
    q.calibration.files = o.calibration.text_files;
    q.calibration.nsamples = o.calibration.nsamples;
    q.calibration.seqlen = o.calibration.seqlen;
    q.calibration.seed = o.calibration.seed;
    q.device = model::parse_device(o.device, "device");
    q.cache_dir = o.cache_dir;
    q.use_cache = o.use_cache;
    q.propagate = o.propagate;
    static_assert(quant::kTuneItersAuto == -1, "JobOptions::tune_iters documents -1 as auto");
    q.tune_iters = o.tune_iters;  // the job validates it
    q.resume = o.resume;
    return q;
}

LayerReport report_of(const quant::LayerResult& r) {
    return {r.prefix, r.bpw, r.proxy_loss, r.relative_error, r.seconds, r.resumed};
}

quant::QuantizationCallbacks job_callbacks(const JobCallbacks& cb) {
    quant::QuantizationCallbacks q;
    q.progress = cb.progress;
    q.log = cb.log;
    q.cancel = cb.cancel;
    if (cb.on_layer) q.on_layer = [f = cb.on_layer](const quant::LayerResult& r) { f(report_of(r)); };
    return q;
}

json read_json_file(const fs::path& path) {
    const std::string text = read_file(path);
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        throw Error(path.string(), std::string("not valid JSON (") + e.what() + ")");
    }
}

// A JSON file that may be absent (an empty object then); a present but
// corrupt file is still an error.
json optional_json_file(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return json::object();
    json j = read_json_file(path);
    return j.is_object() ? j : json::object();
}

std::string fixed(double v, int digits) {
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

std::string scientific(double v) {
    std::ostringstream s;
    s << std::scientific << std::setprecision(3) << v;
    return s.str();
}

PerplexityReport measure_perplexity(const fs::path& model_dir, const fs::path& text, const ExportOptions& o,
                                    const ProgressFn& progress, const CancelToken* cancel) {
    torch::NoGradGuard no_grad;
    const io::ModelDir dir = io::ModelDir::open(model_dir);
    const io::Tokenizer tokenizer = io::Tokenizer::load(dir.tokenizer_path());
    model::LoadOptions load;
    load.device = model::parse_device(o.device, "device");
    load.progress = progress;
    load.cancel = cancel;
    auto model = format::load_any_model(model_dir, load);
    eval::PerplexityOptions p;
    p.seqlen = o.perplexity_seqlen;
    p.max_windows = o.perplexity_max_windows;
    p.progress = progress;
    p.cancel = cancel;
    const eval::PerplexityResult r = eval::perplexity_of_file(*model, tokenizer, text, p);
    return {r.perplexity, r.tokens_scored, r.windows, r.seqlen};
}

} // namespace

bool cuda_available() { return torch::cuda::is_available(); }

int cuda_device_count() { return cuda_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

plan::SensitivityTable profile(const JobOptions& options, const std::vector<int>& bpws,
                                const JobCallbacks& callbacks) {
    plan::SensitivityTable table = quant::run_profile(job_options(options), bpws, job_callbacks(callbacks));
    if (table.model.empty()) table.model = options.model_dir.string();
    return table;
}

QuantizeResult quantize(const JobOptions& options, const JobCallbacks& callbacks) {
    if (options.output_dir.empty()) throw Error("output folder", "no output folder given");
    {
        std::error_code ec;
        if (fs::exists(options.output_dir, ec) && !options.replace_existing)
            throw Error(options.output_dir.string(), "already exists (choose another folder or allow replacing it)");
    }
    quant::QuantizationJobOptions q = job_options(options);
    if (!options.bpw_map.empty()) q.bpw_map = plan::BpwMap{options.bpw_map, std::nullopt};
    const quant::QuantizationSummary s = quant::run_quantization_job(q, job_callbacks(callbacks));

    QuantizeResult r;
    r.output_dir = s.output_dir;
    r.bpw = s.bpw;
    r.average_bpw = s.average_bpw;
    for (const quant::LayerResult& l : s.layers) r.layers.push_back(report_of(l));
    r.calibration = s.calibration;
    r.hessian_layers_from_cache = s.hessian_layers_from_cache;
    r.resumed_linears = s.resumed_linears;
    r.seconds = s.seconds;

    // The checkpoint records nsamples and seqlen only; the card also wants
    // which text, the seed and how the rates were chosen. A file of its own,
    // written atomically after the checkpoint is complete (the folder is
    // already loadable without it).
    json files = json::array();
    for (const fs::path& f : options.calibration.text_files) files.push_back(f.string());
    json layers = json::array();
    for (const LayerReport& l : r.layers)
        layers.push_back({{"name", l.name},
                          {"bpw", l.bpw},
                          {"proxy_loss", l.proxy_loss},
                          {"relative_error", l.relative_error},
                          {"seconds", l.seconds}});
    json record = {
        {"format", "glq-workbench-job"},
        {"version", 1},
        {"source_model", options.model_dir.string()},
        {"calibration",
         {{"description", r.calibration},
          {"files", files},
          {"nsamples", options.calibration.nsamples},
          {"seqlen", options.calibration.seqlen},
          {"seed", options.calibration.seed}}},
        {"device", options.device},
        {"rates", options.bpw_map.empty() ? (std::floor(options.target_bpw) == options.target_bpw
                                                 ? "uniform " + fixed(options.target_bpw, 0) + " bpw"
                                                 : "allocated for a target of " + fixed(options.target_bpw, 2) +
                                                       " bpw in [" + std::to_string(options.min_bpw) + ", " +
                                                       std::to_string(options.max_bpw) + "]")
                                          : std::string("per-layer bpw map")},
        {"propagate", options.propagate},
        {"average_bpw", r.average_bpw},
        {"seconds", r.seconds},
        {"layers", layers},
    };
    write_file_atomic(r.output_dir / kJobRecordFile, record.dump(2) + "\n");
    return r;
}

std::string model_card_markdown(const fs::path& checkpoint_dir, const std::string& model_name,
                                const std::optional<PerplexityReport>& perplexity,
                                const std::optional<PerplexityReport>& source_perplexity,
                                const fs::path& perplexity_text) {
    const json config = read_json_file(checkpoint_dir / "config.json");
    if (!config.is_object() || !config.contains("quantization_config") ||
        config["quantization_config"].value("quant_method", "") != "glq")
        throw Error((checkpoint_dir / "config.json").string(), "not a GLQ checkpoint (no quantization_config with quant_method \"glq\")");
    const json& qc = config["quantization_config"];
    const json meta = optional_json_file(checkpoint_dir / "quantize_config.json");
    const json metrics = optional_json_file(checkpoint_dir / "layer_metrics.json");
    const json job = optional_json_file(checkpoint_dir / kJobRecordFile);

    std::map<std::string, int> bpw;
    if (qc.contains("layer_bpw") && qc["layer_bpw"].is_object())
        for (const auto& [k, v] : qc["layer_bpw"].items())
            if (v.is_number_integer()) bpw[k] = v.get<int>();

    std::string source = job.value("source_model", meta.value("source_model", std::string()));
    std::ostringstream md;
    md << "---\n"
       << "library_name: transformers\n"
       << "tags:\n  - glq\n  - e8-lattice\n  - quantized\n";
    if (!source.empty()) md << "base_model: " << fs::path(source).filename().string() << "\n";
    md << "---\n\n";
    md << "# " << model_name << "\n\n";
    md << "Weights quantized with GLQ (E8 lattice codebook, randomized Hadamard transform, block LDLQ) by "
          "GLQ Workbench, in the checkpoint format of the `glq` Python package";
    if (!source.empty()) md << ", from `" << source << "`";
    md << ".\n\n";

    md << "## Quantization\n\n| setting | value |\n|---|---|\n";
    md << "| method | " << qc.value("quant_method", "glq") << ", codebook " << qc.value("codebook", "e8_shell")
       << ", codesz " << qc.value("codesz", 8) << ", block-diagonal RHT "
       << (qc.value("block_diagonal", true) ? "yes" : "no") << " |\n";
    if (qc.contains("bpw")) md << "| average bits per weight | " << qc["bpw"].dump() << " |\n";
    md << "| quantized linears | " << bpw.size() << " |\n";
    if (job.contains("rates")) md << "| rates | " << job["rates"].get<std::string>() << " |\n";
    if (job.contains("propagate"))
        md << "| Hessians | " << (job.value("propagate", true) ? "sequential propagation (through the quantized layers before)"
                                                                 : "from the unquantized model") << " |\n";
    if (meta.contains("tune_iters_by_bpw") && meta["tune_iters_by_bpw"].is_object()) {
        md << "| LDLQ tuning passes |";
        const char* sep = " ";
        for (const auto& [b, passes] : meta["tune_iters_by_bpw"].items()) {
            md << sep << passes.dump() << " at " << b << " bpw";
            sep = ", ";
        }
        md << " |\n";
    }
    if (meta.contains("avg_sqnr_db")) md << "| average SQNR | " << meta["avg_sqnr_db"].dump() << " dB |\n";
    if (meta.contains("total_time_s")) md << "| quantization time | " << meta["total_time_s"].dump() << " s";
    if (job.contains("device")) md << " on " << job["device"].get<std::string>();
    if (meta.contains("total_time_s")) md << " |\n";

    md << "\n## Calibration\n\n| setting | value |\n|---|---|\n";
    if (job.contains("calibration")) {
        const json& c = job["calibration"];
        std::string text = "the bundled Brown corpus";
        if (c.contains("files") && !c["files"].empty()) {
            text.clear();
            for (const auto& f : c["files"]) text += (text.empty() ? "" : ", ") + ("`" + f.get<std::string>() + "`");
        }
        md << "| text | " << text << " |\n";
        md << "| windows | " << c.value("nsamples", int64_t(0)) << " x " << c.value("seqlen", int64_t(0))
           << " tokens (seed " << c.value("seed", uint64_t(0)) << ") |\n";
        if (!c.value("description", std::string()).empty())
            md << "| drawn | " << c["description"].get<std::string>() << " |\n";
    } else {
        md << "| windows | " << meta.value("nsamples", int64_t(0)) << " x " << meta.value("seqlen", int64_t(0))
           << " tokens |\n";
        md << "| text | not recorded in this checkpoint |\n";
    }

    md << "\n## Perplexity\n\n";
    if (!perplexity && !source_perplexity) {
        md << "Not measured.\n";
    } else {
        md << "Non-overlapping windows, token-weighted, on `" << perplexity_text.filename().string() << "`.\n\n"
           << "| model | perplexity | windows x tokens | tokens scored |\n|---|---|---|---|\n";
        auto row = [&](const char* what, const PerplexityReport& p) {
            md << "| " << what << " | " << fixed(p.perplexity, 4) << " | " << p.windows << " x " << p.seqlen << " | "
               << p.tokens_scored << " |\n";
        };
        if (source_perplexity) row("source (unquantized)", *source_perplexity);
        if (perplexity) row("this checkpoint", *perplexity);
    }

    md << "\n## bpw map\n\n"
       << "The rate of every quantized linear (also in `config.json` under `quantization_config.layer_bpw`).\n\n"
       << "| layer | bpw | proxy loss | relative proxy loss |\n|---|---|---|---|\n";
    for (const auto& [name, b] : bpw) {
        md << "| " << name << " | " << b << " | ";
        if (metrics.contains(name) && metrics[name].contains("proxy_loss"))
            md << scientific(metrics[name]["proxy_loss"].get<double>());
        md << " | ";
        if (metrics.contains(name) && metrics[name].contains("relative_proxy_loss"))
            md << scientific(metrics[name]["relative_proxy_loss"].get<double>());
        md << " |\n";
    }

    md << "\n## Use\n\n"
       << "```python\nimport glq.hf_integration  # registers quant_method \"glq\" with transformers\n"
       << "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
       << "model = AutoModelForCausalLM.from_pretrained(\"" << model_name << "\")\n"
       << "tokenizer = AutoTokenizer.from_pretrained(\"" << model_name << "\")\n```\n\n"
       << "or `glqw generate " << model_name << " --prompt ...` with GLQ Workbench.\n";
    return md.str();
}

ExportResult export_model(const ExportOptions& o, const ProgressFn& progress, const CancelToken* cancel) {
    const fs::path src = o.checkpoint_dir;
    std::error_code ec;
    if (src.empty()) throw Error("checkpoint", "no checkpoint folder given");
    if (!fs::is_directory(src, ec)) throw Error(src.string(), "no such folder");
    if (!format::is_glq_checkpoint(src))
        throw Error(src.string(), "not a GLQ checkpoint (config.json has no quantization_config with quant_method \"glq\")");
    const bool in_place = o.output_dir.empty() || (fs::exists(o.output_dir, ec) && fs::equivalent(o.output_dir, src, ec));
    const fs::path out = in_place ? src : o.output_dir;
    if (!in_place && fs::exists(out, ec) && !o.replace_existing)
        throw Error(out.string(), "already exists (choose another folder or allow replacing it)");
    if (!o.perplexity_text.empty() && !fs::is_regular_file(o.perplexity_text, ec))
        throw Error(o.perplexity_text.string(), "no such file (the perplexity text)");
    auto check = [cancel] {
        if (cancel) cancel->check();
    };

    ExportResult result;
    result.output_dir = out;
    if (!o.perplexity_text.empty()) {
        result.perplexity = measure_perplexity(src, o.perplexity_text, o, progress, cancel);
        if (o.perplexity_of_source) {
            const json meta = optional_json_file(src / "quantize_config.json");
            const json job = optional_json_file(src / kJobRecordFile);
            const fs::path source = job.value("source_model", meta.value("source_model", std::string()));
            if (source.empty() || !fs::is_regular_file(source / "config.json", ec))
                throw Error(source.empty() ? src.string() : source.string(),
                            "the source model's folder is not recorded or no longer there (its perplexity was asked for)");
            result.source_perplexity = measure_perplexity(source, o.perplexity_text, o, progress, cancel);
        }
    }
    check();
    const std::string name = !o.model_name.empty() ? o.model_name : fs::absolute(out).lexically_normal().filename().string();
    const std::string card = model_card_markdown(src, name, result.perplexity, result.source_perplexity, o.perplexity_text);

    if (in_place) {
        write_file_atomic(out / "README.md", card);
    } else {
        // Everything of the checkpoint folder (weights, configs, tokenizer,
        // metrics), copied into a temporary sibling that is renamed into place
        // only once the card is written too.
        std::vector<fs::path> files;
        uint64_t total = 0;
        for (const auto& e : fs::recursive_directory_iterator(src)) {
            if (!e.is_regular_file() || e.path().filename() == "README.md") continue;
            files.push_back(e.path());
            total += e.file_size();
        }
        AtomicDirectory dir(out);
        uint64_t done = 0;
        for (const fs::path& f : files) {
            check();
            if (progress) progress({"export", f.filename().string(), static_cast<int64_t>(done),
                                    static_cast<int64_t>(total), "bytes"});
            const fs::path target = dir.path() / fs::relative(f, src);
            fs::create_directories(target.parent_path());
            if (!fs::copy_file(f, target, fs::copy_options::overwrite_existing, ec) || ec)
                throw Error(target.string(), "cannot copy " + f.string() + " (" + ec.message() + ")");
            done += fs::file_size(f);
        }
        write_file_atomic(dir.path() / "README.md", card);
        check();
        dir.commit();
        if (progress) progress({"export", out.string(), static_cast<int64_t>(total), static_cast<int64_t>(total), "bytes"});
    }
    result.model_card = out / "README.md";

    const json config = read_json_file(out / "config.json");
    const json& qc = config["quantization_config"];
    double bits = 0, weights = 0;
    const json metrics = optional_json_file(out / "layer_metrics.json");
    if (qc.contains("layer_bpw"))
        for (const auto& [k, v] : qc["layer_bpw"].items()) {
            result.bpw[k] = v.get<int>();
            double params = 1.0;
            if (metrics.contains(k) && metrics[k].contains("shape"))
                params = metrics[k]["shape"][0].get<double>() * metrics[k]["shape"][1].get<double>();
            bits += params * v.get<int>();
            weights += params;
        }
    result.average_bpw = weights > 0 ? bits / weights : 0.0;
    return result;
}

} // namespace glq::session
