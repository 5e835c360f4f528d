// The bit allocator against exhaustive search, and its budget guarantees.

#include <random>

#include "core/plan/allocator.h"
#include "tests/support/test.h"

using namespace glq::plan;

namespace {

// Random layers whose losses fall with bpw (not always smoothly: a real
// profile is noisy), sizes multiples of 64.
SensitivityTable random_table(std::mt19937& rng, int layers, int min_bpw, int max_bpw, int size_scale = 64) {
    std::uniform_int_distribution<int> dim(1, 12);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    SensitivityTable t;
    for (int i = 0; i < layers; ++i) {
        LayerSensitivity l;
        l.name = "model.layers." + std::to_string(i) + ".mlp.down_proj";
        l.rows = size_scale * dim(rng);
        l.cols = 8 * dim(rng);
        double v = 0.1 + 10 * u(rng);
        for (int b = min_bpw; b <= max_bpw; ++b) {
            l.set_loss(b, v);
            v *= 0.1 + 0.4 * u(rng);
        }
        t.layers.push_back(l);
    }
    return t;
}

// Best summed loss over all assignments that fit the budget.
double exhaustive_best(const SensitivityTable& t, const AllocationRequest& r, uint64_t budget) {
    const int rates = r.max_bpw - r.min_bpw + 1;
    const size_t n = t.layers.size();
    std::vector<int> pick(n, 0);
    double best = std::numeric_limits<double>::infinity();
    for (;;) {
        uint64_t bits = 0;
        double loss = 0;
        for (size_t i = 0; i < n; ++i) {
            bits += static_cast<uint64_t>(t.layers[i].parameters()) * (r.min_bpw + pick[i]);
            loss += t.layers[i].loss(r.min_bpw + pick[i]);
        }
        if (bits <= budget) best = std::min(best, loss);
        size_t k = 0;
        while (k < n && ++pick[k] == rates) pick[k++] = 0;
        if (k == n) break;
    }
    return best;
}

} // namespace

GLQ_TEST(allocation_matches_exhaustive_search) {
    std::mt19937 rng(1234);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int trial = 0; trial < 60; ++trial) {
        const int min_bpw = 2 + trial % 3;
        const int max_bpw = std::min(8, min_bpw + 2 + trial % 3);
        const SensitivityTable t = random_table(rng, 4 + trial % 3, min_bpw, max_bpw);
        AllocationRequest r;
        r.min_bpw = min_bpw;
        r.max_bpw = max_bpw;
        r.target_bpw = min_bpw + (max_bpw - min_bpw) * u(rng);
        const Allocation a = allocate_bpw(t, r);
        CHECK(a.exact);
        CHECK(a.used_bits <= a.budget_bits);
        CHECK(a.average_bpw <= r.target_bpw + 1e-12);
        const double best = exhaustive_best(t, r, a.budget_bits);
        CHECK_MSG(std::fabs(a.total_loss - best) <= 1e-12 * best, "trial " << trial << ": " << a.total_loss << " vs " << best);
        // The reported numbers agree with the map.
        double loss = 0;
        uint64_t bits = 0;
        for (const auto& l : t.layers) {
            const int b = a.bpw.at(l.name);
            CHECK(b >= min_bpw && b <= max_bpw);
            loss += l.loss(b);
            bits += static_cast<uint64_t>(l.parameters()) * b;
        }
        CHECK_NEAR(loss, a.total_loss, 1e-12 * loss);
        CHECK_EQ(bits, a.used_bits);
    }
}

GLQ_TEST(budget_edges) {
    std::mt19937 rng(7);
    const SensitivityTable t = random_table(rng, 6, 2, 8);
    AllocationRequest r;
    r.min_bpw = 2;
    r.max_bpw = 8;
    r.target_bpw = 8;
    for (const auto& [name, b] : allocate_bpw(t, r).bpw) CHECK_EQ(b, 8);
    r.target_bpw = 2;
    for (const auto& [name, b] : allocate_bpw(t, r).bpw) CHECK_EQ(b, 2);
    // Uniform sizes and a whole target: every layer can sit at the target, and
    // the optimum spends the whole budget (losses fall strictly with bpw).
    SensitivityTable same = t;
    for (auto& l : same.layers) l.rows = 64, l.cols = 64;
    r.target_bpw = 4;
    const Allocation a = allocate_bpw(same, r);
    CHECK_EQ(a.used_bits, a.budget_bits);
    CHECK_NEAR(a.average_bpw, 4.0, 1e-12);
}

GLQ_TEST(large_coprime_instances_round_conservatively_and_fill_the_budget) {
    std::mt19937 rng(99);
    SensitivityTable t = random_table(rng, 300, 2, 6);
    // Sizes with gcd 1 and large products force the rounded-unit path.
    std::uniform_int_distribution<int64_t> big(400000, 900000);
    for (auto& l : t.layers) l.rows = big(rng) | 1, l.cols = 1;
    AllocationRequest r;
    r.min_bpw = 2;
    r.max_bpw = 6;
    r.target_bpw = 3.3;
    const Allocation a = allocate_bpw(t, r);
    CHECK(!a.exact);
    CHECK(a.used_bits <= a.budget_bits);
    // What is left unspent is less than the smallest possible upgrade.
    int64_t smallest = std::numeric_limits<int64_t>::max();
    for (const auto& l : t.layers)
        if (a.bpw.at(l.name) < 6) smallest = std::min(smallest, l.parameters());
    CHECK(a.budget_bits - a.used_bits < static_cast<uint64_t>(smallest));
}

GLQ_TEST(missing_rates_are_predicted_from_the_nearest_measurement) {
    LayerSensitivity l;
    l.name = "a";
    l.rows = l.cols = 8;
    l.set_loss(2, 1.0);
    CHECK_NEAR(predicted_loss(l, 4), 1.0 / 16, 1e-15);
    l.set_loss(5, 0.001);
    CHECK_NEAR(predicted_loss(l, 6), 0.001 / 4, 1e-15);
    CHECK_NEAR(predicted_loss(l, 3), 0.25, 1e-15);  // tie 2 vs (none at 4): lower first
}

GLQ_TEST(reports_the_budget_arithmetic_of_its_map) {
    std::mt19937 rng(11);
    const SensitivityTable t = random_table(rng, 9, 2, 8);
    AllocationRequest r;
    r.target_bpw = 3.3;
    const Allocation a = allocate_bpw(t, r);
    const BudgetSummary s = summarize_budget(t, a.bpw);
    CHECK_EQ(a.average_bpw, s.average_bpw);
    CHECK_EQ(a.total_loss, s.predicted_loss);
    CHECK_EQ(s.layers_without_loss, 0);
    CHECK_NEAR(a.average_bpw, static_cast<double>(a.used_bits) / static_cast<double>(s.parameters), 1e-12);
}

GLQ_TEST(bad_requests_are_refused) {
    std::mt19937 rng(3);
    const SensitivityTable t = random_table(rng, 3, 2, 8);
    AllocationRequest r;
    r.target_bpw = 9;
    CHECK_THROWS_WITH(allocate_bpw(t, r), "target bpw: target 9 must lie within [min, max] = [2, 8]");
    r.target_bpw = 3;
    r.min_bpw = 4;
    r.max_bpw = 6;
    CHECK_THROWS_WITH(allocate_bpw(t, r), "target bpw: target 3");
    r.min_bpw = 1;
    CHECK_THROWS_WITH(allocate_bpw(t, r), "min bpw: must be an integer in 2..8");
    r.min_bpw = 6;
    r.max_bpw = 4;
    CHECK_THROWS_WITH(allocate_bpw(t, r), "above max");
    CHECK_THROWS_WITH(allocate_bpw(SensitivityTable{}, AllocationRequest{}), "has no layers");
    SensitivityTable empty_layer;
    empty_layer.layers.emplace_back();
    empty_layer.layers.back().name = "model.layers.0.mlp.up_proj";
    empty_layer.layers.back().rows = empty_layer.layers.back().cols = 8;
    CHECK_THROWS_WITH(allocate_bpw(empty_layer, AllocationRequest{}), "model.layers.0.mlp.up_proj: has no measured proxy loss");
}

// The policy both front ends share: a layer without any measurement is an
// error naming it and counting the others, never silently kept at the minimum.
GLQ_TEST(unmeasured_layers_are_an_error_that_counts_them) {
    std::mt19937 rng(5);
    SensitivityTable t = random_table(rng, 4, 2, 8);
    for (int i : {1, 3}) {
        LayerSensitivity& l = t.layers[static_cast<size_t>(i)];
        l = LayerSensitivity{};
        l.name = "model.layers." + std::to_string(i) + ".mlp.down_proj";
        l.rows = l.cols = 64;
    }
    AllocationRequest r;
    r.target_bpw = 4;
    CHECK_THROWS_WITH(allocate_bpw(t, r), "model.layers.1.mlp.down_proj: has no measured proxy loss");
    CHECK_THROWS_WITH(allocate_bpw(t, r), "(nor have 1 more of its 4 layers)");
    // One measured rate is enough: the others are predicted.
    t.layers[1].set_loss(2, 0.5);
    t.layers[3].set_loss(8, 1e-4);
    const Allocation a = allocate_bpw(t, r);
    CHECK_EQ(a.bpw.size(), 4u);
}
