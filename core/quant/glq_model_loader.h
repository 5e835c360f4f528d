#pragma once
// Loads a GLQ e8_shell checkpoint folder (ours or the reference's) into the
// engine's Transformer: unquantized tensors as the dense loader reads them,
// every quantized linear as a GlqLinear (decoded once at load, computing in
// the RHT domain), so generation and perplexity run on the quantized model.
//
// How: model::Transformer::load reads dense folders only and has no hook for
// other linears yet, so this builds a private dense stand-in folder (a
// temporary sibling of the system temp dir: config.json without
// quantization_config, the unquantized tensors, and a float16 placeholder of
// each quantized weight — Ŵ itself, so the stand-in is a valid model), loads
// it, swaps every quantized prefix for its GlqLinear and removes the folder.
// Once the engine offers a linear factory in LoadOptions this becomes a
// direct load (see the lead's notes); the result is the same.

#include <filesystem>
#include <memory>

#include "core/model/transformer.h"

namespace glq::quant {

// Throws glq::Error naming the folder/file/tensor for anything that is not a
// readable e8_shell checkpoint (see read_glq_checkpoint) or disagrees with
// its config; glq::Cancelled when cancelled.
std::unique_ptr<model::Transformer> load_glq_model(const std::filesystem::path& dir,
                                                   const model::LoadOptions& options = {});

// A model folder either way: GLQ checkpoints through load_glq_model, anything
// else through Transformer::load.
std::unique_ptr<model::Transformer> load_any_model(const std::filesystem::path& dir,
                                                   const model::LoadOptions& options = {});

} // namespace glq::quant
