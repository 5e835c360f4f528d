#include "core/io/tokenizer_byte_level.h"

#include <array>

#include "core/io/unicode.h"

namespace glq::io::byte_level {

namespace {

struct Tables {
    std::array<std::string, 256> byte_to_utf8;
    std::array<int16_t, 512> char_to_byte;  // all byte-level code points are < 512
};

const Tables& tables() {
    static const Tables t = [] {
        Tables t;
        t.char_to_byte.fill(-1);
        int extra = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
            unicode::append_utf8(t.byte_to_utf8[static_cast<std::size_t>(b)], cp);
            t.char_to_byte[cp] = static_cast<int16_t>(b);
        }
        return t;
    }();
    return t;
}

} // namespace

void encode(std::string_view text, std::string& out) {
    const Tables& t = tables();
    for (char c : text) out += t.byte_to_utf8[static_cast<unsigned char>(c)];
}

std::optional<uint8_t> decode_char(char32_t cp) {
    if (cp >= 512) return std::nullopt;
    const int16_t b = tables().char_to_byte[cp];
    if (b < 0) return std::nullopt;
    return static_cast<uint8_t>(b);
}

} // namespace glq::io::byte_level
