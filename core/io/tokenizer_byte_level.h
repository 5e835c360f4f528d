#pragma once
// GPT-2's byte-level alphabet: every byte gets a printable code point
// (bytes_to_unicode), so any text becomes a string over 256 symbols.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace glq::io::byte_level {

// Appends the byte-level characters (UTF-8) for the bytes of `text`.
void encode(std::string_view text, std::string& out);
// Byte for one byte-level character, or nullopt when cp is not one.
std::optional<uint8_t> decode_char(char32_t cp);

} // namespace glq::io::byte_level
