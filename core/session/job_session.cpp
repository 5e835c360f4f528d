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
    q.codebook = codebook::parse_codebook(o.codebook, "--codebook");
    q.bpw = o.target_bpw;
    q.min_bpw = o.min_bpw;
    q.max_bpw = o.max_bpw;
    q.calibration.files = o.calibration.text_files;
    q.calibration.nsamples = o.calibration.nsamples;
    q.calibration.seqlen = o.calibration.seqlen;
    q.calibration.seed = o.calibration.seed;
    q.calibration.contiguous = o.calibration.contiguous;
    q.device = model::parse_device(o.device, "device");
    q.layer_streaming = quant::parse_layer_streaming(o.layer_streaming);
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
    if (!options.bpw_map.empty())
        q.bpw_map = plan::BpwMap{options.bpw_map, std::nullopt};
    else
        q.bpw_map_file = options.bpw_map_file;
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
    r.streamed_layers = s.streamed_layers;
    return r;  // the job wrote its record (kJobRecordFile) into the folder
}

namespace {

// What the card says, read from the checkpoint's files first, each read
// under its file's name: a hand-edited or hostile file whose key has the
// wrong type gets one error naming that file, never a bare nlohmann
// type_error.
struct NotAScalar : std::runtime_error {
    using std::runtime_error::runtime_error;
};

template <typename Read>
void reading(const fs::path& file, Read&& read) {
    try {
        read();
    } catch (const json::exception& e) {
        throw Error(file.string(), std::string("unexpected contents (") + e.what() + ")");
    } catch (const NotAScalar& e) {
        throw Error(file.string(), std::string("unexpected contents (") + e.what() + ")");
    }
}

// A number, string or boolean as JSON writes it (never a nested value: the
// card quotes values, and a deep one must not be dumped recursively).
std::string scalar_text(const json& j, const char* key) {
    if (!j.is_primitive() || j.is_null()) throw NotAScalar(std::string(key) + " must be a number or a string");
    return j.dump();
}

struct CardFacts {
    std::map<std::string, int> bpw;  // quantization_config.layer_bpw
    std::string method, codebook, average_bpw;
    int codesz = 8;
    bool block_diagonal = true;
    std::string source;  // the job record's, else quantize_config.json's
    // The job record (absent in the reference's checkpoints and our older ones).
    bool has_job = false;
    std::optional<std::string> rates, device;
    std::optional<bool> propagate;
    bool has_calibration = false;
    std::vector<std::string> calibration_files;
    int64_t nsamples = 0, seqlen = 0;
    uint64_t seed = 0;
    bool contiguous = false;
    std::string drawn;
    // quantize_config.json
    std::vector<std::pair<std::string, std::string>> tune_passes;  // bpw -> passes
    std::optional<std::string> sqnr, total_time;
    int64_t meta_nsamples = 0, meta_seqlen = 0;
    // layer_metrics.json
    std::map<std::string, std::pair<std::optional<double>, std::optional<double>>> loss;  // proxy, relative
    std::map<std::string, double> weights;  // rows x cols of each linear, where its shape is recorded
};

CardFacts card_facts(const fs::path& dir) {
    CardFacts f;
    const fs::path config_file = dir / "config.json", meta_file = dir / "quantize_config.json",
                   metrics_file = dir / "layer_metrics.json", job_file = dir / kJobRecordFile;
    const json config = read_json_file(config_file);
    reading(config_file, [&] {
        if (!config.is_object() || !config.contains("quantization_config") ||
            !config["quantization_config"].is_object() ||
            config["quantization_config"].value("quant_method", "") != "glq")
            throw Error(config_file.string(), "not a GLQ checkpoint (no quantization_config with quant_method \"glq\")");
        const json& qc = config["quantization_config"];
        if (qc.contains("layer_bpw") && qc["layer_bpw"].is_object())
            for (const auto& [k, v] : qc["layer_bpw"].items())
                if (v.is_number_integer()) f.bpw[k] = v.get<int>();
        f.method = qc.value("quant_method", "glq");
        f.codebook = qc.value("codebook", "e8_shell");
        f.codesz = qc.value("codesz", 8);
        f.block_diagonal = qc.value("block_diagonal", true);
        if (qc.contains("bpw")) f.average_bpw = scalar_text(qc["bpw"], "quantization_config.bpw");
    });
    const json meta = optional_json_file(meta_file);
    reading(meta_file, [&] {
        f.source = meta.value("source_model", std::string());
        if (meta.contains("tune_iters_by_bpw") && meta["tune_iters_by_bpw"].is_object())
            for (const auto& [b, passes] : meta["tune_iters_by_bpw"].items())
                f.tune_passes.emplace_back(b, scalar_text(passes, "tune_iters_by_bpw"));
        if (meta.contains("avg_sqnr_db")) f.sqnr = scalar_text(meta["avg_sqnr_db"], "avg_sqnr_db");
        if (meta.contains("total_time_s")) f.total_time = scalar_text(meta["total_time_s"], "total_time_s");
        f.meta_nsamples = meta.value("nsamples", int64_t(0));
        f.meta_seqlen = meta.value("seqlen", int64_t(0));
    });
    const json metrics = optional_json_file(metrics_file);
    reading(metrics_file, [&] {
        for (const auto& [name, b] : f.bpw) {
            if (!metrics.contains(name) || !metrics[name].is_object()) continue;
            const json& m = metrics[name];
            auto& l = f.loss[name];
            if (m.contains("proxy_loss")) l.first = m["proxy_loss"].get<double>();
            if (m.contains("relative_proxy_loss")) l.second = m["relative_proxy_loss"].get<double>();
            if (m.contains("shape")) {
                const json& shape = m["shape"];
                if (!shape.is_array() || shape.size() != 2) throw NotAScalar(name + ".shape must be [rows, cols]");
                f.weights[name] = shape[0].get<double>() * shape[1].get<double>();
            }
        }
    });
    const json job = optional_json_file(job_file);
    reading(job_file, [&] {
        f.has_job = !job.empty();
        f.source = job.value("source_model", f.source);
        if (job.contains("rates")) f.rates = job["rates"].get<std::string>();
        if (job.contains("device")) f.device = job["device"].get<std::string>();
        if (job.contains("propagate")) f.propagate = job["propagate"].get<bool>();
        if (job.contains("calibration")) {
            const json& c = job["calibration"];
            if (!c.is_object()) throw Error(job_file.string(), "\"calibration\" must be an object");
            f.has_calibration = true;
            if (c.contains("files"))
                for (const auto& file : c["files"]) f.calibration_files.push_back(file.get<std::string>());
            f.nsamples = c.value("nsamples", int64_t(0));
            f.seqlen = c.value("seqlen", int64_t(0));
            f.seed = c.value("seed", uint64_t(0));
            f.contiguous = c.value("contiguous", false);
            f.drawn = c.value("description", std::string());
        }
    });
    return f;
}

std::string card_of(const CardFacts& f, const std::string& model_name, const std::optional<PerplexityReport>& perplexity,
                    const std::optional<PerplexityReport>& source_perplexity, const fs::path& perplexity_text) {
    std::ostringstream md;
    md << "---\n"
       << "library_name: transformers\n"
       << "tags:\n  - glq\n  - e8-lattice\n  - quantized\n";
    if (!f.source.empty()) md << "base_model: " << fs::path(f.source).filename().string() << "\n";
    md << "---\n\n";
    md << "# " << model_name << "\n\n";
    md << "Weights quantized with GLQ (E8 lattice codebook, randomized Hadamard transform, block LDLQ) by "
          "GLQ Workbench, in the checkpoint format of the `glq` Python package";
    if (!f.source.empty()) md << ", from `" << f.source << "`";
    md << ".\n\n";

    md << "## Quantization\n\n| setting | value |\n|---|---|\n";
    md << "| method | " << f.method << ", codebook " << f.codebook << ", codesz " << f.codesz
       << ", block-diagonal RHT " << (f.block_diagonal ? "yes" : "no") << " |\n";
    if (!f.average_bpw.empty()) md << "| average bits per weight | " << f.average_bpw << " |\n";
    md << "| quantized linears | " << f.bpw.size() << " |\n";
    if (f.rates) md << "| rates | " << *f.rates << " |\n";
    if (f.propagate)
        md << "| Hessians | " << (*f.propagate ? "sequential propagation (through the quantized layers before)"
                                              : "from the unquantized model") << " |\n";
    if (!f.tune_passes.empty()) {
        md << "| LDLQ tuning passes |";
        const char* sep = " ";
        for (const auto& [b, passes] : f.tune_passes) {
            md << sep << passes << " at " << b << " bpw";
            sep = ", ";
        }
        md << " |\n";
    }
    if (f.sqnr) md << "| average SQNR | " << *f.sqnr << " dB |\n";
    if (f.total_time) {
        md << "| quantization time | " << *f.total_time << " s";
        if (f.device) md << " on " << *f.device;
        md << " |\n";
    }

    md << "\n## Calibration\n\n| setting | value |\n|---|---|\n";
    if (f.has_calibration) {
        std::string text = "the bundled Brown corpus";
        if (!f.calibration_files.empty()) {
            text.clear();
            for (const std::string& file : f.calibration_files) {
                // Appended piece by piece: GCC 12 warns (wrongly) on the `+` chain.
                if (!text.empty()) text.append(", ");
                text.append("`").append(file).append("`");
            }
        }
        md << "| text | " << text << " |\n";
        if (f.contiguous)
            md << "| windows | the first " << f.nsamples << " x " << f.seqlen << " tokens, in order |\n";
        else
            md << "| windows | " << f.nsamples << " x " << f.seqlen << " tokens (seed " << f.seed << ") |\n";
        if (!f.drawn.empty()) md << "| drawn | " << f.drawn << " |\n";
    } else {
        md << "| windows | " << f.meta_nsamples << " x " << f.meta_seqlen << " tokens |\n";
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
    for (const auto& [name, b] : f.bpw) {
        md << "| " << name << " | " << b << " | ";
        const auto it = f.loss.find(name);
        if (it != f.loss.end() && it->second.first) md << scientific(*it->second.first);
        md << " | ";
        if (it != f.loss.end() && it->second.second) md << scientific(*it->second.second);
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

} // namespace

std::string model_card_markdown(const fs::path& checkpoint_dir, const std::string& model_name,
                                const std::optional<PerplexityReport>& perplexity,
                                const std::optional<PerplexityReport>& source_perplexity,
                                const fs::path& perplexity_text) {
    return card_of(card_facts(checkpoint_dir), model_name, perplexity, source_perplexity, perplexity_text);
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
    // Every file the card reads, checked before perplexity costs minutes.
    const CardFacts facts = card_facts(src);

    ExportResult result;
    result.output_dir = out;
    if (!o.perplexity_text.empty()) {
        result.perplexity = measure_perplexity(src, o.perplexity_text, o, progress, cancel);
        if (o.perplexity_of_source) {
            const fs::path source = facts.source;
            if (source.empty() || !fs::is_regular_file(source / "config.json", ec))
                throw Error(source.empty() ? src.string() : source.string(),
                            "the source model's folder is not recorded or no longer there (its perplexity was asked for)");
            result.source_perplexity = measure_perplexity(source, o.perplexity_text, o, progress, cancel);
        }
    }
    check();
    const std::string name = !o.model_name.empty() ? o.model_name : fs::absolute(out).lexically_normal().filename().string();
    const std::string card = card_of(facts, name, result.perplexity, result.source_perplexity, o.perplexity_text);

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

    result.bpw = facts.bpw;
    double bits = 0, weights = 0;
    for (const auto& [name, b] : facts.bpw) {
        const auto it = facts.weights.find(name);
        const double params = it != facts.weights.end() ? it->second : 1.0;
        bits += params * b;
        weights += params;
    }
    result.average_bpw = weights > 0 ? bits / weights : 0.0;
    return result;
}

} // namespace glq::session
