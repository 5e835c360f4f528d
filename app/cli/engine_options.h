#pragma once
// --device / --dtype, shared by the commands that load a model for inference
// (generate, ppl): CPU by default, and the default dtype of the device (f32
// on the CPU, bf16 on CUDA: session::resolve_dtype, the rule the workbench
// uses too) unless --dtype says otherwise.

#include "app/cli/command.h"
#include "core/model/transformer.h"
#include "core/session/chat_session.h"

namespace glq::cli {

void add_engine_options(ArgParser& args);
// For the commands that run the engine directly (ppl).
model::LoadOptions engine_load_options(const ArgParser& args);
// For the commands that go through the chat session (generate).
session::LoadSettings engine_load_settings(const ArgParser& args);

} // namespace glq::cli
