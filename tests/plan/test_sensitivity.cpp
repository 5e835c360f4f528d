// The sensitivity table's JSON form.

#include <cmath>
#include <fstream>

#include "core/plan/allocator.h"
#include "core/plan/sensitivity.h"
#include "tests/support/test.h"

using namespace glq::plan;

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
    // Recorded without relative errors: none written, none read back.
    CHECK(!t.has_relative_errors());
    CHECK(!back.has_relative_errors());
    CHECK(std::isnan(q->relative_error_at(2)));
    CHECK(t.to_json_text().find("relative_error") == std::string::npos);
}

GLQ_TEST(relative_errors_round_trip_beside_the_losses) {
    SensitivityTable t;
    t.record("model.layers.0.self_attn.q_proj", 576, 576, 2, 0.5, 0.0625);
    t.record("model.layers.0.self_attn.q_proj", 576, 576, 3, 0.125, 0.015625);
    t.record("model.layers.0.self_attn.q_proj", 576, 576, 4, 0.03);  // this rate without one
    t.record("model.layers.0.mlp.down_proj", 576, 1536, 2, 2.0);     // this layer without any
    CHECK(t.has_relative_errors());
    const std::string text = t.to_json_text();
    CHECK(text.find("\"version\": 2") != std::string::npos);
    const auto path = glq::test::temp_dir() / "sensitivity_rel.json";
    t.save(path);
    const SensitivityTable back = SensitivityTable::load(path);
    const LayerSensitivity* q = back.find("model.layers.0.self_attn.q_proj");
    CHECK(q != nullptr);
    CHECK_EQ(q->loss(2), 0.5);
    CHECK_EQ(q->relative_error_at(2), 0.0625);
    CHECK_EQ(q->relative_error_at(3), 0.015625);
    CHECK(q->measured(4));
    CHECK(!q->has_relative_error(4));
    CHECK(std::isnan(q->relative_error_at(4)));
    CHECK(std::isnan(q->relative_error_at(9)));  // outside 2..8: absent, not a crash
    const LayerSensitivity* d = back.find("model.layers.0.mlp.down_proj");
    CHECK(d != nullptr);
    CHECK_EQ(d->loss(2), 2.0);
    CHECK(!d->has_relative_error(2));
    // Only layers that have one carry the key: down_proj's entry has none.
    CHECK_EQ(text.find("relative_error"), text.rfind("relative_error"));
}

GLQ_TEST(re_recording_a_rate_replaces_its_relative_error) {
    SensitivityTable t;
    t.record("a", 8, 8, 2, 0.5, 0.1);
    t.record("a", 8, 8, 2, 0.4, 0.08);
    CHECK_EQ(t.layers[0].relative_error_at(2), 0.08);
    // A new loss without a relative error must not keep the old one.
    t.record("a", 8, 8, 2, 0.3);
    CHECK_EQ(t.layers[0].loss(2), 0.3);
    CHECK(!t.layers[0].has_relative_error(2));
    CHECK_THROWS_WITH(t.record("a", 8, 8, 3, 0.1, -0.5), "relative error at 3 bpw must be a finite number >= 0");
    CHECK_THROWS_WITH(t.record("a", 8, 8, 3, 0.1, INFINITY), "finite number >= 0");
    CHECK(!t.layers[0].measured(3));  // the refused record left nothing behind
}

GLQ_TEST(version_1_files_read_without_relative_errors) {
    // Written by the builds before relative errors (and by
    // tests/ui/data/make_sample_sensitivity.py).
    const auto path = glq::test::temp_dir() / "sensitivity_v1.json";
    std::ofstream(path) << R"({"format": "glq-sensitivity", "version": 1, "model": "m",
        "layers": [{"name": "model.layers.0.mlp.up_proj", "rows": 1536, "cols": 576,
                    "proxy_loss": {"2": 0.25, "8": 1e-6}}]})";
    const SensitivityTable t = SensitivityTable::load(path);
    CHECK_EQ(t.model, "m");
    CHECK_EQ(t.layers.size(), 1u);
    CHECK_EQ(t.layers[0].loss(2), 0.25);
    CHECK_EQ(t.layers[0].loss(8), 1e-6);
    CHECK(!t.has_relative_errors());
    for (int b = kSensitivityMinBpw; b <= kSensitivityMaxBpw; ++b) CHECK(std::isnan(t.layers[0].relative_error_at(b)));
    // Saved again it becomes version 2, with the same losses.
    const SensitivityTable again = SensitivityTable::from_json_text(t.to_json_text(), "again");
    CHECK_EQ(again.layers[0].loss(2), 0.25);
    CHECK(!again.has_relative_errors());
}

GLQ_TEST(the_codebook_is_recorded_and_read_back) {
    SensitivityTable t;
    t.model = "m";
    t.record("model.layers.0.mlp.up_proj", 64, 32, 2, 0.5);
    CHECK_EQ(t.codebook, "e8_shell");  // the default, and what a file without the key means
    t.codebook = "trellis";
    const SensitivityTable back = SensitivityTable::from_json_text(t.to_json_text(), "t.json");
    CHECK_EQ(back.codebook, "trellis");
    const std::string no_key = R"({"format": "glq-sensitivity", "version": 2,
        "layers": [{"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 0.5}}]})";
    CHECK_EQ(SensitivityTable::from_json_text(no_key, "old.json").codebook, "e8_shell");
    const std::string bad = R"({"format": "glq-sensitivity", "version": 2, "codebook": 3,
        "layers": [{"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 0.5}}]})";
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(bad, "bad.json"), "bad.json: \"codebook\" must be a codebook name");
}

GLQ_TEST(the_allocator_ignores_relative_errors) {
    // Relative errors that rank the layers the other way round from their
    // losses: the allocation must follow the losses alone.
    SensitivityTable plain, with_rel;
    for (int b = 2; b <= 4; ++b) {
        const double f = std::pow(4.0, -(b - 2));
        plain.record("big_loss", 64, 64, b, 10.0 * f);
        plain.record("small_loss", 64, 64, b, 0.1 * f);
        with_rel.record("big_loss", 64, 64, b, 10.0 * f, 0.001 * f);
        with_rel.record("small_loss", 64, 64, b, 0.1 * f, 0.5 * f);
    }
    const AllocationRequest req{3.0, 2, 4};
    const Allocation a = allocate_bpw(plain, req), r = allocate_bpw(with_rel, req);
    CHECK_EQ(a.bpw.at("big_loss"), 4);
    CHECK_EQ(a.bpw.at("small_loss"), 2);
    CHECK(a.bpw == r.bpw);
    CHECK_EQ(a.total_loss, r.total_loss);
}

GLQ_TEST(bad_tables_are_refused_with_the_reason) {
    const std::string w = "sens.json";
    CHECK_THROWS_WITH(SensitivityTable::from_json_text("{", w), "sens.json: not valid JSON");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(R"({"format": "x", "version": 1})", w), "\"format\" must be");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(R"({"format": "glq-sensitivity", "version": 3, "layers": []})", w),
                      "reads versions 1 and 2");
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
    const std::string head2 = R"({"format": "glq-sensitivity", "version": 2, "layers": [)";
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(
                          head2 + R"({"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}, "relative_error": 0.5}]})", w),
                      "\"relative_error\" must map bpw");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(head2 + R"({"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 1},
                                                                   "relative_error": {"2": -0.1}}]})", w),
                      "relative error at 2 bpw must be a finite number >= 0");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(head2 + R"({"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 1},
                                                                   "relative_error": {"3": 0.1}}]})", w),
                      "relative error at 3 bpw has no proxy loss at that rate");
    CHECK_THROWS_WITH(SensitivityTable::from_json_text(head2 + R"({"name": "a", "rows": 8, "cols": 8, "proxy_loss": {"2": 1},
                                                                   "relative_error": {"x": 0.1}}]})", w),
                      "bpw \"x\" is not an integer in 2..8");
}

GLQ_TEST(rate_summary_gives_medians_and_the_worst_relative_error) {
    SensitivityTable t;
    t.record("a", 8, 8, 2, 1.0, 0.10);
    t.record("b", 8, 8, 2, 3.0, 0.40);
    t.record("c", 8, 8, 2, 2.0, 0.20);
    t.record("d", 8, 8, 2, 4.0);  // no relative error: counts for the loss only
    t.record("a", 8, 8, 4, 0.5);
    const std::vector<RateSummary> s = t.summarize_rates();
    CHECK_EQ(s.size(), 2u);  // 2 and 4 bpw; the unmeasured rates are left out
    CHECK_EQ(s[0].bpw, 2);
    CHECK_EQ(s[0].layers, 4u);
    CHECK_EQ(s[0].median_proxy_loss, 2.5);  // (2 + 3) / 2
    CHECK_EQ(s[0].with_relative_error, 3u);
    CHECK_EQ(s[0].median_relative_error, 0.20);
    CHECK_EQ(s[0].max_relative_error, 0.40);
    CHECK_EQ(s[0].max_relative_error_layer, "b");
    CHECK_EQ(s[1].bpw, 4);
    CHECK_EQ(s[1].layers, 1u);
    CHECK_EQ(s[1].median_proxy_loss, 0.5);
    CHECK_EQ(s[1].with_relative_error, 0u);
    CHECK(std::isnan(s[1].median_relative_error));
    CHECK(s[1].max_relative_error_layer.empty());
}
