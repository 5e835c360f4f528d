// The budget arithmetic of a bpw map (core/plan/budget.h): stored size,
// predicted loss and relative error, and the summary the GUI's read-out and
// `glqw allocate` share. Every expected number is worked out by hand.

#include <cmath>

#include "core/plan/budget.h"
#include "tests/support/test.h"

using namespace glq::plan;

namespace {

// A: 8x16 = 128 params, measured at 2, 3, 4 bpw.
// B: 4x12 = 48 params (padded to 4x16 = 64), measured at 2 bpw only.
// C: 2x8 = 16 params, nothing measured.
std::vector<LayerSensitivity> three_layers() {
    LayerSensitivity a, b, c;
    a.name = "model.layers.0.self_attn.q_proj", a.rows = 8, a.cols = 16;
    a.set_loss(2, 1.0), a.set_loss(3, 0.3), a.set_loss(4, 0.1);
    b.name = "model.layers.0.mlp.down_proj", b.rows = 4, b.cols = 12;
    b.set_loss(2, 0.8);
    c.name = "model.layers.1.mlp.down_proj", c.rows = 2, c.cols = 8;
    return {a, b, c};
}

} // namespace

GLQ_TEST(stored_bytes) {
    // 8x16 at 4 bpw: 128*4 bits = 64 B of indices + SU/SV 2*(8+16) = 48 B
    // + Wscale and one inverse residual scale = 8 B.
    CHECK_EQ(layer_stored_bytes(8, 16, 4), 120u);
    // 4x12 at 3 bpw: padded to 4x16 -> 64*3 bits = 24 B + 2*(4+12) + 2*4 = 64 B.
    CHECK_EQ(layer_stored_bytes(4, 12, 3), 64u);
    // 2x8 at 2 bpw: 32 bits = 4 B + 2*10 + 4 = 28 B.
    CHECK_EQ(layer_stored_bytes(2, 8, 2), 28u);
    CHECK_EQ(stage_count(2), 1);
    CHECK_EQ(stage_count(3), 2);
    CHECK_EQ(stage_count(8), 4);
    CHECK_EQ(padded_weights(4, 12), 64);
    // A large layer: 576x576 at 2 bpw is 82,944 B of indices.
    CHECK_EQ(layer_stored_bytes(576, 576, 2), uint64_t(576 * 576 / 4 + 2 * 1152 + 4));
}

GLQ_TEST(predicted_loss_from_the_nearest_measurement) {
    const auto l = three_layers();
    CHECK_EQ(predicted_loss(l[0], 3), 0.3);        // measured
    CHECK_EQ(predicted_loss(l[0], 6), 0.1 / 16);   // from 4 bpw, 4^-2
    CHECK_EQ(predicted_loss(l[1], 4), 0.8 / 16);   // from 2 bpw, 4^-2
    CHECK(std::isnan(predicted_loss(l[2], 4)));     // nothing measured
    CHECK(std::isnan(predicted_loss(l[0], 9)));     // no such rate
}

GLQ_TEST(predicted_relative_error_from_the_signal) {
    // A: loss 0.5 at 2 with relative error 0.1 -> signal 5; loss 0.125 at 3, 0.025.
    // B: loss 2 at 2 with relative error 1 -> signal 2.
    LayerSensitivity a, b;
    a.name = "model.layers.0.self_attn.q_proj", a.rows = 8, a.cols = 8;
    a.set_loss(2, 0.5), a.set_relative_error(2, 0.1), a.set_loss(3, 0.125), a.set_relative_error(3, 0.025);
    b.name = "model.layers.0.self_attn.k_proj", b.rows = 8, b.cols = 8;
    b.set_loss(2, 2.0), b.set_relative_error(2, 1.0);
    CHECK_EQ(predicted_relative_error(a, 2), 0.1);      // recorded
    CHECK_EQ(predicted_relative_error(a, 3), 0.025);    // recorded
    CHECK_NEAR(predicted_relative_error(a, 4), 0.00625, 1e-17);  // 0.125/4 / 5
    CHECK_NEAR(predicted_relative_error(b, 4), 0.0625, 1e-17);   // 2/16 / 2
    CHECK(std::isnan(predicted_relative_error(a, 9)));
    LayerSensitivity none = a;
    none.relative_error.fill(std::nan(""));
    CHECK(std::isnan(predicted_relative_error(none, 2)));  // none recorded
    // A zero relative error (an all-zero matrix) gives no tr(W H Wᵀ):
    // nothing is predicted from it, the recorded zero still shows.
    LayerSensitivity z;
    z.name = "model.layers.0.self_attn.v_proj", z.rows = 8, z.cols = 8;
    z.set_loss(2, 0.0), z.set_relative_error(2, 0.0), z.set_loss(3, 0.0);
    CHECK_EQ(predicted_relative_error(z, 2), 0.0);
    CHECK(std::isnan(predicted_relative_error(z, 3)));
}

GLQ_TEST(summary_of_a_map) {
    const auto layers = three_layers();
    const BudgetSummary s = summarize_budget(layers, {4, 3, 2});
    // (128*4 + 48*3 + 16*2) / 192 = 688 / 192
    CHECK_EQ(s.average_bpw, 688.0 / 192.0);
    CHECK_EQ(s.parameters, 192);
    CHECK_EQ(s.layers, 3);
    CHECK_EQ(s.stored_bytes, uint64_t(120 + 64 + 28));
    CHECK_EQ(s.original_bytes_bf16, 384u);
    // A@4 measured 0.1 + B@3 predicted 0.8/4 = 0.2; C has no loss.
    CHECK_NEAR(s.predicted_loss, 0.3, 1e-15);
    CHECK_EQ(s.layers_without_loss, 1);

    // By name, the same numbers; a layer the map lacks is an error.
    SensitivityTable t;
    t.layers = layers;
    const BudgetSummary by_name = summarize_budget(
        t, {{layers[0].name, 4}, {layers[1].name, 3}, {layers[2].name, 2}});
    CHECK_EQ(by_name.average_bpw, s.average_bpw);
    CHECK_EQ(by_name.predicted_loss, s.predicted_loss);
    CHECK_THROWS_WITH(summarize_budget(t, {{layers[0].name, 4}}), "model.layers.0.mlp.down_proj: has no rate");
    CHECK_THROWS_WITH(summarize_budget(layers, {4}), "1 rates for 3 layers");
}
