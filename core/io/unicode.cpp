// Lookups over the generated tables in unicode_tables.cpp; NFC by the
// standard algorithm (full canonical decomposition, canonical ordering,
// canonical composition, Hangul done arithmetically).

#include "core/io/unicode.h"

#include <algorithm>
#include <array>
#include <memory>

#include "core/io/unicode_tables.h"

namespace glq::io::unicode {

namespace ud = unicode_data;

namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kReplacement = 0xFFFD;

// One byte per code point (1.1 MB), built once from the ranges: the
// pre-tokenizers ask for a category per character, so this must be O(1).
const std::vector<uint8_t>& category_table() {
    static const std::vector<uint8_t> table = [] {
        std::vector<uint8_t> t(kMaxCodePoint + 1, ud::Cn);
        for (std::size_t i = 0; i < ud::kCategoryRangeCount; ++i) {
            const char32_t first = ud::kCategoryRanges[i].first;
            const char32_t end = i + 1 < ud::kCategoryRangeCount ? ud::kCategoryRanges[i + 1].first
                                                                 : kMaxCodePoint + 1;
            std::fill(t.begin() + first, t.begin() + end, ud::kCategoryRanges[i].category);
        }
        return t;
    }();
    return table;
}

constexpr uint8_t class_of_category(uint8_t c) {
    switch (c) {
    case ud::Lu: case ud::Ll: case ud::Lt: case ud::Lm: case ud::Lo: return kLetter;
    case ud::Mn: case ud::Mc: case ud::Me: return kMark;
    case ud::Nd: case ud::Nl: case ud::No: return kNumber;
    case ud::Pc: case ud::Pd: case ud::Ps: case ud::Pe: case ud::Pi: case ud::Pf: case ud::Po:
        return kPunctuation;
    case ud::Sm: case ud::Sc: case ud::Sk: case ud::So: return kSymbol;
    case ud::Zs: case ud::Zl: case ud::Zp: return kSeparator;
    default: return kOther;
    }
}

// Hangul syllable arithmetic (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
              kSCount = kLCount * kNCount;

void decompose_into(char32_t cp, std::u32string& out) {
    if (cp >= kSBase && cp < kSBase + kSCount) {
        const int s = static_cast<int>(cp - kSBase);
        out.push_back(kLBase + s / kNCount);
        out.push_back(kVBase + (s % kNCount) / kTCount);
        if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
        return;
    }
    const ud::Decomposition* begin = ud::kDecompositions;
    const ud::Decomposition* end = ud::kDecompositions + ud::kDecompositionCount;
    const auto* it = std::lower_bound(begin, end, cp,
                                      [](const ud::Decomposition& d, char32_t c) { return d.cp < c; });
    if (it != end && it->cp == cp) {
        out.append(ud::kDecompositionPool + it->offset, it->length);
    } else {
        out.push_back(cp);
    }
}

char32_t compose_pair(char32_t a, char32_t b) {
    if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
        return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
    if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
        b < kTBase + kTCount)
        return a + (b - kTBase);
    const ud::Composition* begin = ud::kCompositions;
    const ud::Composition* end = ud::kCompositions + ud::kCompositionCount;
    const auto* it = std::lower_bound(begin, end, std::pair{a, b}, [](const ud::Composition& c, auto key) {
        return c.first < key.first || (c.first == key.first && c.second < key.second);
    });
    if (it != end && it->first == a && it->second == b) return it->composite;
    return 0;
}

} // namespace

uint8_t general_category(char32_t cp) {
    return cp <= kMaxCodePoint ? category_table()[cp] : static_cast<uint8_t>(ud::Cn);
}
uint8_t char_class(char32_t cp) { return class_of_category(general_category(cp)); }

bool is_whitespace(char32_t cp) {
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}
bool is_letter(char32_t cp) { return char_class(cp) == kLetter; }
bool is_number(char32_t cp) { return char_class(cp) == kNumber; }
bool is_alphanumeric(char32_t cp) { return (char_class(cp) & (kLetter | kNumber)) != 0; }
bool is_punctuation(char32_t cp) {
    if (cp < 0x80) return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) ||
                          (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E);
    return char_class(cp) == kPunctuation;
}
bool is_word_char(char32_t cp) {
    const uint8_t c = general_category(cp);
    return (class_of_category(c) & (kLetter | kMark)) != 0 || c == ud::Nd || c == ud::Pc;
}

uint8_t combining_class(char32_t cp) {
    const ud::CombiningRange* begin = ud::kCombiningRanges;
    const ud::CombiningRange* end = ud::kCombiningRanges + ud::kCombiningRangeCount;
    const auto* it = std::upper_bound(begin, end, cp,
                                      [](char32_t c, const ud::CombiningRange& r) { return c < r.first; });
    if (it == begin) return 0;
    --it;
    return cp <= it->last ? it->ccc : 0;
}

const char* category_unicode_version() { return ud::kCategoryUnicodeVersion; }
const char* normalization_unicode_version() { return ud::kNormalizationUnicodeVersion; }

int utf8_length(unsigned char b) {
    if (b < 0x80) return 1;
    if ((b & 0xE0) == 0xC0) return 2;
    if ((b & 0xF0) == 0xE0) return 3;
    if ((b & 0xF8) == 0xF0) return 4;
    return 1;
}

namespace {
// Length of the valid UTF-8 sequence at s[i], or of its maximal invalid
// subpart as a negative number (Unicode §3.9, "U+FFFD substitution of maximal
// subparts", which Rust's from_utf8_lossy follows).
int scan_utf8(std::string_view s, std::size_t i, char32_t& cp) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 1;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 2;
        cp = b0 & 0x0F;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 3;
        cp = b0 & 0x07;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (int k = 1; k <= need; ++k) {
        if (i + k >= s.size()) return -k;
        const auto b = static_cast<unsigned char>(s[i + k]);
        if (b < lo || b > hi) return -k;
        lo = 0x80;
        hi = 0xBF;
        cp = (cp << 6) | (b & 0x3F);
    }
    return need + 1;
}
} // namespace

char32_t next_code_point(std::string_view s, std::size_t& i) {
    char32_t cp = 0;
    const int n = scan_utf8(s, i, cp);
    if (n < 0) {
        i += 1;
        return kReplacement;
    }
    i += static_cast<std::size_t>(n);
    return cp;
}

std::u32string to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) out.push_back(next_code_point(s, i));
    return out;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

std::string to_utf8(std::u32string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : s) append_utf8(out, cp);
    return out;
}

std::string utf8_lossy(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size();) {
        char32_t cp = 0;
        const int n = scan_utf8(bytes, i, cp);
        if (n > 0) {
            out.append(bytes.substr(i, static_cast<std::size_t>(n)));
            i += static_cast<std::size_t>(n);
        } else {
            append_utf8(out, kReplacement);
            i += static_cast<std::size_t>(-n);
        }
    }
    return out;
}

std::string nfc(std::string_view s) {
    // Fast path: ASCII is always in NFC.
    if (std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
        return std::string(s);
    std::u32string d;
    d.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) decompose_into(next_code_point(s, i), d);
    // Canonical ordering: stable sort of each run of non-starters by class.
    for (std::size_t i = 0; i < d.size();) {
        if (combining_class(d[i]) == 0) {
            ++i;
            continue;
        }
        std::size_t j = i;
        while (j < d.size() && combining_class(d[j]) != 0) ++j;
        std::stable_sort(d.begin() + static_cast<std::ptrdiff_t>(i), d.begin() + static_cast<std::ptrdiff_t>(j),
                         [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
        i = j;
    }
    // Canonical composition.
    std::u32string out;
    out.reserve(d.size());
    std::size_t starter = std::u32string::npos;  // index in out of the last starter
    int last_ccc = -1;
    for (char32_t cp : d) {
        const int ccc = combining_class(cp);
        if (starter != std::u32string::npos) {
            const bool blocked = last_ccc != -1 && (last_ccc == 0 || last_ccc >= ccc);
            if (!blocked) {
                if (char32_t c = compose_pair(out[starter], cp)) {
                    out[starter] = c;
                    continue;
                }
            }
        }
        if (ccc == 0) {
            starter = out.size();
            last_ccc = -1;
        } else {
            last_ccc = ccc;
        }
        out.push_back(cp);
    }
    return to_utf8(out);
}

std::string lowercase(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            out.push_back(static_cast<char>(b >= 'A' && b <= 'Z' ? b + 32 : b));
            ++i;
            continue;
        }
        const char32_t cp = next_code_point(s, i);
        const ud::LowercaseMapping* begin = ud::kLowercase;
        const ud::LowercaseMapping* end = ud::kLowercase + ud::kLowercaseCount;
        const auto* it = std::lower_bound(begin, end, cp,
                                          [](const ud::LowercaseMapping& m, char32_t c) { return m.cp < c; });
        if (it != end && it->cp == cp) {
            append_utf8(out, it->lower);
            if (it->second) append_utf8(out, it->second);
        } else {
            append_utf8(out, cp);
        }
    }
    return out;
}

} // namespace glq::io::unicode
