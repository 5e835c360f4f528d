#pragma once
// The reference's E8 codebook as compiled-in data (generated file
// e8_codebook_table.cpp, written by tools/gen_e8_codebook.py). Row r packs its
// 8 coordinates as nibbles: coordinate t = ((word >> 4t) & 0xF) * 0.5 - 3.
// This is also the reference's packed kernel form (`_pack_codebook`).

#include <cstdint>

namespace glq::codebook::detail {

extern const uint32_t kE8CodebookPacked[65536];

// Coordinate t of a packed row, doubled (an integer in [-6, 6]).
constexpr int e8_packed_coord2(uint32_t word, int t) { return static_cast<int>((word >> (4 * t)) & 0xFu) - 6; }

} // namespace glq::codebook::detail
