#pragma once
// Dequantization of ggml tensor data to float32, bit for bit equal to the
// `gguf` Python package's gguf.quants.dequantize (the reference the tests
// compare against): fp16 scales are widened to f32 first, then the same
// multiplies and adds in the same order, each rounded to f32 (no FMA).

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/io/gguf.h"

namespace glq::io {

// F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K.
bool can_dequantize(GgmlType type);

// Bytes that `numel` elements of `type` occupy (numel must be a whole number of blocks).
uint64_t ggml_nbytes(GgmlType type, int64_t numel);

// Writes dst.size() floats decoded from src. Throws glq::Error when the type
// is not supported, dst is not a whole number of blocks, or src does not hold
// exactly their bytes.
void dequantize(GgmlType type, std::span<const std::byte> src, std::span<float> dst);

} // namespace glq::io
