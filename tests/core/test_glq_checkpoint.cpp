// GLQ checkpoints: write in the reference layout, read back (ours or theirs), clear errors.
// With GLQ_INTEROP_OUT set, the first test also leaves a checkpoint and our Ŵ
// there for tests/python/test_glq_layer_interop.py to decode with the reference.

#include <cstring>

#include <torch/torch.h>

#include <fstream>

#include "core/common/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/format/glq_checkpoint.h"
#include "core/quant/quantize_layer.h"
#include "tests/support/test.h"

using namespace glq::quant;
using namespace glq::format;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

torch::Tensor hessian(int64_t n, int64_t seed) {
    torch::manual_seed(seed);
    torch::Tensor x = torch::randn({4 * n, n}) + 0.3 * torch::randn({4 * n, 1});
    return x.t().mm(x) / static_cast<double>(4 * n);
}

struct Fixture {
    GlqCheckpointContents contents;
    std::map<std::string, torch::Tensor> w_hat;
};

// Three linears: a biased 3-bpw q_proj (pow2 dims), a 5-bpw down_proj with a
// block-diagonal column count (96 = 64+32) and an 8-bpw gate_proj (48 rows = 32+16).
Fixture make_fixture(const fs::path& tokenizer_dir) {
    Fixture f;
    struct Spec { const char* prefix; int64_t m, n; int bpw; bool bias; };
    const Spec specs[] = {{"model.layers.0.self_attn.q_proj", 64, 64, 3, true},
                          {"model.layers.0.mlp.down_proj", 64, 96, 5, false},
                          {"model.layers.0.mlp.gate_proj", 48, 64, 8, false}};
    int64_t seed = 10;
    for (const Spec& s : specs) {
        torch::manual_seed(seed++);
        const torch::Tensor w = torch::randn({s.m, s.n}) * 0.05;
        const torch::Tensor b = s.bias ? torch::randn({s.m}) : torch::Tensor();
        LayerQuantOptions o;
        o.bpw = s.bpw;
        QuantizedLayer q = quantize_layer(w, hessian(s.n, seed++), o, b);
        f.contents.layers[s.prefix] = q.codes;
        f.contents.metrics[s.prefix] = q.metrics;
        f.w_hat[s.prefix] = q.w_hat;
    }
    f.contents.source_config = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"hidden_size", 64},
                                {"use_cache", false}};
    f.contents.unquantized = {{"model.embed_tokens.weight", torch::randn({10, 64}).to(torch::kBFloat16)},
                              {"model.layers.0.input_layernorm.weight", torch::ones({64})}};
    f.contents.tokenizer_dir = tokenizer_dir;
    f.contents.run.source_model = "unit-test";
    return f;
}

fs::path make_tokenizer_dir() {
    const fs::path d = glq::test::temp_dir() / "src";
    fs::create_directories(d);
    glq::write_file_atomic(d / "tokenizer.json", "{\"model\": {}}");
    glq::write_file_atomic(d / "tokenizer_config.json", "{}");
    return d;
}

void check_same(const ShellLayerArtifacts& a, const ShellLayerArtifacts& b) {
    CHECK_EQ(a.bpw, b.bpw);
    CHECK_EQ(a.num_stages(), b.num_stages());
    for (int64_t s = 0; s < a.num_stages(); ++s) CHECK(torch::equal(a.qidxs[s], b.qidxs[s]));
    CHECK(a.inv_resid_scale == b.inv_resid_scale);
    CHECK(torch::equal(a.su, b.su));
    CHECK(torch::equal(a.sv, b.sv));
    CHECK_EQ(a.wscale, b.wscale);
    CHECK_EQ(a.bias.defined(), b.bias.defined());
    if (a.bias.defined()) CHECK(torch::equal(a.bias, b.bias));
}

} // namespace

GLQ_TEST(writes_the_reference_layout_and_reads_it_back) {
    const Fixture f = make_fixture(make_tokenizer_dir());
    const fs::path out = glq::test::temp_dir() / "model-glq";
    write_glq_checkpoint(out, f.contents);

    for (const char* file : {"config.json", "quantize_config.json", "model.safetensors", "layer_metrics.json",
                             "tokenizer.json", "tokenizer_config.json"})
        CHECK_MSG(fs::exists(out / file), file);
    const json config = json::parse(glq::read_file(out / "config.json"));
    const json& q = config["quantization_config"];
    CHECK_EQ(q["quant_method"], "glq");
    CHECK_EQ(q["codebook"], "e8_shell");
    CHECK_EQ(q["codesz"], 8);
    CHECK_EQ(q["block_diagonal"], true);
    // (3·4096 + 5·6144 + 8·3072) / 13312 = 5.0769 -> 5.08
    CHECK(q["bpw"].is_number_float());
    CHECK_NEAR(q["bpw"].get<double>(), 5.08, 1e-12);
    CHECK_EQ(q["layer_bpw"]["model.layers.0.mlp.down_proj"], 5);
    CHECK_EQ(q["layer_bpw"].size(), 3u);
    CHECK_EQ(config["use_cache"], true);
    CHECK_EQ(config["model_type"], "llama");
    const json meta = json::parse(glq::read_file(out / "quantize_config.json"));
    CHECK_EQ(meta["bpw"], q["bpw"]);
    CHECK_EQ(meta["codebook"], "e8_shell");
    CHECK_EQ(meta["n_quantized_layers"], 3);
    const json metrics = json::parse(glq::read_file(out / "layer_metrics.json"));
    CHECK_EQ(metrics["model.layers.0.mlp.gate_proj"]["shape"], json::array({48, 64}));

    // Tensor names, dtypes and shapes as §1.3b; no dense weights of quantized linears.
    const auto st = glq::io::SafetensorsModel::open_dir(out);
    using glq::io::DType;
    auto expect = [&](const std::string& name, DType dt, std::vector<int64_t> shape) {
        CHECK_MSG(st.contains(name), name);
        const auto v = st.view(name);
        CHECK_MSG(v.info->dtype == dt, name);
        CHECK_MSG(v.info->shape == shape, name);
    };
    const std::string d = "model.layers.0.mlp.down_proj";
    expect(d + ".Qidxs", DType::I16, {64, 12});
    expect(d + ".Qidxs2", DType::I16, {64, 12});
    expect(d + ".Qidxs3", DType::I16, {64, 12});
    expect(d + ".inv_resid_scale", DType::F32, {});
    expect(d + ".inv_resid_scale2", DType::F32, {});
    expect(d + ".SU", DType::F16, {64});
    expect(d + ".SV", DType::F16, {96});
    expect(d + ".Wscale", DType::F32, {});
    CHECK(!st.contains(d + ".Qidxs4"));
    CHECK(!st.contains(d + ".weight"));
    expect("model.layers.0.self_attn.q_proj.bias", DType::F32, {64});
    expect("model.embed_tokens.weight", DType::BF16, {10, 64});
    expect("model.layers.0.mlp.gate_proj.inv_resid_scale3", DType::F32, {});
    // The scales of stages a layer lacks are stored as 0, every one of them:
    // the reference counts stages by the first zero, and its CPU decode reads
    // inv_resid_scale2 even of a one-stage layer.
    const auto scale = [&](const std::string& name) {
        float v = -1;
        std::memcpy(&v, st.view(name).bytes.data(), sizeof v);
        return v;
    };
    const std::string qp = "model.layers.0.self_attn.q_proj";  // 3 bpw: two stages
    CHECK(scale(qp + ".inv_resid_scale") > 0);
    expect(qp + ".inv_resid_scale2", DType::F32, {});
    expect(qp + ".inv_resid_scale3", DType::F32, {});
    CHECK_EQ(scale(qp + ".inv_resid_scale2"), 0.0f);
    CHECK_EQ(scale(qp + ".inv_resid_scale3"), 0.0f);
    CHECK_EQ(scale(d + ".inv_resid_scale3"), 0.0f);  // 5 bpw: three stages

    const GlqCheckpoint back = read_glq_checkpoint(out);
    CHECK_EQ(back.layers.size(), 3u);
    for (const auto& [p, a] : f.contents.layers) {
        check_same(std::get<ShellLayerArtifacts>(a), std::get<ShellLayerArtifacts>(back.layers.at(p)));
        CHECK(torch::equal(dequantize_layer(back.layers.at(p)), f.w_hat.at(p)));
    }
    CHECK(is_glq_checkpoint(out));

    if (const std::string interop = glq::test::env("GLQ_INTEROP_OUT"); !interop.empty()) {
        fs::remove_all(interop);
        write_glq_checkpoint(interop, f.contents);
        std::vector<glq::io::TensorData> ws;
        for (const auto& [p, w] : f.w_hat) {
            glq::io::TensorData t;
            t.name = p;
            t.dtype = DType::F32;
            t.shape = w.sizes().vec();
            t.bytes.resize(w.nbytes());
            std::memcpy(t.bytes.data(), w.contiguous().data_ptr(), w.nbytes());
            ws.push_back(std::move(t));
        }
        glq::io::write_safetensors(fs::path(interop) / "w_hat.safetensors", ws);
    }
}

GLQ_TEST(uniform_rate_is_written_as_an_integer) {
    GlqCheckpointContents c = make_fixture({}).contents;
    for (auto& [p, a] : c.layers) {
        LayerQuantOptions o;
        o.bpw = 4;
        a = quantize_layer(dequantize_layer(a), torch::eye(in_features(a)), o).codes;
    }
    CHECK(checkpoint_bpw_value(c.layers).is_number_integer());
    CHECK_EQ(checkpoint_bpw_value(c.layers), 4);
    // A 4-bpw layer read without layer_bpw or an integer bpw is inferred from its stages.
    const fs::path out = glq::test::temp_dir() / "uniform";
    write_glq_checkpoint(out, c);
    json config = json::parse(glq::read_file(out / "config.json"));
    config["quantization_config"].erase("layer_bpw");
    config["quantization_config"]["bpw"] = 4.5;
    glq::write_file_atomic(out / "config.json", config.dump());
    for (const auto& [p, a] : read_glq_checkpoint(out).layers) CHECK_EQ(layer_bpw(a), 4);
}

GLQ_TEST(bad_contents_leave_nothing_behind) {
    GlqCheckpointContents c = make_fixture({}).contents;
    c.unquantized.emplace_back("model.layers.0.mlp.down_proj.weight", torch::zeros({64, 96}));
    const fs::path out = glq::test::temp_dir() / "bad";
    CHECK_THROWS_WITH(write_glq_checkpoint(out, c), "'model.layers.0.mlp.down_proj.weight' is the dense weight of a quantized linear");
    CHECK(!fs::exists(out));
    c = make_fixture({}).contents;
    c.unquantized.emplace_back("model.layers.0.mlp.down_proj.SU", torch::zeros({64}));
    CHECK_THROWS_WITH(write_glq_checkpoint(out, c), "given twice");
    c = make_fixture({}).contents;
    std::get<ShellLayerArtifacts>(c.layers.begin()->second).bpw = 7;
    CHECK_THROWS_WITH(write_glq_checkpoint(out, c), "bpw 7 needs 4 index stages");
    CHECK(!fs::exists(out));
}

GLQ_TEST(extra_files_are_written_with_the_checkpoint) {
    // The job's record goes in with the rest, so it appears with the folder
    // or not at all.
    GlqCheckpointContents c = make_fixture(make_tokenizer_dir()).contents;
    c.extra_files["glq_workbench_job.json"] = "{\"format\": \"glq-workbench-job\"}\n";
    const fs::path out = glq::test::temp_dir() / "with-record";
    write_glq_checkpoint(out, c);
    CHECK_EQ(glq::read_file(out / "glq_workbench_job.json"), std::string("{\"format\": \"glq-workbench-job\"}\n"));
    CHECK_EQ(read_glq_checkpoint(out).layers.size(), c.layers.size());  // the reader ignores it
    // A name the writer writes itself, or one that is not a plain file name, is refused before anything is written.
    for (const char* bad : {"config.json", "tokenizer.json", "../escape.json", "sub/dir.json", ""}) {
        GlqCheckpointContents d = make_fixture({}).contents;
        d.extra_files[bad] = "x";
        const fs::path none = glq::test::temp_dir() / "refused";
        CHECK_THROWS_WITH(write_glq_checkpoint(none, d), "cannot be an extra file of the checkpoint");
        CHECK(!fs::exists(none));
    }
}

GLQ_TEST(reader_errors_name_the_file_and_the_tensor) {
    const Fixture f = make_fixture({});
    const fs::path out = glq::test::temp_dir() / "ck";
    write_glq_checkpoint(out, f.contents);
    const json good = json::parse(glq::read_file(out / "config.json"));

    json cfg = good;
    cfg["quantization_config"]["codebook"] = "trellis";
    glq::write_file_atomic(out / "config.json", cfg.dump());
    CHECK_THROWS_WITH(read_glq_checkpoint(out), "codebook \"trellis\" is not supported");
    cfg = good;
    cfg["quantization_config"]["layer_bpw"]["model.layers.9.mlp.up_proj"] = 4;
    glq::write_file_atomic(out / "config.json", cfg.dump());
    CHECK_THROWS_WITH(read_glq_checkpoint(out), "layer_bpw names 'model.layers.9.mlp.up_proj'");
    cfg = good;
    cfg["quantization_config"]["layer_bpw"].erase("model.layers.0.mlp.down_proj");
    glq::write_file_atomic(out / "config.json", cfg.dump());
    CHECK_THROWS_WITH(read_glq_checkpoint(out), "'model.layers.0.mlp.down_proj' is missing from quantization_config.layer_bpw");
    cfg = good;
    cfg["quantization_config"]["layer_bpw"]["model.layers.0.mlp.down_proj"] = 9;
    glq::write_file_atomic(out / "config.json", cfg.dump());
    CHECK_THROWS_WITH(read_glq_checkpoint(out), "must be an integer in 2..8, got 9");
    glq::write_file_atomic(out / "config.json", good.dump());

    // SV stored as float32: the error names the file and the tensor.
    GlqCheckpointContents c = f.contents;
    auto st_path = out / "model.safetensors";
    {
        const auto st = glq::io::SafetensorsModel::open_dir(out);
        std::vector<glq::io::TensorData> ts;
        for (const auto& name : st.names()) {
            const auto v = st.view(name);
            glq::io::TensorData t;
            t.name = name;
            t.dtype = v.info->dtype;
            t.shape = v.info->shape;
            t.bytes.assign(v.bytes.begin(), v.bytes.end());
            if (name == "model.layers.0.mlp.gate_proj.SV") {
                t.dtype = glq::io::DType::F32;
                t.bytes.resize(4 * 64);
                for (int i = 0; i < 64; ++i) {
                    const float one = 1.0f;
                    std::memcpy(t.bytes.data() + 4 * i, &one, 4);
                }
            }
            ts.push_back(std::move(t));
        }
        glq::io::write_safetensors(st_path.string() + ".new", ts);
    }
    fs::rename(st_path.string() + ".new", st_path);
    CHECK_THROWS_WITH(read_glq_checkpoint(out), "model.safetensors: tensor 'model.layers.0.mlp.gate_proj.SV' has dtype F32");
    CHECK_THROWS_WITH(read_glq_checkpoint(glq::test::temp_dir() / "nowhere"), "config.json");
}
