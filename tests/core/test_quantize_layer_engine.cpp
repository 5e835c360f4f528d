// A CompressedShellLinear swapped into the engine: Hessians from the engine's input observer,
// every projection of layer 0 quantized at 8 bpw, the logits stay close.

#include <torch/torch.h>

#include "core/io/hf_config.h"
#include "core/model/transformer.h"
#include "core/format/compressed_linear.h"
#include "core/quant/quantize_layer.h"
#include "tests/support/test.h"

using namespace glq::quant;
using namespace glq::format;

namespace {

std::unique_ptr<glq::model::Transformer> tiny_model() {
    const nlohmann::json j = {{"model_type", "llama"},         {"architectures", {"LlamaForCausalLM"}},
                              {"vocab_size", 96},              {"hidden_size", 64},
                              {"intermediate_size", 128},      {"num_hidden_layers", 2},
                              {"num_attention_heads", 4},      {"num_key_value_heads", 2},
                              {"max_position_embeddings", 64}, {"rms_norm_eps", 1e-5},
                              {"tie_word_embeddings", true}};
    return glq::model::Transformer::random(glq::io::ModelConfig::from_json(j, "tiny config"), torch::kFloat32,
                                           torch::kCPU, 5);
}

} // namespace

GLQ_TEST(captured_hessians_quantize_a_layer_that_keeps_the_model_close) {
    auto model = tiny_model();
    torch::manual_seed(2);
    const torch::Tensor ids = torch::randint(0, 96, {4, 48}, torch::kInt64);
    const torch::Tensor reference = model->forward(ids);

    // H = XᵀX/N of each projection's input, straight from the observer.
    std::map<std::string, torch::Tensor> hessians;
    model->set_linear_observer([&](const std::string& prefix, const torch::Tensor& x) {
        const torch::Tensor f = x.reshape({-1, x.size(-1)}).to(torch::kFloat64);
        hessians[prefix] = f.t().mm(f) / static_cast<double>(f.size(0));
    });
    model->forward(ids);
    model->set_linear_observer({});
    CHECK_EQ(hessians.size(), model->linear_prefixes().size());

    // Quantize layer 0 at 8 bpw with its own Hessians and swap it in.
    for (const auto& p : model->linear_prefixes()) {
        if (p.rfind("model.layers.0.", 0) != 0) continue;
        const auto dense = std::dynamic_pointer_cast<glq::model::DenseLinear>(model->linear(p));
        CHECK(dense != nullptr);
        LayerQuantOptions o;
        o.bpw = 8;
        const QuantizedLayer q = quantize_layer(dense->weight(), hessians.at(p), o);
        // LDLQ minimises the Hessian-weighted error (plain SQNR is not its objective):
        // at 8 bpw the weighted error is a tiny fraction of the weighted signal.
        CHECK_MSG(q.metrics.relative_proxy_loss < 1e-3, p << " relative proxy " << q.metrics.relative_proxy_loss);
        model->replace_linear(p, std::make_shared<CompressedShellLinear>(std::get<ShellLayerArtifacts>(q.codes), torch::kCPU, nullptr, p));
    }
    CHECK_EQ(model->linear("model.layers.0.mlp.down_proj")->kind(), std::string("glq"));
    const torch::Tensor quantized = model->forward(ids);
    const double rel = ((quantized - reference).norm() / reference.norm()).item<double>();
    CHECK_MSG(rel < 1e-2, "logits moved by " << rel);
    std::printf("layer 0 at 8 bpw: logits relative change %.2e\n", rel);
}
