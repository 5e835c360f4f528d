#pragma once
// Model shapes used as fixed benchmark references, built in memory (no
// download): the engine's speed bar is stated for a Llama-3.2-1B-shaped model.

#include "core/io/hf_config.h"

namespace glq::eval {

// meta-llama/Llama-3.2-1B's config.json: hidden 2048, 16 layers, 32 heads,
// 8 kv heads (head_dim 64), intermediate 8192, vocab 128256, tied
// embeddings, RoPE theta 500000 with llama3 scaling (factor 32, low 1,
// high 4, original context 8192), context 131072, RMSNorm eps 1e-5.
io::ModelConfig llama_3_2_1b_config();
// meta-llama/Meta-Llama-3-8B's config.json: hidden 4096, 32 layers, 32 heads,
// 8 kv heads (head_dim 128), intermediate 14336, vocab 128256, untied
// embeddings, RoPE theta 500000 (no scaling), context 8192.
io::ModelConfig llama_3_8b_config();

} // namespace glq::eval
