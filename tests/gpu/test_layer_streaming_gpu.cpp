// A model larger than the GPU must still calibrate and quantize: on CUDA the
// job keeps the weights on the host and brings one decoder layer at a time
// to the device. Measured by the caching allocator: the job's peak device
// memory must not grow with the model's depth (a 24-layer model peaks where a
// 4-layer one of the same width does, give or take one layer), must stay
// below the model's own size, and nothing may stay allocated after the job.
// The peak itself is fixed workspace (on the H200: 210 MB from the first
// layer on, for these 512/1536-wide layers); the depth is what streaming is
// about. The job streams here because it is told to (LayerStreaming::On):
// under Auto a model this small stays on the GPU.

#include <cstdio>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/device_memory.h"
#include "core/model/transformer.h"
#include "core/format/glq_checkpoint.h"
#include "core/quant/quantization_job.h"
#include "tests/support/require_cuda.h"
#include "tests/support/test.h"
#include "tests/support/tiny_model.h"

namespace fs = std::filesystem;
using namespace glq::quant;
using namespace glq::format;

namespace {

constexpr int64_t kDeep = 24, kShallow = 4, kHidden = 512, kIntermediate = 1536, kHeads = 8;

// A llama of `layers` random layers with stories260K's tokenizer (vocabulary
// 512), as float32 safetensors. Returns the bytes of its weights.
int64_t write_random_llama(const fs::path& dir, int64_t layers) {
    const fs::path stories = glq::test::stories260k_dir(glq::test::shared_data());
    fs::create_directories(dir);
    nlohmann::json config = nlohmann::json::parse(glq::read_file(stories / "config.json"));
    const int64_t vocab = config.at("vocab_size").get<int64_t>();
    config["hidden_size"] = kHidden;
    config["intermediate_size"] = kIntermediate;
    config["num_hidden_layers"] = layers;
    config["num_attention_heads"] = kHeads;
    config["num_key_value_heads"] = kHeads;
    config["head_dim"] = kHidden / kHeads;
    config["tie_word_embeddings"] = true;
    glq::write_file_atomic(dir / "config.json", config.dump(2));
    for (const char* f : {"tokenizer.json", "tokenizer_config.json"})
        fs::copy_file(stories / f, dir / f, fs::copy_options::overwrite_existing);

    torch::manual_seed(5);
    std::vector<torch::Tensor> keep;
    std::vector<glq::io::TensorRef> refs;
    int64_t bytes = 0;
    const auto add = [&](const std::string& name, torch::Tensor t) {
        t = t.contiguous();
        keep.push_back(t);
        refs.push_back({name, glq::io::DType::F32, t.sizes().vec(),
                        {reinterpret_cast<const std::byte*>(t.data_ptr()), t.nbytes()}});
        bytes += static_cast<int64_t>(t.nbytes());
    };
    const auto normal = [](int64_t r, int64_t c) { return torch::randn({r, c}) * 0.02; };
    add("model.embed_tokens.weight", normal(vocab, kHidden));
    add("model.norm.weight", torch::ones({kHidden}));
    for (int64_t i = 0; i < layers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        add(p + "input_layernorm.weight", torch::ones({kHidden}));
        add(p + "post_attention_layernorm.weight", torch::ones({kHidden}));
        for (const char* proj : {"q_proj", "k_proj", "v_proj", "o_proj"})
            add(p + "self_attn." + proj + ".weight", normal(kHidden, kHidden));
        add(p + "mlp.gate_proj.weight", normal(kIntermediate, kHidden));
        add(p + "mlp.up_proj.weight", normal(kIntermediate, kHidden));
        add(p + "mlp.down_proj.weight", normal(kHidden, kIntermediate));
    }
    glq::io::write_safetensors(dir / "model.safetensors", refs);
    return bytes;
}

} // namespace

GLQ_TEST(gpu_streamed_load_keeps_weights_on_the_host) {
    glq::test::require_cuda();
    const fs::path dir = glq::test::temp_dir() / "llama";
    write_random_llama(dir, kDeep);
    glq::model::LoadOptions load;
    load.device = torch::kCUDA;
    load.stream_layers = true;
    const auto model = glq::model::Transformer::load(dir, load);
    CHECK(model->device().is_cuda());
    for (int64_t i = 0; i < model->num_layers(); ++i) CHECK(model->decoder_layer(i).device().is_cpu());
    torch::NoGradGuard no_grad;
    const torch::Tensor h = model->embed(torch::arange(16, torch::kInt64).unsqueeze(0));
    CHECK(h.is_cuda());
    model->move_layer(3, torch::kCUDA);
    CHECK(model->decoder_layer(3).device().is_cuda());
    model->reserve_positions(16);
    const torch::Tensor out = model->decoder_layer(3).forward(h, torch::arange(16, torch::kInt64));
    CHECK(out.is_cuda() && out.sizes() == h.sizes());
    model->move_layer(3, torch::kCPU);
    CHECK(model->decoder_layer(3).device().is_cpu());
    CHECK_THROWS_WITH(model->forward(torch::arange(4, torch::kInt64).unsqueeze(0)), "layer-streamed");
}

namespace {

// Quantizes a fresh random llama of `layers` layers at 4 bpw on the GPU and
// reports the device memory it took: the peak over the whole job, and what
// was still allocated afterwards beyond what was allocated before.
struct JobMemory {
    int64_t model_bytes = 0, peak = 0, left_over = 0;
};

// A 4-bpw CUDA job on the model in `model`, writing `out`, weights placed by `streaming`.
QuantizationJobOptions job_options(const fs::path& model, const fs::path& out, LayerStreaming streaming) {
    const fs::path calib = model.parent_path() / "calib.txt";
    if (!fs::exists(calib))
        glq::write_file_atomic(calib,
                               glq::read_file(glq::test::shared_data() / "tinyshakespeare/input.txt").substr(0, 60000));
    QuantizationJobOptions o;
    o.model_dir = model;
    o.output_dir = out;
    o.bpw = 4;
    o.device = torch::kCUDA;
    o.layer_streaming = streaming;
    o.calibration.files = {calib};
    o.calibration.nsamples = 4;
    o.calibration.seqlen = 64;
    o.use_cache = false;
    return o;
}

JobMemory quantize_and_measure(const fs::path& tmp, int64_t layers) {
    JobMemory m;
    m.model_bytes = write_random_llama(tmp / "llama", layers);
    const QuantizationJobOptions o = job_options(tmp / "llama", tmp / "out", LayerStreaming::On);
    const torch::Device cuda(torch::kCUDA, 0);
    (void)torch::zeros({1}, cuda);  // the allocator's statistics exist once CUDA is initialised
    glq::model::synchronize(cuda);
    const auto before = static_cast<int64_t>(glq::model::allocated_memory_bytes(cuda));
    glq::model::reset_peak_memory(cuda);
    // Where the memory goes, printed for the device log: allocated and peak
    // after each decoder layer's last linear.
    QuantizationCallbacks cb;
    int64_t linears = 0;
    cb.on_layer = [&](const LayerResult&) {
        if (++linears % 7) return;
        std::printf("  %ld layers: allocated %.1f MB, peak %.1f MB\n", static_cast<long>(linears / 7),
                    glq::model::allocated_memory_bytes(cuda) / 1e6, glq::model::peak_memory_bytes(cuda) / 1e6);
    };
    const QuantizationSummary s = run_quantization_job(o, cb);
    glq::model::synchronize(cuda);
    m.peak = static_cast<int64_t>(glq::model::peak_memory_bytes(cuda));
    m.left_over = static_cast<int64_t>(glq::model::allocated_memory_bytes(cuda)) - before;
    CHECK_EQ(static_cast<int64_t>(s.layers.size()), layers * 7);
    const GlqCheckpoint ckpt = read_glq_checkpoint(o.output_dir);
    CHECK_EQ(static_cast<int64_t>(ckpt.layers.size()), layers * 7);
    std::printf("%ld layers: model %.1f MB, job peak %.1f MB, left allocated %.1f MB\n", static_cast<long>(layers),
                m.model_bytes / 1e6, m.peak / 1e6, m.left_over / 1e6);
    return m;
}

} // namespace

GLQ_TEST(gpu_job_peak_memory_does_not_grow_with_depth) {
    glq::test::require_cuda();
    const fs::path tmp = glq::test::temp_dir();
    const JobMemory shallow = quantize_and_measure(tmp / "shallow", kShallow);
    const JobMemory deep = quantize_and_measure(tmp / "deep", kDeep);
    const int64_t layer_bytes = (4 * kHidden * kHidden + 3 * kHidden * kIntermediate) * 4;
    // Twenty more layers may not cost even one more layer's weights.
    CHECK_MSG(deep.peak - shallow.peak < layer_bytes, "peak " << deep.peak << " bytes at " << kDeep << " layers, "
                                                               << shallow.peak << " at " << kShallow << " ("
                                                               << layer_bytes << " per layer)");
    CHECK_MSG(deep.peak < deep.model_bytes, "peak " << deep.peak << " bytes for a model of " << deep.model_bytes);
    CHECK_MSG(deep.left_over < 1 << 20, deep.left_over << " bytes still allocated after the job");
}

// Streaming moves weights, nothing else: a streamed job and a resident one
// write the same checkpoint, byte for byte. Auto keeps a model this small
// (a few MB against the GPU's free memory) resident, and says so.
GLQ_TEST(gpu_streamed_and_resident_jobs_write_the_same_checkpoint) {
    glq::test::require_cuda();
    const fs::path tmp = glq::test::temp_dir();
    write_random_llama(tmp / "llama", kShallow);
    std::string auto_note;
    QuantizationCallbacks cb;
    cb.log = [&](const std::string& line) {
        if (line.rfind("layer streaming", 0) == 0) auto_note = line;
    };
    run_quantization_job(job_options(tmp / "llama", tmp / "auto", LayerStreaming::Auto), cb);
    CHECK_MSG(auto_note.rfind("layer streaming off", 0) == 0, auto_note);
    run_quantization_job(job_options(tmp / "llama", tmp / "streamed", LayerStreaming::On));
    const std::string resident = glq::read_file(tmp / "auto" / "model.safetensors");
    CHECK(!resident.empty());
    CHECK(resident == glq::read_file(tmp / "streamed" / "model.safetensors"));
}
