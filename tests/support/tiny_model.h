#pragma once
// A tiny trained model that GLQ can quantize, for tests of every layer (core,
// session, ui): stories260K (shared/data/models) with its MLP widened from 172
// to 176 by zero rows of gate/up and zero columns of down, so that every
// dimension is a multiple of 8 and the function the model computes is
// unchanged. Plain C++ on glq_io (no LibTorch, no Qt), so Qt tests use it too.

#include <filesystem>

namespace glq::test {

// The stories260K folder under `shared_data` (as test.h's shared_data() or the
// GLQ_SHARED_DATA the ui tests read).
std::filesystem::path stories260k_dir(const std::filesystem::path& shared_data);

// Writes the widened model (model.safetensors in float32, config.json with
// intermediate_size 176, tokenizer files) into `dir` and returns `dir`.
std::filesystem::path make_padded_stories(const std::filesystem::path& shared_data, const std::filesystem::path& dir);

} // namespace glq::test
