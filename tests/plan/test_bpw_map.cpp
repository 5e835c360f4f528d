// bpw_allocation.json: the reference's flat map, with clear errors.

#include "core/common/atomic_file.h"
#include "core/plan/bpw_map.h"
#include "tests/support/test.h"

using namespace glq::plan;

namespace {
const std::vector<std::string> kLayers = {"model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj",
                                          "model.layers.1.mlp.down_proj"};
}

GLQ_TEST(reads_the_reference_form_with_default) {
    const BpwMap m = BpwMap::from_json_text(
        R"({"model.layers.0.self_attn.q_proj": 4, "model.layers.0.mlp.down_proj": 3.0, "default": 5})", "map.json");
    CHECK_EQ(m.bpw_for("model.layers.0.self_attn.q_proj"), 4);
    CHECK_EQ(m.bpw_for("model.layers.0.mlp.down_proj"), 3);
    CHECK_EQ(m.bpw_for("model.layers.1.mlp.down_proj"), 5);
    m.validate_layers(kLayers, "map.json");
    const auto full = m.resolve(kLayers);
    CHECK_EQ(full.size(), 3u);
    CHECK_EQ(full.at("model.layers.1.mlp.down_proj"), 5);
    // Without "default" the reference's fallback is 2.
    CHECK_EQ(BpwMap::from_json_text("{}", "x").bpw_for("anything"), 2);
}

GLQ_TEST(round_trips_through_a_file) {
    BpwMap m;
    m.layers = {{"model.layers.0.mlp.down_proj", 6}, {"model.layers.0.self_attn.q_proj", 2}};
    m.default_bpw = 3;
    const auto path = glq::test::temp_dir() / "bpw_allocation.json";
    m.save(path);
    const BpwMap back = BpwMap::load(path);
    CHECK(back.layers == m.layers);
    CHECK(back.default_bpw == m.default_bpw);
    CHECK(glq::test::contains(glq::read_file(path), "\"model.layers.0.mlp.down_proj\": 6"));
}

GLQ_TEST(errors_name_the_file_and_the_problem) {
    CHECK_THROWS_WITH(BpwMap::from_json_text("[1, 2]", "alloc.json"), "alloc.json: a bpw map must be a JSON object");
    CHECK_THROWS_WITH(BpwMap::from_json_text("{\"a\": 9}", "alloc.json"), "alloc.json: \"a\": bpw 9 is outside 2..8");
    CHECK_THROWS_WITH(BpwMap::from_json_text("{\"a\": 1}", "alloc.json"), "bpw 1 is outside 2..8");
    CHECK_THROWS_WITH(BpwMap::from_json_text("{\"a\": 3.5}", "alloc.json"), "bpw 3.5 is not an integer in 2..8");
    CHECK_THROWS_WITH(BpwMap::from_json_text("{\"a\": \"4\"}", "alloc.json"), "expected an integer bpw in 2..8");
    CHECK_THROWS_WITH(BpwMap::from_json_text("{\"default\": 12}", "alloc.json"), "\"default\": bpw 12");
    CHECK_THROWS_WITH(BpwMap::from_json_text("{nope", "alloc.json"), "alloc.json: not valid JSON");
    const BpwMap m = BpwMap::from_json_text(R"({"model.layers.7.mlp.down_proj": 4})", "alloc.json");
    CHECK_THROWS_WITH(m.validate_layers(kLayers, "alloc.json"),
                      "alloc.json: unknown layer 'model.layers.7.mlp.down_proj'");
    CHECK_THROWS_WITH(BpwMap::load(glq::test::temp_dir() / "missing.json"), "missing.json");
}
