// The end-to-end GLQ job on a tiny trained model: stories260K with its MLP
// widened from 172 to 176 by zero rows/columns (the same function, every
// dimension a multiple of 8). Quantize at 2 and 4 bpw, reload through the
// checkpoint reader + GLQ loader, cancel, resume, and the bad inputs.
// With GLQ_INTEROP_OUT set, the tiny model and its 4-bpw checkpoint are left
// there for tests/python/test_glq_interop.py.

#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/transformer.h"
#include "core/model/weights.h"
#include "core/format/glq_checkpoint.h"
#include "core/format/glq_model_loader.h"
#include "core/quant/job_record.h"
#include "core/quant/quantization_job.h"
#include "core/quant/resume_store.h"
#include "tests/support/test.h"
#include "tests/support/tiny_model.h"

using namespace glq::quant;
using namespace glq::format;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path stories() { return glq::test::shared_data() / "models/stories260K"; }

// stories260K widened so that GLQ can quantize it (tests/support/tiny_model.h).
fs::path make_tiny_model(const fs::path& dir) { return glq::test::make_padded_stories(glq::test::shared_data(), dir); }

fs::path calibration_file(const fs::path& dir) {
    const fs::path file = dir / "calib.txt";
    glq::write_file_atomic(file,
                           glq::read_file(glq::test::shared_data() / "tinyshakespeare/input.txt").substr(0, 60000));
    return file;
}

QuantizationJobOptions options_for(const fs::path& model, const fs::path& out, const fs::path& tmp, double bpw) {
    QuantizationJobOptions o;
    o.model_dir = model;
    o.output_dir = out;
    o.bpw = bpw;
    o.calibration.files = {calibration_file(tmp)};
    o.calibration.nsamples = 8;
    o.calibration.seqlen = 64;
    o.calibration.seed = 1;
    o.cache_dir = tmp / "hessians";
    return o;
}

torch::Tensor logits_of(glq::model::Transformer& m) {
    torch::NoGradGuard g;
    torch::Tensor ids = torch::arange(1, 65, torch::kInt64).remainder(500).unsqueeze(0) + 3;
    return m.forward(ids).to(torch::kFloat32);
}

double relative_error(const torch::Tensor& a, const torch::Tensor& ref) {
    return ((a - ref).norm() / ref.norm()).item<double>();
}

// Every file under `dir` (relative path -> bytes): equal snapshots mean
// nothing was added, removed or changed.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        files[fs::relative(e.path(), dir).string()] = e.is_regular_file() ? glq::read_file(e.path()) : "<dir>";
    return files;
}

// Runs the job and cancels it once `linears` have finished.
void run_and_cancel_after(const QuantizationJobOptions& o, int linears) {
    glq::CancelToken cancel;
    QuantizationCallbacks cb;
    cb.cancel = &cancel;
    int finished = 0;
    cb.on_layer = [&](const LayerResult&) {
        if (++finished == linears) cancel.cancel();
    };
    CHECK_THROWS_WITH(run_quantization_job(o, cb), "cancelled");
}

// The same job from scratch into `out` (no resume): what a resume must equal.
fs::path uninterrupted(QuantizationJobOptions o, const fs::path& out) {
    o.output_dir = out;
    o.resume = false;
    run_quantization_job(o);
    return out;
}

// Two checkpoints with the same codes, signs and scales in every linear.
void check_same_codes(const fs::path& a_dir, const fs::path& b_dir) {
    const GlqCheckpoint a = read_glq_checkpoint(a_dir), b = read_glq_checkpoint(b_dir);
    CHECK_EQ(a.layers.size(), b.layers.size());
    for (const auto& [prefix, codes] : a.layers) {
        const ShellLayerArtifacts& la = std::get<ShellLayerArtifacts>(codes);
        const ShellLayerArtifacts& lb = std::get<ShellLayerArtifacts>(b.layers.at(prefix));
        CHECK_EQ(la.qidxs.size(), lb.qidxs.size());
        for (size_t k = 0; k < la.qidxs.size(); ++k) CHECK_MSG(torch::equal(la.qidxs[k], lb.qidxs[k]), prefix);
        CHECK(torch::equal(la.su, lb.su) && torch::equal(la.sv, lb.sv));
        CHECK_EQ(la.wscale, lb.wscale);
    }
}

} // namespace

GLQ_TEST(quantizes_end_to_end_and_reloads) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    auto dense = glq::model::Transformer::load(model);
    const torch::Tensor ref = logits_of(*dense);
    // The padding did not change the model.
    auto original = glq::model::Transformer::load(stories());
    CHECK(relative_error(logits_of(*original), ref) < 1e-5);

    double err[2] = {0, 0};
    int i = 0;
    for (int bpw : {2, 4}) {
        const fs::path out = tmp / ("q" + std::to_string(bpw));
        int seen = 0;
        QuantizationCallbacks cb;
        cb.on_layer = [&](const LayerResult& r) {
            ++seen;
            CHECK_EQ(r.bpw, bpw);
            CHECK(std::isfinite(r.proxy_loss) && r.proxy_loss >= 0);
        };
        const QuantizationSummary s = run_quantization_job(options_for(model, out, tmp, bpw), cb);
        CHECK_EQ(seen, 5 * 7);
        CHECK_NEAR(s.average_bpw, double(bpw), 1e-9);
        CHECK(!fs::exists(out.string() + ".glq-resume"));
        {
            // The job itself leaves its record, whichever front end ran it.
            const nlohmann::json record = nlohmann::json::parse(glq::read_file(out / glq::quant::kJobRecordFile));
            CHECK_EQ(record.value("version", 0), 2);
            CHECK_EQ(record.value("rates", std::string()), "uniform " + std::to_string(bpw) + " bpw");
            CHECK_EQ(record["layers"].size(), size_t(35));
            CHECK_EQ(record["calibration"].value("nsamples", int64_t(0)), options_for(model, out, tmp, bpw).calibration.nsamples);
        }
        const GlqCheckpoint ck = read_glq_checkpoint(out);
        CHECK_EQ(ck.layers.size(), size_t(35));
        CHECK_EQ(ck.quantization.layer_bpw.at("model.layers.4.mlp.down_proj"), bpw);
        {
            // The scale after the last stage is stored as 0, so the reference's
            // stage count never depends on a buffer its loader may leave unset.
            const auto st = glq::io::SafetensorsModel::open_dir(out);
            const std::string next = std::string("model.layers.4.mlp.down_proj.inv_resid_scale") + (bpw == 4 ? "2" : "");
            CHECK_MSG(st.contains(next), next);
            if (st.contains(next)) CHECK_EQ(glq::model::view_tensor(st, next).item<float>(), 0.0f);
            CHECK(!st.contains("model.layers.4.mlp.down_proj.Qidxs" + std::to_string(bpw / 2 + 1)));
        }
        // Loading writes nothing: not into the checkpoint, not into a temp
        // folder (TMPDIR points at an empty one), checked while the load runs.
        const fs::path scratch = tmp / ("scratch" + std::to_string(bpw));
        fs::create_directories(scratch);
        const auto before = snapshot(out);
        const std::string old_tmpdir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "";
        ::setenv("TMPDIR", scratch.c_str(), 1);
        glq::model::LoadOptions load;
        int checks = 0;
        load.progress = [&](const glq::Progress&) {
            ++checks;
            CHECK(fs::is_empty(scratch));
            CHECK(snapshot(out) == before);
        };
        auto q = load_glq_model(out, load);
        if (old_tmpdir.empty()) ::unsetenv("TMPDIR"); else ::setenv("TMPDIR", old_tmpdir.c_str(), 1);
        CHECK(checks > 0);
        CHECK(fs::is_empty(scratch) && snapshot(out) == before);
        CHECK_EQ(q->linear("model.layers.0.self_attn.q_proj")->kind(), std::string("glq"));
        const torch::Tensor logits = logits_of(*q);
        CHECK(torch::isfinite(logits).all().item<bool>());
        // The compressed layers compute the function of the decoded ones, in
        // less memory.
        glq::model::LoadOptions decode;
        decode.decode_on_load = true;
        auto d = load_glq_model(out, decode);
        CHECK_EQ(d->linear("model.layers.0.self_attn.q_proj")->kind(), std::string("glq-decoded"));
        const double same = relative_error(logits, logits_of(*d));
        CHECK_MSG(same < 1e-5, "compressed vs decode-on-load logits differ by " << same);
        CHECK_MSG(q->resident_bytes() < d->resident_bytes(), q->resident_bytes() << " vs " << d->resident_bytes());
        err[i++] = relative_error(logits, ref);
        if (const char* keep = std::getenv("GLQ_INTEROP_OUT"); keep && *keep && bpw == 4) {
            fs::create_directories(keep);
            fs::copy(model, fs::path(keep) / "tiny", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
            fs::copy(out, fs::path(keep) / "tiny-glq4", fs::copy_options::recursive | fs::copy_options::overwrite_existing);
            glq::write_file_atomic(fs::path(keep) / "calib.txt", glq::read_file(tmp / "calib.txt"));
        }
    }
    std::cout << "relative logit error: 2 bpw " << err[0] << ", 4 bpw " << err[1] << "\n";
    CHECK(err[1] < err[0]);
    CHECK(err[1] < 0.2);
}

GLQ_TEST(tuning_passes_lower_the_proxy_and_are_recorded) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    double total[2] = {0, 0};
    for (int tune : {0, 1}) {
        const fs::path out = tmp / ("t" + std::to_string(tune));
        QuantizationJobOptions o = options_for(model, out, tmp, 2);
        o.tune_iters = tune;
        QuantizationCallbacks cb;
        cb.on_layer = [&](const LayerResult& r) { total[tune] += r.proxy_loss; };
        run_quantization_job(o, cb);
        const auto meta = nlohmann::json::parse(glq::read_file(out / "quantize_config.json"));
        CHECK_EQ(meta.at("tune_iters").get<int>(), tune);
        CHECK_EQ(meta.at("tune_iters_by_bpw").at("2").get<int>(), tune);
    }
    // The default: one pass where it pays (2-3 bpw), none above.
    CHECK_EQ(QuantizationJobOptions{}.tune_iters, kTuneItersAuto);
    CHECK_EQ(tune_iters_for(kTuneItersAuto, 2), 1);
    CHECK_EQ(tune_iters_for(kTuneItersAuto, 3), 1);
    CHECK_EQ(tune_iters_for(kTuneItersAuto, 4), 0);
    CHECK_EQ(tune_iters_for(2, 8), 2);
    // Layer 0's Hessians are the same in both runs; later layers see their
    // own predecessors, so compare the sums: one pass must not make it worse.
    std::cout << "summed 2-bpw proxy: untuned " << total[0] << ", one pass " << total[1] << "\n";
    CHECK_MSG(total[1] < total[0], total[1] << " vs " << total[0]);
}

GLQ_TEST(cancel_leaves_no_output_and_resume_matches_an_uninterrupted_run) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    const fs::path out = tmp / "out";
    QuantizationJobOptions o = options_for(model, out, tmp, 3);
    o.use_cache = false;

    const auto source = snapshot(model);
    run_and_cancel_after(o, 17);
    CHECK(!fs::exists(out));
    CHECK(fs::exists(out.string() + ".glq-resume/settings.json"));
    CHECK(snapshot(model) == source);  // the source model untouched

    o.resume = true;
    int resumed = 0;
    QuantizationCallbacks cb2;
    cb2.on_layer = [&](const LayerResult& r) { resumed += r.resumed; };
    const QuantizationSummary s = run_quantization_job(o, cb2);
    CHECK_EQ(resumed, 17);
    CHECK_EQ(s.resumed_linears, 17);
    CHECK(snapshot(model) == source);

    check_same_codes(out, uninterrupted(o, tmp / "fresh"));
}

GLQ_TEST(resume_store_is_matched_on_its_settings_and_names_a_damaged_file) {
    const fs::path out = glq::test::temp_dir() / "store";
    const std::string settings = glq::quant::resume_settings(7, true, torch::kCPU, glq::codebook::CodebookKind::E8Shell, {{"a", 2}}, -1);
    {
        const glq::quant::ResumeStore fresh(out, settings, /*resume=*/true);  // nothing to resume yet
        CHECK(!fresh.resumed());
        CHECK(!fresh.load("model.layers.0.mlp.up_proj", torch::kCPU));
        // A file whose metadata is damaged (a truncated JSON object).
        const float x = 1.0f;
        glq::io::write_safetensors(fresh.dir() / "model.layers.0.mlp.up_proj.safetensors",
                                   std::vector<glq::io::TensorRef>{
                                       {"SU", glq::io::DType::F32, {1}, {reinterpret_cast<const std::byte*>(&x), 4}}},
                                   {{"glq_resume", "{\"wscale\": 1"}});
    }
    const glq::quant::ResumeStore again(out, settings, true);
    CHECK(again.resumed());
    CHECK_THROWS_WITH(again.load("model.layers.0.mlp.up_proj", torch::kCPU),
                      (again.dir() / "model.layers.0.mlp.up_proj.safetensors").string() + ": corrupt resume file");
    // Other settings (another plan): started afresh, the old linears gone.
    const glq::quant::ResumeStore other(out, glq::quant::resume_settings(7, true, torch::kCPU, glq::codebook::CodebookKind::E8Shell, {{"a", 3}}, -1), true);
    CHECK(!other.resumed());
    CHECK(!other.load("model.layers.0.mlp.up_proj", torch::kCPU));
    other.remove();
    CHECK(!fs::exists(other.dir()));
}

// Without propagation a layer's Hessians come from the dense model's inputs.
// A resume that finds whole layers finished must still produce those inputs
// (from the dense layer, before its weights are replaced); it once took them
// from the quantized layer instead, which changed every later layer.
GLQ_TEST(resume_without_propagation_matches_an_uninterrupted_run) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    const fs::path out = tmp / "out";
    QuantizationJobOptions o = options_for(model, out, tmp, 3);
    o.use_cache = false;
    o.propagate = false;
    run_and_cancel_after(o, 14);  // layers 0 and 1 whole
    o.resume = true;
    CHECK_EQ(run_quantization_job(o).resumed_linears, 14);
    check_same_codes(out, uninterrupted(o, tmp / "fresh"));
}

// Progress a user can trust on a large model: the quantize stage counts
// weights and moves inside a linear (LDLQ's blocks), Hessian capture names its
// windows, and export counts the bytes of model.safetensors to its size.
GLQ_TEST(progress_moves_inside_linears_and_export_counts_bytes) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    const fs::path out = tmp / "out";
    std::vector<glq::Progress> quantize, exporting;
    bool windows = false;
    QuantizationCallbacks cb;
    cb.progress = [&](const glq::Progress& p) {
        if (p.stage == "quantize") quantize.push_back(p);
        if (p.stage == "export") exporting.push_back(p);
        windows = windows || (p.stage == "quantize" && p.item.find(": Hessians, window 8/8") != std::string::npos);
    };
    std::set<int64_t> boundaries = {0};
    int64_t finished_weights = 0;
    const QuantizationSummary s = run_quantization_job(options_for(model, out, tmp, 2), cb);
    const GlqCheckpoint ckpt = read_glq_checkpoint(out);
    for (const LayerResult& r : s.layers) {
        const ShellLayerArtifacts& a = std::get<ShellLayerArtifacts>(ckpt.layers.at(r.prefix));
        finished_weights += a.out_features() * a.in_features();
        boundaries.insert(finished_weights);
    }
    CHECK(!quantize.empty());
    bool inside = false;
    int64_t last = 0;
    for (const glq::Progress& p : quantize) {
        CHECK_EQ(p.unit, std::string("weights"));
        CHECK_EQ(p.total, finished_weights);
        CHECK_MSG(p.done >= last, "progress went back from " << last << " to " << p.done);
        last = p.done;
        inside = inside || !boundaries.count(p.done);
    }
    CHECK_EQ(last, finished_weights);
    CHECK(inside);
    CHECK(windows);
    CHECK(!exporting.empty());
    const glq::Progress& end = exporting.back();
    CHECK_EQ(end.unit, std::string("bytes"));
    CHECK_EQ(end.done, end.total);
    CHECK_EQ(end.total, static_cast<int64_t>(fs::file_size(out / "model.safetensors")));
}

// A cancel is honoured inside a linear's LDLQ sweep and inside a layer's
// Hessian capture, not only between linears: nothing is written, the source
// is untouched, and the linear being swept is not reported as finished.
GLQ_TEST(cancel_inside_a_linear_or_a_hessian_capture_leaves_nothing) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    const auto source = snapshot(model);
    for (const std::string where : {"LDLQ", "Hessians"}) {
        const fs::path out = tmp / ("out-" + where);
        QuantizationJobOptions o = options_for(model, out, tmp, 2);
        o.use_cache = false;
        glq::CancelToken cancel;
        QuantizationCallbacks cb;
        cb.cancel = &cancel;
        std::map<std::string, int> reports;  // per item
        std::string swept;
        int finished = 0, finished_at_cancel = -1;
        cb.on_layer = [&](const LayerResult& r) {
            ++finished;
            CHECK_MSG(r.prefix != swept, r.prefix << " finished after the cancel");
        };
        cb.progress = [&](const glq::Progress& p) {
            if (p.stage != "quantize" || cancel.cancelled()) return;
            // Layer 1, so that layer 0 is finished and the cancel is mid-job.
            const bool ldlq = where == "LDLQ" && p.item.rfind("model.layers.1.", 0) == 0 && ++reports[p.item] == 2;
            const bool capture = where == "Hessians" && p.item == "layer 1: Hessians, window 3/8";
            if (ldlq || capture) {
                swept = ldlq ? p.item : "";
                finished_at_cancel = finished;
                cancel.cancel();
            }
        };
        CHECK_THROWS_WITH(run_quantization_job(o, cb), "cancelled");
        CHECK_MSG(finished_at_cancel >= 7, where << ": the cancel came at " << finished_at_cancel << " linears");
        CHECK_EQ(finished, finished_at_cancel);
        CHECK(!fs::exists(out));
        CHECK(snapshot(model) == source);
    }
}

GLQ_TEST(hessian_cache_is_reused) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    run_quantization_job(options_for(model, tmp / "a", tmp, 2));
    // Another rate: layer 0's Hessians (and only those, under propagation) are reusable.
    const QuantizationSummary s = run_quantization_job(options_for(model, tmp / "b", tmp, 4));
    CHECK_EQ(s.hessian_layers_from_cache, 1);
    // The same rate again: every layer.
    const QuantizationSummary s2 = run_quantization_job(options_for(model, tmp / "c", tmp, 4));
    CHECK_EQ(s2.hessian_layers_from_cache, 5);
    const GlqCheckpoint b = read_glq_checkpoint(tmp / "b"), c = read_glq_checkpoint(tmp / "c");
    for (const auto& [prefix, lb] : b.layers)
        CHECK(torch::equal(std::get<ShellLayerArtifacts>(lb).qidxs[0], std::get<ShellLayerArtifacts>(c.layers.at(prefix)).qidxs[0]));
    // The same rate with other tuning: the earlier layers' weights differ, so
    // only layer 0's Hessians may be reused; then that setting is cached too.
    QuantizationJobOptions tuned = options_for(model, tmp / "d", tmp, 2);
    tuned.tune_iters = 2;
    CHECK_EQ(run_quantization_job(tuned).hessian_layers_from_cache, 1);
    tuned.output_dir = tmp / "e";
    CHECK_EQ(run_quantization_job(tuned).hessian_layers_from_cache, 5);
}

GLQ_TEST(bad_inputs_get_one_clear_message) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    const fs::path out = tmp / "out";

    const fs::path map = tmp / "map.json";
    glq::write_file_atomic(map, R"({"model.layers.9.mlp.up_proj": 3})");
    QuantizationJobOptions o = options_for(model, out, tmp, 4);
    o.bpw_map_file = map;
    CHECK_THROWS_WITH(run_quantization_job(o), "model.layers.9.mlp.up_proj");
    glq::write_file_atomic(map, R"({"model.layers.0.mlp.up_proj": 9})");
    CHECK_THROWS_WITH(run_quantization_job(o), "map.json");

    o = options_for(model, out, tmp, 9);
    CHECK_THROWS_WITH(run_quantization_job(o), "--bpw");
    o = options_for(model, out, tmp, 1);
    CHECK_THROWS_WITH(run_quantization_job(o), "between 2 and 8");

    o = options_for(model, out, tmp, 4);
    o.tune_iters = 11;
    CHECK_THROWS_WITH(run_quantization_job(o), "--tune-iters");
    o.tune_iters = -2;
    CHECK_THROWS_WITH(run_profile(o, {2}), "--tune-iters");

    o = options_for(model, out, tmp, 4);
    o.calibration.seqlen = 1000000;
    CHECK_THROWS_WITH(run_quantization_job(o), "calibration text too short");

    o = options_for(stories(), out, tmp, 4);
    CHECK_THROWS_WITH(run_quantization_job(o), "down_proj is 64 x 172: in_features 172 is not a multiple of 8");
    CHECK(!fs::exists(out));
    CHECK(!fs::exists(out.string() + ".glq-resume"));
}

// The policy of where a CUDA job's weights live, apart from any machine (the
// GPU test runs the job both ways and checks the checkpoints are identical).
GLQ_TEST(layer_streaming_policy) {
    const torch::Device cuda(torch::kCUDA, 0), cpu(torch::kCPU);
    const uint64_t gb = uint64_t(1) << 30;
    // Auto: resident while the weights take at most half the free memory.
    CHECK(!decide_layer_streaming(LayerStreaming::Auto, cuda, 40 * gb, 80 * gb));
    CHECK(decide_layer_streaming(LayerStreaming::Auto, cuda, 40 * gb + 1, 80 * gb));
    CHECK(decide_layer_streaming(LayerStreaming::Auto, cuda, 1, std::nullopt));  // unknown: the safe side
    // On and Off are obeyed on CUDA; the CPU never streams.
    CHECK(decide_layer_streaming(LayerStreaming::On, cuda, 1, 80 * gb));
    CHECK(!decide_layer_streaming(LayerStreaming::Off, cuda, 400 * gb, 80 * gb));
    for (LayerStreaming mode : {LayerStreaming::Auto, LayerStreaming::On, LayerStreaming::Off})
        CHECK(!decide_layer_streaming(mode, cpu, 400 * gb, std::nullopt));

    CHECK(parse_layer_streaming("auto") == LayerStreaming::Auto);
    CHECK(parse_layer_streaming("on") == LayerStreaming::On);
    CHECK(parse_layer_streaming("off") == LayerStreaming::Off);
    CHECK_THROWS_WITH(parse_layer_streaming("yes"), "--stream-layers: must be auto, on or off (got 'yes')");
}
