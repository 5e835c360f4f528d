// The engine on a real pretrained Llama (stories260K, fp32, CPU): the greedy
// golden that transformers and llama.c agree on, and the cache paths
// (prefill, chunked prefill, eager decode, static decode, batches) against
// the plain full forward.

#include <fstream>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "core/io/model_dir.h"
#include "core/io/tokenizer.h"
#include "core/model/decode_step.h"
#include "core/model/generator.h"
#include "core/model/transformer.h"
#include "tests/support/test.h"

using namespace glq;
using namespace glq::model;

namespace {

std::filesystem::path stories_dir() { return test::shared_data() / "models" / "stories260K"; }

Transformer& stories() {
    static std::unique_ptr<Transformer> model = Transformer::load(stories_dir());
    return *model;
}

std::vector<int32_t> golden_ids() {
    std::ifstream in(stories_dir() / "reference" / "greedy200_ids.json");
    return nlohmann::json::parse(in).get<std::vector<int32_t>>();
}

torch::Tensor ids_tensor(const std::vector<int32_t>& ids, int64_t count) {
    std::vector<int64_t> v(ids.begin(), ids.begin() + count);
    return torch::tensor(v, torch::kInt64).view({1, -1});
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
    return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

// max|a - b| / max|b|: fp32 paths that only reorder sums stay within a few ulp of the logit scale.
double rel_error(const torch::Tensor& a, const torch::Tensor& b) {
    return max_abs_diff(a, b) / b.to(torch::kFloat64).abs().max().item<double>();
}

} // namespace

GLQ_TEST(greedy_golden_200_tokens) {
    const std::vector<int32_t> golden = golden_ids();
    CHECK_EQ(golden.size(), 201u);
    const io::ModelDir dir = io::ModelDir::open(stories_dir());
    const io::Tokenizer tokenizer = io::Tokenizer::load(dir.tokenizer_path());
    Generator generator(stories(), &tokenizer);
    GenerationParams params;
    params.max_new_tokens = 200;
    params.eos_ids = eos_ids_of(dir.config(), dir.generation());
    std::string streamed;
    const GenerationResult result =
        generator.generate({golden[0]}, params, [&](int32_t, const std::string& text) { streamed += text; });
    const std::vector<int32_t> expected(golden.begin() + 1, golden.end());
    CHECK_EQ(result.ids.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK_MSG(result.ids[i] == expected[i], "token " << i);
    CHECK(result.stop == StopReason::MaxTokens);
    CHECK_EQ(streamed, result.text);
    std::ifstream text_file(stories_dir() / "reference" / "greedy200.txt");
    const std::string golden_text((std::istreambuf_iterator<char>(text_file)), {});
    CHECK_EQ(result.text, tokenizer.decode(expected, true));
    CHECK(test::contains(golden_text, result.text.substr(0, 60)));
    CHECK_EQ(result.stats.prompt_tokens, 1);
    CHECK_EQ(result.stats.generated_tokens, 200);
    CHECK(result.stats.decode_tokens_per_second > 0);
}

GLQ_TEST(cached_decode_equals_full_forward_at_every_position) {
    Transformer& model = stories();
    const std::vector<int32_t> ids = golden_ids();
    const int64_t n = 96, prefill = 7;
    const torch::Tensor full = model.forward(ids_tensor(ids, n)).select(0, 0);  // [n, V]

    KVCache cache = model.new_cache(1, n);
    const torch::Tensor first = model.forward(ids_tensor(ids, prefill), &cache, 0).select(0, 0);
    CHECK(rel_error(first, full.narrow(0, 0, prefill)) < 2e-6);
    DecodeStep step(model, cache);
    CHECK(!step.graphed());
    for (int64_t p = prefill; p < n; ++p) {
        const torch::Tensor logits = step.run(torch::tensor({int64_t(ids[p])}), p).select(0, 0);
        CHECK_MSG(rel_error(logits, full.select(0, p)) < 2e-6, "position " << p << ": " << rel_error(logits, full.select(0, p)));
    }
    CHECK_EQ(cache.length, n);
}

GLQ_TEST(static_decode_equals_full_forward) {
    // decode_static is what the CUDA graph captures: check it on the CPU.
    Transformer& model = stories();
    const std::vector<int32_t> ids = golden_ids();
    const int64_t n = 70, prefill = 3;
    const torch::Tensor full = model.forward(ids_tensor(ids, n)).select(0, 0);
    KVCache cache = model.new_cache(1, n);
    model.forward(ids_tensor(ids, prefill), &cache, 0);
    for (int64_t p = prefill; p < n; ++p) {
        const torch::Tensor logits =
            model.decode_static(torch::tensor({{int64_t(ids[p])}}), torch::tensor({p}), cache).select(0, 0);
        CHECK_MSG(rel_error(logits, full.select(0, p)) < 2e-6, "position " << p << ": " << rel_error(logits, full.select(0, p)));
    }
}

GLQ_TEST(chunked_prefill_equals_full_forward) {
    Transformer& model = stories();
    const std::vector<int32_t> ids = golden_ids();
    const torch::Tensor all = ids_tensor(ids, 60);
    const torch::Tensor full = model.forward(all);
    KVCache cache = model.new_cache(1, 60);
    const torch::Tensor a = model.forward(all.narrow(1, 0, 25), &cache, 0);
    const torch::Tensor b = model.forward(all.narrow(1, 25, 35), &cache, 25);
    CHECK(rel_error(torch::cat({a, b}, 1), full) < 2e-6);
    const torch::Tensor last = model.forward(all.narrow(1, 0, 10), nullptr, 0, /*last_only=*/true);
    CHECK_EQ(last.size(1), 1);
    CHECK(rel_error(last.select(1, 0), model.forward(all.narrow(1, 0, 10)).select(1, 9)) < 2e-6);
}

GLQ_TEST(batch_of_two_equals_two_single_runs) {
    Transformer& model = stories();
    const std::vector<int32_t> ids = golden_ids();
    const int64_t prompt = 12, steps = 20;
    const torch::Tensor a = ids_tensor(ids, prompt + steps);
    const torch::Tensor b = torch::tensor(std::vector<int64_t>(ids.begin() + 100, ids.begin() + 100 + prompt + steps))
                                .view({1, -1});
    const torch::Tensor both = torch::cat({a, b}, 0);

    KVCache batch_cache = model.new_cache(2, prompt + steps);
    std::vector<torch::Tensor> batch_logits{model.forward(both.narrow(1, 0, prompt), &batch_cache, 0)};
    DecodeStep batch_step(model, batch_cache);
    for (int64_t p = prompt; p < prompt + steps; ++p)
        batch_logits.push_back(batch_step.run(both.select(1, p), p).unsqueeze(1));
    const torch::Tensor batched = torch::cat(batch_logits, 1);  // [2, prompt + steps, V]

    for (int64_t row = 0; row < 2; ++row) {
        const torch::Tensor one = both.narrow(0, row, 1);
        KVCache cache = model.new_cache(1, prompt + steps);
        std::vector<torch::Tensor> logits{model.forward(one.narrow(1, 0, prompt), &cache, 0)};
        DecodeStep step(model, cache);
        for (int64_t p = prompt; p < prompt + steps; ++p) logits.push_back(step.run(one.select(1, p), p).unsqueeze(1));
        CHECK_MSG(rel_error(torch::cat(logits, 1).select(0, 0), batched.select(0, row)) < 2e-6, "row " << row);
    }
}

GLQ_TEST(per_layer_api_equals_forward) {
    Transformer& model = stories();
    const torch::Tensor ids = ids_tensor(golden_ids(), 40);
    torch::NoGradGuard no_grad;
    torch::Tensor h = model.embed(ids);
    const torch::Tensor positions = torch::arange(40, torch::kInt64);
    for (int64_t i = 0; i < model.num_layers(); ++i) h = model.decoder_layer(i).forward(h, positions);
    const torch::Tensor logits = model.lm_head(model.final_norm(h));
    CHECK(rel_error(logits, model.forward(ids)) < 2e-6);
    CHECK_THROWS_WITH(model.decoder_layer(5), "layer 5 does not exist");
}

// Layer streaming (the GLQ pipeline's load for models larger than the GPU):
// the per-layer path gives the same logits, whole-model calls refuse, and a
// layer whose projections are not dense cannot move. On a GPU the weights
// also stay on the host (tests/gpu/test_layer_streaming_gpu.cpp).
GLQ_TEST(streamed_model_runs_layer_by_layer_and_refuses_whole_model_calls) {
    LoadOptions load;
    load.stream_layers = true;
    const std::unique_ptr<Transformer> streamed = Transformer::load(stories_dir(), load);
    CHECK(streamed->streams_layers());
    CHECK(!stories().streams_layers());
    const torch::Tensor ids = ids_tensor(golden_ids(), 40);
    torch::NoGradGuard no_grad;
    torch::Tensor h = streamed->embed(ids);
    const torch::Tensor positions = torch::arange(40, torch::kInt64);
    streamed->reserve_positions(40);
    const uint64_t revision = streamed->revision();
    for (int64_t i = 0; i < streamed->num_layers(); ++i) {
        streamed->move_layer(i, streamed->device());  // the same device here: nothing moves
        h = streamed->decoder_layer(i).forward(h, positions);
    }
    CHECK_EQ(streamed->revision(), revision);
    CHECK(rel_error(streamed->lm_head(streamed->final_norm(h)), stories().forward(ids)) < 2e-6);
    CHECK_THROWS_WITH(streamed->forward(ids), "layer-streamed");

    // A layer holding a projection that is not dense stays where it is.
    struct Scaled final : LinearOp {
        std::shared_ptr<LinearOp> inner;
        torch::Tensor forward(const torch::Tensor& x) const override { return inner->forward(x) * 2; }
        int64_t in_features() const override { return inner->in_features(); }
        int64_t out_features() const override { return inner->out_features(); }
        std::string kind() const override { return "scaled"; }
        uint64_t storage_bytes() const override { return inner->storage_bytes(); }
        uint64_t resident_bytes() const override { return inner->resident_bytes(); }
    };
    auto scaled = std::make_shared<Scaled>();
    scaled->inner = streamed->linear("model.layers.1.mlp.up_proj");
    streamed->replace_linear("model.layers.1.mlp.up_proj", scaled);
    CHECK_THROWS_WITH(streamed->decoder_layer(1).to(torch::Device("meta")), "only dense projections move");
    CHECK(streamed->decoder_layer(1).device().is_cpu());  // refused before anything moved
    CHECK(streamed->linear("model.layers.1.self_attn.q_proj")->forward(torch::ones({1, 64})).device().is_cpu());
}

GLQ_TEST(linear_hooks_replace_and_observe) {
    Transformer& model = stories();
    const std::vector<std::string> prefixes = model.linear_prefixes();
    CHECK_EQ(prefixes.size(), 35u);
    CHECK_EQ(prefixes.front(), std::string("model.layers.0.self_attn.q_proj"));
    CHECK_EQ(prefixes.back(), std::string("model.layers.4.mlp.down_proj"));

    const torch::Tensor ids = ids_tensor(golden_ids(), 16);
    const torch::Tensor before = model.forward(ids);
    std::vector<std::string> seen;
    std::vector<std::vector<int64_t>> shapes;
    model.set_linear_observer([&](const std::string& prefix, const torch::Tensor& x) {
        seen.push_back(prefix);
        shapes.push_back(x.sizes().vec());
    });
    model.forward(ids);
    model.set_linear_observer({});
    CHECK(seen == prefixes);
    CHECK((shapes[0] == std::vector<int64_t>{1, 16, 64}));   // q_proj input
    CHECK((shapes[6] == std::vector<int64_t>{1, 16, 172}));  // down_proj input

    // A replacement that scales the output changes the logits; the original restores them.
    const std::string target = "model.layers.2.mlp.down_proj";
    const auto original = std::dynamic_pointer_cast<DenseLinear>(model.linear(target));
    CHECK(original != nullptr);
    const uint64_t revision = model.revision();
    model.replace_linear(target, std::make_shared<DenseLinear>(original->weight() * 2));
    CHECK(model.revision() == revision + 1);
    CHECK(max_abs_diff(model.forward(ids), before) > 1e-3);
    model.replace_linear(target, original);
    CHECK(max_abs_diff(model.forward(ids), before) == 0.0);

    CHECK_THROWS_WITH(model.replace_linear(target, std::make_shared<DenseLinear>(torch::zeros({64, 64}))),
                      "replacement is 64x64, the layer is 64x172");
    CHECK_THROWS_WITH(model.linear("model.layers.9.mlp.up_proj"), "is not a linear layer of this model");
}

GLQ_TEST(cache_misuse_is_reported) {
    Transformer& model = stories();
    const torch::Tensor ids = ids_tensor(golden_ids(), 10);
    KVCache small = model.new_cache(1, 8);  // rounded up to 64
    CHECK_EQ(small.capacity(), 64);
    KVCache pair = model.new_cache(2, 16);
    CHECK_THROWS_WITH(model.forward(ids, &pair, 0), "holds batch 2, the input has 1");
    CHECK_THROWS_WITH(model.forward(ids, &small, 60), "capacity 64 is too small for 70 positions");
    CHECK_THROWS_WITH(model.forward(ids, nullptr, 3), "a start position needs a KV cache");
    model.forward(ids, &small, 0);
    DecodeStep step(model, small);
    CHECK_THROWS_WITH(step.run(torch::tensor({int64_t(5)}), 12), "is not the cache's next slot (10)");
}

GLQ_TEST(load_rejects_shapes_that_disagree_with_config) {
    const auto dir = test::temp_dir() / "bad";
    std::filesystem::create_directories(dir);
    for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json"})
        std::filesystem::copy_file(stories_dir() / f, dir / f);
    std::ifstream in(stories_dir() / "config.json");
    nlohmann::json config = nlohmann::json::parse(in);
    config["intermediate_size"] = 100;
    std::ofstream(dir / "config.json") << config.dump(2);
    CHECK_THROWS_WITH(Transformer::load(dir), "tensor 'model.layers.0.mlp.gate_proj.weight'");
    CHECK_THROWS_WITH(Transformer::load(dir), "has shape [172, 64], the config implies [100, 64]");
}
