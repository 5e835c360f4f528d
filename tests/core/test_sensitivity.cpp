// The sensitivity table's JSON form.

#include "core/quant/sensitivity.h"
#include "tests/support/test.h"

using namespace glq::quant;

GLQ_TEST(round_trips_with_partial_measurements) {
    SensitivityTable t;
    t.model = "SmolLM2-135M-Instruct";
    t.record("model.layers.0.self_attn.q_proj", 576, 576, 2, 0.5);
    t.record("model.layers.0.self_attn.q_proj", 576, 576, 4, 0.03);
    t.record("model.layers.0.mlp.down_proj", 576, 1536, 3, 0.2);
    CHECK_THROWS_WITH(t.record("model.layers.0.mlp.down_proj", 576, 576, 2, 1.0), "differs from the recorded 576x1536");
    const auto path = glq::test::temp_dir() / "sensitivity.json";
    t.save(path);
    const SensitivityTable back = SensitivityTable::load(path);
    CHECK_EQ(back.model, t.model);
    CHECK_EQ(back.layers.size(), 2u);
    const LayerSensitivity* q = back.find("model.layers.0.self_attn.q_proj");
    CHECK(q != nullptr);
    CHECK_EQ(q->loss(2), 0.5);
    CHECK_EQ(q->loss(4), 0.03);
    CHECK(!q->measured(3));
    CHECK_EQ(q->parameters(), 576 * 576);
}

GLQ_TEST(bad_tables_are_refused_with_the_reason) {
    const std::string w = "sens.json";
    CHECK_THROWS_WITH(SensitivityTable::from_json_text("{", w), "sens.json: not valid JSON");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(R"({"format": "x", "version": 1})", w), "\"format\" must be");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(R"({"format": "glq-sensitivity", "version": 2, "layers": []})", w),
                      "version");
    const std::string head = R"({"format": "glq-sensitivity", "version": 1, "layers": [)";
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(head + R"({"rows": 8, "cols": 8}]})", w), "needs a \"name\"");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(head + R"({"name": "a", "rows": 0, "cols": 8, "proxy_loss": {"2": 1}}]})", w),
                      "\"rows\" must be a positive integer");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(head + R"({"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"9": 1}}]})", w),
                      "bpw \"9\" is not an integer in 2..8");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(head + R"({"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": -1}}]})", w),
                      "finite number >= 0");
    CHECK_THROWS_WITH(
        SensitivityTable::from_json_text(head + R"({"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}},
                                                   {"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}}]})", w),
        "listed twice");
}
