#pragma once
// config.json and generation_config.json for an imported GGUF, from its
// <arch>.* and tokenizer.ggml.* metadata (llama architecture).

#include <nlohmann/json.hpp>

#include "core/io/gguf.h"
#include "core/io/safetensors.h"

namespace glq::io {

// The GGUF architectures the importer knows (general.architecture).
bool gguf_architecture_supported(const std::string& arch);

// Throws glq::Error naming the GGUF for an unsupported architecture, missing
// or inconsistent hyper-parameters, or a RoPE variant HF cannot express from
// the metadata. `dtype` becomes torch_dtype.
nlohmann::json hf_config_from_gguf(const GgufFile& gguf, DType dtype);
nlohmann::json generation_config_from_gguf(const GgufFile& gguf);

// A float32 metadata value as the shortest decimal that reads back as the
// same float32 (1e-05, not 9.999999747378752e-06), as HF configs spell it.
double shortest_float32(double value);

} // namespace glq::io
