#pragma once
// HF tokenizer.json and tokenizer_config.json rebuilt from a GGUF's
// tokenizer.ggml.* metadata, so the imported model tokenizes as the original
// HF model did.
//
// tokenizer.ggml.model "gpt2" (byte-level BPE): vocab from tokens, merges as
// stored, CONTROL/USER_DEFINED/UNKNOWN tokens as added tokens, and the HF
// pre-tokenizer that corresponds to tokenizer.ggml.pre (llama.cpp's name for
// the pre-tokenizer regex; see supported_gguf_pre_tokenizers()).
// tokenizer.ggml.model "llama" (SentencePiece): BPE with byte fallback, merges
// derived from the scores as HF's SentencePiece converter does, the "▁"
// Prepend/Replace normalizer of HF's Llama tokenizers and the matching decoder.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/io/gguf.h"

namespace glq::io {

// Throws glq::Error naming the GGUF for an unsupported tokenizer model or
// pre-tokenizer, or inconsistent tokenizer metadata.
nlohmann::json tokenizer_json_from_gguf(const GgufFile& gguf);
nlohmann::json tokenizer_config_from_gguf(const GgufFile& gguf);

// The tokenizer.ggml.pre names the gpt2 model accepts, sorted.
std::vector<std::string> supported_gguf_pre_tokenizers();

} // namespace glq::io
