#pragma once
// Loads a GLQ e8_shell checkpoint folder (ours or the reference's) into the
// engine's Transformer: unquantized tensors as the dense loader reads them,
// every quantized linear as a CompressedShellLinear (it keeps the codes and
// multiplies against them), or, with LoadOptions::decode_on_load, as a
// DecodedGlqLinear (dequantised once at load: the reference path).
//
// How: the checkpoint is read once (read_glq_checkpoint) and handed to
// model::Transformer::load through LoadOptions::linear_factory, which builds
// each quantized projection from its codes while the dense loader reads the
// rest from the same folder. Nothing is written to disk.

#include <filesystem>
#include <memory>

#include "core/model/transformer.h"

namespace glq::format {

// Throws glq::Error naming the folder/file/tensor for anything that is not a
// readable e8_shell checkpoint (see read_glq_checkpoint) or disagrees with
// its config; glq::Cancelled when cancelled.
std::unique_ptr<model::Transformer> load_glq_model(const std::filesystem::path& dir,
                                                   const model::LoadOptions& options = {});

// A model folder either way: GLQ checkpoints through load_glq_model, anything
// else through Transformer::load.
std::unique_ptr<model::Transformer> load_any_model(const std::filesystem::path& dir,
                                                   const model::LoadOptions& options = {});

} // namespace glq::format
