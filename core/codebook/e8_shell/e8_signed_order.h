#pragma once
// The inference order of the E8 shell codebook: a permutation of the
// reference's 65,536 indices chosen so that a kernel decodes a 16-bit code
// from a table less than half the codebook's size, small enough to sit in a
// GPU's shared memory (148 KB), with three integer operations.
//
// Why: a kernel that multiplies against the codes looks one row up per 8
// weights. Gathers from a table in L2 run at a few percent of memory
// bandwidth (the reference's kernel, 90-190 GB/s); from shared memory they
// run near the bank-conflict limit. The whole table (256 KB packed) does not
// fit in shared memory; half of it nearly does. Shells of norm² 0..10 are
// closed under negation (56,881 points: zero and 28,440 pairs ±p), the
// 8,655 points of shell 12 are not (none has its negation in the table).
//
// So the inference code c of a point is
//   c <  kPairs            +rep[c]
//   kPairs <= c < 2kPairs  -rep[c - kPairs]
//   c >= 2kPairs           rep[c - kPairs]   (zero and shell 12)
// and rep has kPairs + 8,656 = 37,096 rows. Rows are packed as the
// reference's kernels pack them: nibble t (bits 4t..4t+3) holds 2·v_t + 6, so
// negation is 0xCCCCCCCC - word (12 - nibble in every nibble, no borrows).
//
// The 8-bit stages index the first 256 rows of the reference's order; they
// are decoded from those rows directly (small_rows), not through this order.
// The order is data derived from the compiled-in table on first use.

#include <cstdint>
#include <vector>

namespace glq::codebook {

constexpr uint32_t kE8SignedPairs = 28440;       // ±p pairs in shells of norm² 2..10
constexpr uint32_t kE8SignedRepRows = 37096;     // pairs + zero + shell 12
constexpr uint32_t kE8NegateMask = 0xCCCCCCCCu;  // word of -p = kE8NegateMask - word of p

struct E8SignedOrder {
    std::vector<uint16_t> code_of;      // [65536]: reference index -> inference code
    std::vector<uint32_t> rep_rows;     // [kE8SignedRepRows] packed rows
    std::vector<uint32_t> small_rows;   // [256] packed rows of the reference's first 256
};

// Built once from the compiled-in table (thread-safe).
const E8SignedOrder& e8_signed_order();

// The packed row an inference code decodes to (what the kernels compute).
inline uint32_t e8_signed_decode(const E8SignedOrder& order, uint32_t code) {
    const uint32_t idx = code < kE8SignedPairs ? code : code - kE8SignedPairs;
    const uint32_t word = order.rep_rows[idx];
    return code - kE8SignedPairs < kE8SignedPairs ? kE8NegateMask - word : word;
}

} // namespace glq::codebook
