#pragma once
// The small part of Unicode the tokenizer needs: UTF-8 coding, general
// categories (\p{L} \p{N} \p{P} ...), White_Space, NFC and lowercase. The data
// is compiled in (unicode_tables.cpp, generated from Python's unicodedata),
// so nothing is read at run time.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glq::io::unicode {

// Major general-category classes as bit flags, so a pattern can test
// "letter or number" in one AND.
enum Class : uint8_t {
    kLetter = 1 << 0,       // L*
    kMark = 1 << 1,         // M*
    kNumber = 1 << 2,       // N*
    kPunctuation = 1 << 3,  // P*
    kSymbol = 1 << 4,       // S*
    kSeparator = 1 << 5,    // Z*
    kOther = 1 << 6,        // C* (control, format, unassigned, private use, surrogate)
};

uint8_t char_class(char32_t cp);            // one of Class
uint8_t general_category(char32_t cp);      // unicode_data::Category
bool is_whitespace(char32_t cp);            // the White_Space property (regex \s)
bool is_letter(char32_t cp);
bool is_number(char32_t cp);
bool is_alphanumeric(char32_t cp);          // Rust's char::is_alphanumeric
bool is_punctuation(char32_t cp);           // P* or ASCII punctuation (HF's Punctuation)
bool is_word_char(char32_t cp);             // regex \w: letter, mark, Nd, Pc
uint8_t combining_class(char32_t cp);
const char* category_unicode_version();       // of general_category / char_class
const char* normalization_unicode_version();  // of nfc / lowercase / combining_class

// Decodes one code point at s[i] and advances i. A malformed sequence yields
// U+FFFD and advances by one byte (input from std::string may not be valid).
char32_t next_code_point(std::string_view s, std::size_t& i);
std::u32string to_u32(std::string_view s);
void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(std::u32string_view s);
// Bytes of the UTF-8 sequence that starts with lead byte b (1 for a stray byte).
int utf8_length(unsigned char b);
// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes U+FFFD.
std::string utf8_lossy(std::string_view bytes);

std::string nfc(std::string_view s);
std::string lowercase(std::string_view s);

} // namespace glq::io::unicode
