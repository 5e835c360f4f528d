// Generator stops (eos, stop strings, max tokens, cancel) on stories260K,
// the stop-string filter on its own, and the perplexity window arithmetic.

#include <torch/torch.h>

#include "core/eval/perplexity.h"
#include "core/io/model_dir.h"
#include "core/io/tokenizer.h"
#include "core/model/generator.h"
#include "core/model/stop_strings.h"
#include "core/model/transformer.h"
#include "tests/support/test.h"

using namespace glq;
using namespace glq::model;

namespace {

std::filesystem::path stories_dir() { return test::shared_data() / "models" / "stories260K"; }

} // namespace

GLQ_TEST(stop_string_filter_holds_back_prefixes_and_cuts) {
    StopStringFilter f({"<end>"});
    CHECK_EQ(f.push("Hello <"), std::string("Hello "));
    CHECK_EQ(f.push("en"), std::string());
    CHECK_EQ(f.push("d> more"), std::string());
    CHECK(f.stopped());
    CHECK_EQ(f.text(), std::string("Hello "));
    StopStringFilter g({"xyz"});
    CHECK_EQ(g.push("abc x"), std::string("abc "));
    CHECK_EQ(g.push("a"), std::string("xa"));
    CHECK_EQ(g.flush(), std::string());
    CHECK(!g.stopped());
}

GLQ_TEST(generator_stops_on_eos_stop_string_max_tokens_and_cancel) {
    auto model = Transformer::load(stories_dir());
    const io::Tokenizer tok = io::Tokenizer::load(stories_dir() / "tokenizer.json");
    Generator gen(*model, &tok);
    GenerationParams params;
    params.max_new_tokens = 30;
    const GenerationResult base = gen.generate({1}, params);
    CHECK(base.stop == StopReason::MaxTokens);
    CHECK_EQ(base.ids.size(), 30u);

    // The 5th greedy token as an eos id: generation ends right there, id included.
    params.eos_ids = {base.ids[4]};
    const GenerationResult eos = gen.generate({1}, params);
    CHECK(eos.stop == StopReason::Eos);
    CHECK_EQ(eos.ids.size(), 5u);

    params.eos_ids.clear();
    params.stop_strings = {"Lily"};
    const GenerationResult stop = gen.generate({1}, params);
    CHECK(stop.stop == StopReason::StopString);
    CHECK(!test::contains(stop.text, "Lily"));
    CHECK(test::contains(base.text, stop.text));

    params.stop_strings.clear();
    CancelToken cancel;
    int calls = 0;
    const GenerationResult cancelled = gen.generate({1}, params, [&](int32_t, const std::string&) {
        if (++calls == 3) cancel.cancel();
    }, &cancel);
    CHECK(cancelled.stop == StopReason::Cancelled);
    CHECK_EQ(cancelled.ids.size(), 3u);
    CHECK((std::vector<int32_t>(base.ids.begin(), base.ids.begin() + 3) == cancelled.ids));
}

GLQ_TEST(perplexity_window_arithmetic) {
    io::ModelConfig c;
    c.max_position_embeddings = 512;
    CHECK_EQ(eval::effective_seqlen(2048, c), 512);
    CHECK_EQ(eval::effective_seqlen(100, c), 100);
    CHECK_THROWS_WITH(eval::effective_seqlen(1, c), "must be at least 2");
    CHECK_EQ(eval::window_count(1000, 100, 0), 10);
    CHECK_EQ(eval::window_count(1099, 100, 0), 10);
    CHECK_EQ(eval::window_count(1099, 100, 3), 3);
    CHECK_EQ(eval::window_count(99, 100, 0), 0);

    auto model = Transformer::load(stories_dir());
    const io::Tokenizer tok = io::Tokenizer::load(stories_dir() / "tokenizer.json");
    const std::vector<int32_t> ids = tok.encode(
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the sun. "
        "One day, she saw a big dog in the park. The dog was very friendly and wanted to play with Lily.",
        true);
    eval::PerplexityOptions options;
    options.seqlen = 16;
    const auto r = eval::perplexity(*model, ids, options);
    CHECK_EQ(r.windows, static_cast<int64_t>(ids.size()) / 16);
    CHECK_EQ(r.tokens_scored, r.windows * 15);
    // The same loss from the full forward of each window.
    double nll = 0;
    for (int64_t w = 0; w < r.windows; ++w) {
        std::vector<int64_t> win(ids.begin() + w * 16, ids.begin() + (w + 1) * 16);
        const torch::Tensor x = torch::tensor(win, torch::kInt64);
        const torch::Tensor logits = model->forward(x.view({1, -1})).select(0, 0).narrow(0, 0, 15);
        nll += torch::nn::functional::cross_entropy(
                   logits, x.narrow(0, 1, 15),
                   torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                   .item<double>();
    }
    CHECK_NEAR(r.nll_sum, nll, 1e-3);
    CHECK_NEAR(r.perplexity, std::exp(nll / r.tokens_scored), 1e-3 * r.perplexity);
    CHECK(r.perplexity > 1 && r.perplexity < 20);  // it knows this kind of story
    options.seqlen = 4096;
    CHECK_THROWS_WITH(eval::perplexity(*model, ids, options), "fewer than one window of 512");
}
