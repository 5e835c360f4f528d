// The one reader of "layer index" and "projection type" from a module name.

#include "core/plan/module_name.h"
#include "tests/support/test.h"

using namespace glq::plan;

GLQ_TEST(layer_index_of_hf_names) {
    CHECK_EQ(layer_index_of("model.layers.0.self_attn.q_proj").value_or(-1), 0);
    CHECK_EQ(layer_index_of("model.layers.12.mlp.up_proj").value_or(-1), 12);
    CHECK_EQ(layer_index_of("layers.7.mlp.down_proj").value_or(-1), 7);
    CHECK_EQ(layer_index_of("model.layers.3.mlp.down_proj.weight").value_or(-1), 3);
    CHECK_EQ(layer_index_of("model.layers.999999999.mlp.up_proj").value_or(-1), 999999999);
    CHECK(!layer_index_of("lm_head"));
    CHECK(!layer_index_of("model.embed_tokens"));
    CHECK(!layer_index_of("model.layers.x.self_attn.q_proj"));
    CHECK(!layer_index_of("model.layers.12"));        // the block itself, no module in it
    CHECK(!layer_index_of("model.layers.12abc.q_proj"));
    CHECK(!layer_index_of("model.layers..q_proj"));
    CHECK(!layer_index_of("model.xlayers.3.q_proj"));  // "layers" must be a whole component
    CHECK(!layer_index_of("model.layers.-1.q_proj"));
    // A 30-digit run is no block index (and no exception).
    CHECK(!layer_index_of("model.layers.123456789012345678901234567890.mlp.up_proj"));
    CHECK(!layer_index_of("model.layers.1234567890.mlp.up_proj"));
    CHECK(!layer_index_of(""));
}

GLQ_TEST(projection_of_hf_names) {
    CHECK(projection_of("model.layers.0.self_attn.q_proj") == Projection::Q);
    CHECK(projection_of("model.layers.0.self_attn.k_proj") == Projection::K);
    CHECK(projection_of("model.layers.0.self_attn.v_proj") == Projection::V);
    CHECK(projection_of("model.layers.0.self_attn.o_proj") == Projection::O);
    CHECK(projection_of("model.layers.0.mlp.gate_proj") == Projection::Gate);
    CHECK(projection_of("model.layers.0.mlp.up_proj") == Projection::Up);
    CHECK(projection_of("model.layers.0.mlp.down_proj.weight") == Projection::Down);
    CHECK(projection_of("down_proj") == Projection::Down);
    CHECK(projection_of("lm_head") == Projection::Other);
    CHECK(projection_of("model.layers.0.mlp.down_proj.bias") == Projection::Other);
    CHECK(projection_of("model.layers.0.mlp.xdown_proj") == Projection::Other);
    CHECK_EQ(std::string(projection_short_name(Projection::Gate)), std::string("gate"));
    CHECK_EQ(std::string(projection_short_name(Projection::Other)), std::string("other"));
    CHECK_EQ(std::string(projection_module_name(Projection::Up)), std::string("up_proj"));
}

GLQ_TEST(input_owner_shares_the_attention_and_mlp_inputs) {
    CHECK_EQ(input_owner("model.layers.3.self_attn.k_proj"), std::string("model.layers.3.self_attn.q_proj"));
    CHECK_EQ(input_owner("model.layers.3.self_attn.v_proj"), std::string("model.layers.3.self_attn.q_proj"));
    CHECK_EQ(input_owner("model.layers.3.mlp.up_proj"), std::string("model.layers.3.mlp.gate_proj"));
    for (const char* own : {"model.layers.3.self_attn.q_proj", "model.layers.3.self_attn.o_proj",
                            "model.layers.3.mlp.gate_proj", "model.layers.3.mlp.down_proj", "lm_head"})
        CHECK_EQ(input_owner(own), std::string(own));
}
