#pragma once
// Import a llama-family GGUF file into an ordinary HF model directory:
// config.json, generation_config.json, tokenizer.json, tokenizer_config.json
// and model.safetensors (bf16 or f32), so that everything downstream (the
// engine, transformers, the quantizer) sees one kind of model.
//
// Weights are dequantized exactly as gguf-py does, renamed to HF names, and
// the Q/K row permutation that llama.cpp's converter applies for the llama
// architecture is undone. The whole directory is built under a temporary
// name and renamed into place at the end: a cancel or an error leaves nothing.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/common/progress.h"
#include "core/io/gguf.h"
#include "core/io/gguf_config.h"
#include "core/io/gguf_tokenizer.h"
#include "core/io/safetensors.h"

namespace glq::io {

struct GgufImportOptions {
    DType dtype = DType::BF16;           // BF16 or F32
    bool overwrite = false;              // replace an existing output directory
    ProgressFn progress;                 // stage "import": tensors done/total, then stage "write"
    const CancelToken* cancel = nullptr; // polled between tensors and before the final rename
};

struct GgufImportSummary {
    std::string architecture;  // GGUF general.architecture
    int64_t tensors = 0;       // tensors written to model.safetensors
    int64_t parameters = 0;    // elements written
    bool tied_embeddings = false;
};

// Throws glq::Error naming the GGUF (unsupported architecture, tensor type,
// tokenizer, missing or misshapen tensor...) or the output directory (exists
// without `overwrite`, cannot be written); glq::Cancelled when cancelled.
GgufImportSummary import_gguf(const std::filesystem::path& gguf_path, const std::filesystem::path& out_dir,
                              const GgufImportOptions& options = {});

// ---- The pieces, for tests and for tools that need only one of them -------

// HF name of a llama-architecture GGUF tensor ("blk.3.attn_q.weight" ->
// "model.layers.3.self_attn.q_proj.weight"); empty when it has none.
std::string hf_tensor_name(const std::string& gguf_name);

// Undo llama.cpp's `permute` of Q/K projection rows: inside each of the
// n_head heads, GGUF row 2*i + j holds HF row j*(head_dim/2) + i. `rows` =
// n_head * head_dim; `cols` = 1 for a bias.
void unpermute_qk_rows(std::vector<float>& data, int64_t rows, int64_t cols, int64_t n_head, const std::string& where);

} // namespace glq::io
