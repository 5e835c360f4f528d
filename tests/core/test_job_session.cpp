// The torch-free pipeline facade the workbench runs (core/session/job_session.h)
// on a tiny trained model: stories260K with its MLP widened from 172 to 176
// by zero rows/columns (every in_features a multiple of 8, the same function).
// Profile, quantize with an in-memory bpw map, export with a model card and
// measured perplexity, cancel (nothing half-written), and the bad inputs.

#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <iomanip>

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/weights.h"
#include "core/format/glq_checkpoint.h"
#include "core/session/job_session.h"
#include "tests/support/test.h"
#include "tests/support/tiny_model.h"

using namespace glq::session;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path stories() { return glq::test::shared_data() / "models/stories260K"; }

fs::path make_tiny_model(const fs::path& dir) { return glq::test::make_padded_stories(glq::test::shared_data(), dir); }

fs::path text_file(const fs::path& dir, const std::string& name, size_t offset, size_t size) {
    const fs::path file = dir / name;
    glq::write_file_atomic(file, glq::read_file(glq::test::shared_data() / "tinyshakespeare/input.txt").substr(offset, size));
    return file;
}

JobOptions options_for(const fs::path& model, const fs::path& tmp) {
    JobOptions o;
    o.model_dir = model;
    o.calibration.text_files = {text_file(tmp, "calib.txt", 0, 40000)};
    o.calibration.nsamples = 6;
    o.calibration.seqlen = 64;
    o.calibration.seed = 3;
    o.cache_dir = tmp / "hessians";
    return o;
}

// Names in `dir` that start with `stem` other than `stem` itself and the
// resume folder: a half-written sibling a cancel or error left behind.
std::vector<std::string> leftovers(const fs::path& dir, const std::string& stem) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string n = e.path().filename().string();
        if (n.find(stem) != std::string::npos && n != stem && n != stem + ".glq-resume") out.push_back(n);
    }
    return out;
}

} // namespace

GLQ_TEST(profile_measures_every_linear_at_each_rate) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    std::vector<std::string> stages;
    JobCallbacks cb;
    cb.progress = [&](const glq::Progress& p) {
        if (stages.empty() || stages.back() != p.stage) stages.push_back(p.stage);
    };
    const glq::plan::SensitivityTable t = profile(options_for(model, tmp), {2, 4}, cb);
    CHECK_EQ(t.layers.size(), size_t(35));
    for (const auto& l : t.layers) {
        CHECK(l.measured(2) && l.measured(4) && !l.measured(3));
        CHECK_MSG(l.loss(4) < l.loss(2), l.name << ": " << l.loss(4) << " vs " << l.loss(2));
        // The relative error (proxy / tr(W H Wᵀ)) beside each loss: positive, falling with the rate.
        CHECK(l.has_relative_error(2) && l.has_relative_error(4) && !l.has_relative_error(3));
        CHECK_MSG(l.relative_error_at(4) < l.relative_error_at(2) || l.loss(2) == 0,
                  l.name << ": " << l.relative_error_at(4) << " vs " << l.relative_error_at(2));
    }
    CHECK(t.has_relative_errors());
    const auto* down = t.find("model.layers.4.mlp.down_proj");
    CHECK(down != nullptr);
    CHECK_EQ(down->cols, int64_t(176));
    CHECK(std::find(stages.begin(), stages.end(), "calibrate") != stages.end());
    CHECK(std::find(stages.begin(), stages.end(), "profile") != stages.end());
    // What the GUI does with it: saved and read back unchanged.
    t.save(tmp / "sens.json");
    CHECK_EQ(glq::plan::SensitivityTable::load(tmp / "sens.json").to_json_text(), t.to_json_text());
}

GLQ_TEST(quantize_with_a_map_then_export_with_model_card_and_perplexity) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    JobOptions o = options_for(model, tmp);
    o.output_dir = tmp / "q";
    // A mixed map: attention at 4 bpw, MLP at 2 (every linear named).
    for (int l = 0; l < 5; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        for (const char* a : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"})
            o.bpw_map[p + a] = 4;
        for (const char* m : {"mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) o.bpw_map[p + m] = 2;
    }
    std::vector<LayerReport> seen;
    JobCallbacks cb;
    cb.on_layer = [&](const LayerReport& r) { seen.push_back(r); };
    const QuantizeResult r = quantize(o, cb);
    CHECK_EQ(seen.size(), size_t(35));
    CHECK_EQ(r.layers.size(), size_t(35));
    for (const LayerReport& l : seen) {
        CHECK_EQ(l.bpw, o.bpw_map.at(l.name));
        CHECK(std::isfinite(l.proxy_loss) && l.proxy_loss >= 0);
    }
    CHECK(r.average_bpw > 2.0 && r.average_bpw < 4.0);
    CHECK(glq::format::is_glq_checkpoint(o.output_dir));
    CHECK(fs::is_regular_file(o.output_dir / kJobRecordFile));
    CHECK(leftovers(tmp, "q").empty());
    // The temporary map file is gone.
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
        CHECK(e.path().filename().string().find("glq-bpw-map-" + std::to_string(::getpid()) + "-") == std::string::npos);

    // A second run into the same folder is refused unless replacing is allowed.
    try {
        quantize(o);
        CHECK_MSG(false, "an existing output folder was accepted");
    } catch (const glq::Error& e) {
        CHECK_EQ(e.where(), o.output_dir.string());
    }

    ExportOptions x;
    x.checkpoint_dir = o.output_dir;
    x.output_dir = tmp / "export" / "tiny-glq";
    x.perplexity_text = text_file(tmp, "eval.txt", 500000, 30000);
    x.perplexity_seqlen = 128;
    x.perplexity_max_windows = 4;
    x.perplexity_of_source = true;
    fs::create_directories(tmp / "export");
    const ExportResult e = export_model(x);
    CHECK(e.perplexity && e.source_perplexity);
    CHECK_EQ(e.perplexity->windows, int64_t(4));
    CHECK(std::isfinite(e.perplexity->perplexity) && e.perplexity->perplexity > 1.0);
    // 2-bit MLPs cost something, but the model still works.
    CHECK_MSG(e.perplexity->perplexity > e.source_perplexity->perplexity &&
                  e.perplexity->perplexity < 3.0 * e.source_perplexity->perplexity,
              e.perplexity->perplexity << " vs source " << e.source_perplexity->perplexity);
    CHECK_EQ(e.bpw, r.bpw);
    CHECK_NEAR(e.average_bpw, r.average_bpw, 1e-9);
    CHECK(glq::format::is_glq_checkpoint(x.output_dir));
    for (const char* f : {"model.safetensors", "config.json", "quantize_config.json", "tokenizer.json", "README.md"})
        CHECK_MSG(fs::is_regular_file(x.output_dir / f), f);
    CHECK(leftovers(tmp / "export", "tiny-glq").empty());
    const std::string card = glq::read_file(e.model_card);
    CHECK(glq::test::contains(card, "| model.layers.3.mlp.up_proj | 2 |"));
    CHECK(glq::test::contains(card, "| model.layers.3.self_attn.k_proj | 4 |"));
    CHECK(glq::test::contains(card, "calib.txt"));
    CHECK(glq::test::contains(card, "6 x 64 tokens (seed 3)"));
    // The default tuning: one pass at 2 bpw, none at 4.
    CHECK_MSG(glq::test::contains(card, "| LDLQ tuning passes | 1 at 2 bpw, 0 at 4 bpw |"), card);
    std::ostringstream ppl;
    ppl << std::fixed << std::setprecision(4) << e.perplexity->perplexity;
    CHECK_MSG(glq::test::contains(card, "| this checkpoint | " + ppl.str() + " | 4 x 128 |"), card);
    CHECK(glq::test::contains(card, "| source (unquantized) |"));
    // The copy is byte for byte the checkpoint.
    CHECK(glq::read_file(x.output_dir / "model.safetensors") == glq::read_file(o.output_dir / "model.safetensors"));

    // In place (no output folder): only the card is added; without perplexity it says so.
    ExportOptions inplace;
    inplace.checkpoint_dir = o.output_dir;
    const ExportResult e2 = export_model(inplace);
    CHECK_EQ(e2.output_dir, o.output_dir);
    CHECK(glq::test::contains(glq::read_file(o.output_dir / "README.md"), "Not measured."));

    // A record or metrics file with a value of the wrong type: one error
    // naming that file, before any perplexity is measured.
    const std::string record = glq::read_file(o.output_dir / kJobRecordFile);
    nlohmann::json bad = nlohmann::json::parse(record);
    bad["calibration"]["files"] = nlohmann::json::array({7});
    glq::write_file_atomic(o.output_dir / kJobRecordFile, bad.dump());
    CHECK_THROWS_WITH(model_card_markdown(o.output_dir, "x", std::nullopt, std::nullopt, {}),
                      (o.output_dir / kJobRecordFile).string());
    ExportOptions hostile = inplace;
    hostile.perplexity_text = o.calibration.text_files.at(0);  // would take seconds; the error comes first
    CHECK_THROWS_WITH(export_model(hostile), (o.output_dir / kJobRecordFile).string());
    glq::write_file_atomic(o.output_dir / kJobRecordFile, record);
    const std::string metrics = glq::read_file(o.output_dir / "layer_metrics.json");
    nlohmann::json deep = nlohmann::json::parse(metrics);
    deep["model.layers.0.mlp.up_proj"]["shape"] = "64x176";
    glq::write_file_atomic(o.output_dir / "layer_metrics.json", deep.dump());
    CHECK_THROWS_WITH(export_model(inplace), (o.output_dir / "layer_metrics.json").string());
    glq::write_file_atomic(o.output_dir / "layer_metrics.json", metrics);
    CHECK(glq::test::contains(model_card_markdown(o.output_dir, "x", std::nullopt, std::nullopt, {}), "calib.txt"));
}

GLQ_TEST(cancel_leaves_no_output_folder) {
    const fs::path tmp = glq::test::temp_dir();
    const fs::path model = make_tiny_model(tmp / "tiny");
    JobOptions o = options_for(model, tmp);
    o.output_dir = tmp / "out";
    o.target_bpw = 3;
    glq::CancelToken cancel;
    int layers = 0;
    JobCallbacks cb;
    cb.cancel = &cancel;
    cb.on_layer = [&](const LayerReport&) {
        if (++layers == 10) cancel.cancel();
    };
    bool cancelled = false;
    try {
        quantize(o, cb);
    } catch (const glq::Cancelled&) {
        cancelled = true;
    }
    CHECK(cancelled);
    CHECK(layers >= 10 && layers < 35);
    CHECK(!fs::exists(o.output_dir));
    CHECK_MSG(leftovers(tmp, "out").empty(), leftovers(tmp, "out").front());

    // The export is cancelled the same way: nothing appears.
    o.use_cache = true;
    o.target_bpw = 2;
    o.output_dir = tmp / "q2";
    quantize(o);
    glq::CancelToken stop;
    ExportOptions x;
    x.checkpoint_dir = o.output_dir;
    x.output_dir = tmp / "exported";
    int reports = 0;
    cancelled = false;
    try {
        export_model(x, [&](const glq::Progress&) {
            if (++reports == 1) stop.cancel();
        }, &stop);
    } catch (const glq::Cancelled&) {
        cancelled = true;
    }
    CHECK(cancelled);
    CHECK(!fs::exists(x.output_dir));
    CHECK(leftovers(tmp, "exported").empty());
}

GLQ_TEST(bad_inputs_get_one_clear_error) {
    const fs::path tmp = glq::test::temp_dir();
    auto error_of = [](auto&& f) -> std::string {
        try {
            f();
        } catch (const glq::Error& e) {
            return e.what();
        }
        return "(no error)";
    };
    // stories260K as it is: its MLP width 172 is not a multiple of 8.
    JobOptions o = options_for(stories(), tmp);
    o.output_dir = tmp / "q";
    const std::string e1 = error_of([&] { quantize(o); });
    CHECK_MSG(glq::test::contains(e1, "172") && glq::test::contains(e1, "multiple"), e1);
    CHECK(!fs::exists(o.output_dir));

    o.model_dir = tmp / "no-such-model";
    const std::string e2 = error_of([&] { profile(o, {2}); });
    CHECK_MSG(glq::test::contains(e2, "no-such-model"), e2);

    o.model_dir = make_tiny_model(tmp / "tiny");
    o.device = "tpu";
    const std::string e3 = error_of([&] { quantize(o); });
    CHECK_MSG(glq::test::contains(e3, "tpu"), e3);

    o.device = "cpu";
    o.bpw_map = {{"model.layers.0.self_attn.nope", 4}};
    const std::string e4 = error_of([&] { quantize(o); });
    CHECK_MSG(glq::test::contains(e4, "model.layers.0.self_attn.nope"), e4);

    ExportOptions x;
    x.checkpoint_dir = o.model_dir;  // a dense model, not a checkpoint
    x.output_dir = tmp / "x";
    const std::string e5 = error_of([&] { export_model(x); });
    CHECK_MSG(glq::test::contains(e5, "not a GLQ checkpoint"), e5);
    CHECK(!fs::exists(x.output_dir));
}
