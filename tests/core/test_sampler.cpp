// Sampler: seeded determinism, the filters keep exactly the allowed set
// (sampled many times), and the repetition penalty as transformers applies it.

#include <set>

#include <torch/torch.h>

#include "core/model/sampler.h"
#include "tests/support/test.h"

using namespace glq::model;

namespace {

// Logits of a known distribution over 6 tokens: p = [0.4, 0.25, 0.15, 0.1, 0.06, 0.04].
torch::Tensor known_logits() { return torch::tensor({0.4, 0.25, 0.15, 0.1, 0.06, 0.04}, torch::kFloat32).log(); }

std::set<int32_t> drawn(const SamplingParams& params, int n = 3000) {
    Sampler sampler(params);
    std::set<int32_t> seen;
    for (int i = 0; i < n; ++i) seen.insert(sampler.sample(known_logits(), {}));
    return seen;
}

} // namespace

GLQ_TEST(greedy_is_argmax) {
    Sampler sampler(SamplingParams{});
    CHECK_EQ(sampler.sample(known_logits(), {}), 0);
    CHECK_EQ(sampler.sample(torch::tensor({1.0f, 5.0f, 2.0f}), {}), 1);
}

GLQ_TEST(seeded_sampling_is_deterministic) {
    SamplingParams p;
    p.temperature = 1.0;
    p.seed = 42;
    Sampler a(p), b(p);
    std::vector<int32_t> xa, xb;
    for (int i = 0; i < 200; ++i) {
        xa.push_back(a.sample(known_logits(), {}));
        xb.push_back(b.sample(known_logits(), {}));
    }
    CHECK(xa == xb);
    p.seed = 43;
    Sampler c(p);
    std::vector<int32_t> xc;
    for (int i = 0; i < 200; ++i) xc.push_back(c.sample(known_logits(), {}));
    CHECK(xa != xc);
}

GLQ_TEST(top_k_keeps_exactly_k) {
    SamplingParams p;
    p.temperature = 1.0;
    p.top_k = 3;
    CHECK((drawn(p) == std::set<int32_t>{0, 1, 2}));
}

GLQ_TEST(top_p_keeps_the_nucleus) {
    SamplingParams p;
    p.temperature = 1.0;
    p.top_p = 0.7;  // 0.4 + 0.25 = 0.65 < 0.7, so the third token is needed
    CHECK((drawn(p) == std::set<int32_t>{0, 1, 2}));
    p.top_p = 0.3;  // the top token alone covers it
    CHECK((drawn(p) == std::set<int32_t>{0}));
}

GLQ_TEST(min_p_drops_below_fraction_of_top) {
    SamplingParams p;
    p.temperature = 1.0;
    p.min_p = 0.3;  // threshold 0.12: keeps 0.4, 0.25, 0.15
    CHECK((drawn(p) == std::set<int32_t>{0, 1, 2}));
}

GLQ_TEST(repetition_penalty_as_transformers) {
    const torch::Tensor logits = torch::tensor({2.0f, -1.0f, 0.5f, 3.0f});
    const torch::Tensor out = apply_repetition_penalty(logits, {0, 1, 1}, 2.0);
    CHECK_NEAR(out[0].item<float>(), 1.0, 1e-6);   // positive: divided
    CHECK_NEAR(out[1].item<float>(), -2.0, 1e-6);  // negative: multiplied
    CHECK_NEAR(out[2].item<float>(), 0.5, 1e-6);   // unseen: unchanged
    CHECK_NEAR(out[3].item<float>(), 3.0, 1e-6);
    SamplingParams p;
    p.repetition_penalty = 2.0;
    Sampler greedy(p);
    CHECK_EQ(greedy.sample(torch::tensor({3.0f, 2.0f}), {0}), 1);  // 1.5 < 2
}

GLQ_TEST(bad_settings_are_reported) {
    SamplingParams p;
    p.top_p = 0;
    CHECK_THROWS_WITH(Sampler{p}, "top-p must be in (0, 1]");
    p = {};
    p.temperature = -1;
    CHECK_THROWS_WITH(Sampler{p}, "temperature must be >= 0");
    p = {};
    p.repetition_penalty = 0;
    CHECK_THROWS_WITH(Sampler{p}, "repetition penalty must be > 0");
}
