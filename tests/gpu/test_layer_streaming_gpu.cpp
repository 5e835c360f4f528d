// A model larger than the GPU must still calibrate and quantize: on CUDA the
// job keeps the weights on the host and brings one decoder layer at a time
// to the device. Measured here by the caching allocator's peak: for a model
// of 24 layers the job's peak device memory must stay far below the model's
// own size (with every layer resident it could not be below it).

#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/common/atomic_file.h"
#include "core/io/safetensors.h"
#include "core/model/device_memory.h"
#include "core/model/transformer.h"
#include "core/quant/glq_checkpoint.h"
#include "core/quant/quantization_job.h"
#include "tests/support/require_cuda.h"
#include "tests/support/test.h"
#include "tests/support/tiny_model.h"

namespace fs = std::filesystem;
using namespace glq::quant;

namespace {

constexpr int64_t kLayers = 24, kHidden = 512, kIntermediate = 1536, kHeads = 8;

// A llama of kLayers random layers with stories260K's tokenizer (vocabulary
// 512), as float32 safetensors. Returns the bytes of its weights.
int64_t write_random_llama(const fs::path& dir) {
    const fs::path stories = glq::test::stories260k_dir(glq::test::shared_data());
    fs::create_directories(dir);
    nlohmann::json config = nlohmann::json::parse(glq::read_file(stories / "config.json"));
    const int64_t vocab = config.at("vocab_size").get<int64_t>();
    config["hidden_size"] = kHidden;
    config["intermediate_size"] = kIntermediate;
    config["num_hidden_layers"] = kLayers;
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
    for (int64_t i = 0; i < kLayers; ++i) {
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
    write_random_llama(dir);
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

GLQ_TEST(gpu_job_peak_memory_stays_far_below_the_model) {
    glq::test::require_cuda();
    const fs::path tmp = glq::test::temp_dir();
    const int64_t model_bytes = write_random_llama(tmp / "llama");
    const fs::path calib = tmp / "calib.txt";
    glq::write_file_atomic(calib, glq::read_file(glq::test::shared_data() / "tinyshakespeare/input.txt").substr(0, 60000));

    QuantizationJobOptions o;
    o.model_dir = tmp / "llama";
    o.output_dir = tmp / "out";
    o.bpw = 4;
    o.device = torch::kCUDA;
    o.calibration.files = {calib};
    o.calibration.nsamples = 4;
    o.calibration.seqlen = 64;
    o.use_cache = false;
    const torch::Device cuda(torch::kCUDA, 0);
    (void)torch::zeros({1}, cuda);  // the allocator's statistics exist once CUDA is initialised
    glq::model::synchronize(cuda);
    glq::model::reset_peak_memory(cuda);
    const QuantizationSummary s = run_quantization_job(o);
    glq::model::synchronize(cuda);
    const auto peak = static_cast<int64_t>(glq::model::peak_memory_bytes(cuda));
    const int64_t layer_bytes = (4 * kHidden * kHidden + 3 * kHidden * kIntermediate) * 4;
    CHECK_EQ(static_cast<int64_t>(s.layers.size()), kLayers * 7);
    CHECK_MSG(peak < model_bytes / 2, "peak " << peak << " bytes for a model of " << model_bytes << " bytes ("
                                               << layer_bytes << " per layer)");
    const GlqCheckpoint ckpt = read_glq_checkpoint(o.output_dir);
    CHECK_EQ(static_cast<int64_t>(ckpt.layers.size()), kLayers * 7);
}
