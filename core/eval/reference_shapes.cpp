#include "core/eval/reference_shapes.h"

namespace glq::eval {

io::ModelConfig llama_3_2_1b_config() {
    io::ModelConfig c;
    c.model_type = "llama";
    c.architecture = "LlamaForCausalLM";
    c.vocab_size = 128256;
    c.hidden_size = 2048;
    c.intermediate_size = 8192;
    c.num_hidden_layers = 16;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 8;
    c.head_dim = 64;
    c.max_position_embeddings = 131072;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 500000.0;
    c.rope_scaling.type = "llama3";
    c.rope_scaling.factor = 32.0;
    c.rope_scaling.low_freq_factor = 1.0;
    c.rope_scaling.high_freq_factor = 4.0;
    c.rope_scaling.original_max_position_embeddings = 8192;
    c.tie_word_embeddings = true;
    c.use_rope.assign(16, true);
    c.torch_dtype = "bfloat16";
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001, 128008, 128009};
    return c;
}

io::ModelConfig llama_3_8b_config() {
    io::ModelConfig c;
    c.model_type = "llama";
    c.architecture = "LlamaForCausalLM";
    c.vocab_size = 128256;
    c.hidden_size = 4096;
    c.intermediate_size = 14336;
    c.num_hidden_layers = 32;
    c.num_attention_heads = 32;
    c.num_key_value_heads = 8;
    c.head_dim = 128;
    c.max_position_embeddings = 8192;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 500000.0;
    c.tie_word_embeddings = false;
    c.use_rope.assign(32, true);
    c.torch_dtype = "bfloat16";
    c.bos_token_id = 128000;
    c.eos_token_ids = {128001, 128009};
    return c;
}

} // namespace glq::eval
