// The inference order of the E8 shell codebook (see e8_signed_order.h).

#include "core/codebook/e8_shell/e8_signed_order.h"

#include <string>
#include <unordered_map>

#include "core/codebook/e8_shell/e8_codebook.h"
#include "core/codebook/e8_shell/e8_codebook_table.h"
#include "core/common/error.h"

namespace glq::codebook {
namespace {

E8SignedOrder build() {
    const uint32_t* rows = detail::kE8CodebookPacked;
    constexpr uint32_t kZeroWord = 0x66666666u;  // 2·0 + 6 in every nibble
    std::unordered_map<uint32_t, uint32_t> index_of;
    index_of.reserve(kE8CodebookSize * 2);
    for (uint32_t i = 0; i < kE8CodebookSize; ++i) index_of.emplace(rows[i], i);

    E8SignedOrder o;
    o.code_of.assign(kE8CodebookSize, 0);
    o.rep_rows.reserve(kE8SignedRepRows);
    std::vector<bool> placed(kE8CodebookSize, false);
    std::vector<uint32_t> unpaired;  // reference indices, in reference order
    for (uint32_t i = 0; i < kE8CodebookSize; ++i) {
        if (placed[i]) continue;
        const auto neg = index_of.find(kE8NegateMask - rows[i]);
        if (rows[i] == kZeroWord || neg == index_of.end()) {
            unpaired.push_back(i);
            placed[i] = true;
            continue;
        }
        const uint32_t rep = static_cast<uint32_t>(o.rep_rows.size());
        o.rep_rows.push_back(rows[i]);
        o.code_of[i] = static_cast<uint16_t>(rep);
        o.code_of[neg->second] = static_cast<uint16_t>(rep + kE8SignedPairs);
        placed[i] = placed[neg->second] = true;
    }
    if (o.rep_rows.size() != kE8SignedPairs || o.rep_rows.size() + unpaired.size() != kE8SignedRepRows)
        throw Error("E8 signed order", "the codebook has " + std::to_string(o.rep_rows.size()) + " ±pairs and " +
                                           std::to_string(unpaired.size()) + " unpaired rows, expected " +
                                           std::to_string(kE8SignedPairs) + " and " +
                                           std::to_string(kE8SignedRepRows - kE8SignedPairs));
    for (uint32_t i : unpaired) {
        o.code_of[i] = static_cast<uint16_t>(o.rep_rows.size() + kE8SignedPairs);
        o.rep_rows.push_back(rows[i]);
    }
    o.small_rows.assign(rows, rows + kE8SmallCodebookSize);
    // The order is a bijection that decodes every index to its own row.
    std::vector<bool> used(kE8CodebookSize, false);
    for (uint32_t i = 0; i < kE8CodebookSize; ++i) {
        const uint16_t c = o.code_of[i];
        if (used[c] || e8_signed_decode(o, c) != rows[i])
            throw Error("E8 signed order", "inference code " + std::to_string(c) + " of index " + std::to_string(i) +
                                               " does not decode to its row");
        used[c] = true;
    }
    return o;
}

} // namespace

const E8SignedOrder& e8_signed_order() {
    static const E8SignedOrder order = build();
    return order;
}

} // namespace glq::codebook
