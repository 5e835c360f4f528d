#pragma once
// --device / --dtype, shared by the commands that load a model for inference
// (generate, ppl): CPU by default, and the natural dtype of the device
// (f32 on the CPU, bf16 on CUDA) unless --dtype says otherwise.

#include "app/cli/command.h"
#include "core/model/transformer.h"

namespace glq::cli {

void add_engine_options(ArgParser& args);
model::LoadOptions engine_load_options(const ArgParser& args);

} // namespace glq::cli
